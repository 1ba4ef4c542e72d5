"""Back-test: fit on the years before a hold-out year, forecast the rest, compare with naive forecasts."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from czsim.errors import CzsimError
from czsim.experiments.calibration.problem import Problem, least_squares_fit, parameter_estimates


@dataclass(frozen=True)
class Backtest:
    """Out-of-sample check: fit on observations before ``holdout_from``, forecast the rest.

    Attributes
    ----------
    holdout_from : int
        First held-out year.
    estimates : pandas.DataFrame
        The fit on the early observations (same columns as :attr:`CalibrationResult.estimates`).
    forecast : pandas.DataFrame
        One row per held-out observation: ``id, series, kind, year, observed, model,
        model_error, model_pct_error, naive, naive_method, naive_error, no_change,
        no_change_error``. ``naive`` is the average growth of the fitted years carried forward
        (or the series' observed previous growth); NaN with the reason in ``naive_method``
        where the fitted years do not define it. ``no_change`` is the last fitted value.
    notes : tuple of str
        Plain statements of what the data allow (shown in the CLI and the report).
    """

    holdout_from: int
    estimates: pd.DataFrame
    forecast: pd.DataFrame
    notes: tuple[str, ...]


# -------------------------------------------------------------------------------- backtest


def _naive(fitted: pd.DataFrame, row) -> tuple[float, str, float]:
    """Naive forecast, its method and the no-change forecast of one held-out row."""
    same = fitted[fitted["series"] == row.series].sort_values("year")
    if row.kind == "growth":
        if len(same):
            return float(same["value"].mean()), "mean fitted growth", math.nan
        return math.nan, "undefined: no fitted growth", math.nan
    if same.empty:
        return math.nan, "undefined: no fitted point", math.nan
    last_year, last = int(same["year"].iat[-1]), float(same["value"].iat[-1])
    steps = int(row.year) - last_year
    if len(same) >= 2:
        first_year, first = int(same["year"].iat[0]), float(same["value"].iat[0])
        g = (last / first) ** (1.0 / (last_year - first_year)) - 1.0
        return last * (1 + g) ** steps, "mean fitted growth", last
    growth = fitted[
        (fitted["variable"] == row.variable)
        & (fitted["kind"] == "growth")
        & (fitted["year"] <= last_year)
    ].sort_values("year")
    if len(growth):
        g = float(growth["value"].iat[-1])
        return last * (1 + g) ** steps, "observed previous growth", last
    return math.nan, "undefined: 1 fitted point, no growth", last


def run_backtest(
    problem: Problem, obs: pd.DataFrame, u0: np.ndarray, x0: np.ndarray, holdout_from: int
) -> Backtest:
    """Fit on the observations before ``holdout_from`` and forecast the held-out rest.

    ``u0`` is the scaled starting point and ``x0`` the same point in parameter units. The
    model's forecast of each held-out observation is compared with a naive forecast and a
    no-change forecast (see :class:`Backtest`).

    Raises
    ------
    CzsimError
        ``holdout_from`` leaves no observations to fit or none held out.
    """
    fit_rows = (obs["year"] < holdout_from).to_numpy()
    held = ~fit_rows
    if not fit_rows.any() or not held.any():
        raise CzsimError(
            f"holdout from {holdout_from} leaves "
            f"{'no observations to fit' if not fit_rows.any() else 'nothing held out'}"
            f" (observations cover {obs['year'].min()}-{obs['year'].max()})",
            key="holdout_from",
        )
    fit = least_squares_fit(problem, u0, fit_rows)
    pred = problem.predict(fit.u)[0]
    fitted = obs[fit_rows]
    rows = []
    for i in np.flatnonzero(held):
        r = obs.iloc[i]
        naive, method, no_change = _naive(fitted, r)
        lower = r.bound == "lower"

        def err(v: float, _r=r, _lower=lower) -> float:
            if math.isnan(v):
                return math.nan
            return 0.0 if (_lower and v >= _r.value) else v - _r.value

        pct = err(pred[i]) / abs(r.value) * 100 if r.value else math.nan
        rows.append(
            {
                "id": r.id,
                "series": r.series,
                "kind": r.kind,
                "year": int(r.year),
                "observed": r.value,
                "bound": r.bound,
                "model": pred[i],
                "model_error": err(pred[i]),
                "model_pct_error": pct,
                "naive": naive,
                "naive_method": method,
                "naive_error": err(naive),
                "no_change": no_change,
                "no_change_error": err(no_change),
            }
        )
    forecast = pd.DataFrame(rows)
    est = parameter_estimates(problem, fit, x0)
    moved = np.linalg.norm(problem.jacobian(fit.u, hinge=False)[fit_rows], axis=1) > 0
    notes = [
        f"Fitted on {int(fit_rows.sum())} observations before {holdout_from} "
        f"({int((~moved).sum())} of them model initial values that no parameter moves); "
        f"{int(held.sum())} held out."
    ]
    n_id = int(est["identified"].sum())
    notes.append(
        f"{n_id} of {len(est)} parameters are identified by the early data"
        + (
            ""
            if n_id == len(est)
            else f"; the others ({', '.join(est.loc[~est['identified'], 'parameter'])}) "
            "stay at the scenario's values"
        )
        + "."
    )
    n_naive = int(forecast["naive"].notna().sum())
    if n_naive < len(forecast):
        notes.append(
            f"The naive forecast (average growth of the fitted years) is defined for "
            f"{n_naive} of {len(forecast)} held-out observations: the others have fewer "
            "than two fitted years and no observed earlier growth. The no-change "
            "forecast (last fitted value) is shown where a series has a fitted point."
        )
    if n_id < len(est):
        notes.append(
            "Caveat: parameters the early data do not identify keep the scenario's "
            "values; where those were set by hand from the held-out figures (as the "
            "baseline's 2022 demand growths were), the back-test flatters the model."
        )
    return Backtest(holdout_from=holdout_from, estimates=est, forecast=forecast, notes=tuple(notes))
