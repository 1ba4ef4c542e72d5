""":func:`calibrate`: the whole calibration, and the trajectories the report draws."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from czsim import api, paths
from czsim.engines import model_info
from czsim.experiments.calibration.backtest import Backtest, run_backtest
from czsim.experiments.calibration.observations import COLUMNS, Operator, load_observations
from czsim.experiments.calibration.problem import (
    FD_STEP,
    Z95,
    Problem,
    least_squares_fit,
    parameter_estimates,
    resolve_parameters,
)
from czsim.experiments.calibration.scenario import calibrated_scenario
from czsim.experiments.calibration.stats import fit_statistics, residual_table
from czsim.parameters import load_parameters
from czsim.scenarios import Scenario, default_scenario


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`calibrate`.

    Attributes
    ----------
    estimates : pandas.DataFrame
        One row per parameter: ``parameter, value, stderr, low95, high95, initial, low, high,
        units, identified``. Intervals are ``value ± 1.96 stderr`` clipped to the bounds; an
        unidentified parameter keeps its initial value with NaN stderr and the full bounds.
    fit : pandas.DataFrame
        One row per series (variable, kind): ``n, years, mean_error, rmse, mape_pct,
        mape_pct_initial, theil_u, u_bias, u_variance, u_covariance`` (Theil statistics only
        where a series has at least 2 points; bounds count as satisfied points).
    residuals : pandas.DataFrame
        One row per observation: ``id, series, variable, kind, year, observed, bound, sigma,
        model, initial_model, error, pct_error, weighted`` (``error`` is zero for a satisfied
        lower bound).
    scenario : Scenario
        Self-contained scenario with the fitted values and their 95% intervals as uncertain
        ranges (other uncertain ranges inherited from the base scenario).
    n_runs : int
        Model runs used (fit, Jacobians and back-test).
    wall_time : float
        Seconds.
    backtest : Backtest or None
        Present when ``holdout_from`` was given.
    base : Scenario
        The uncalibrated scenario the fit started from.
    observations : pandas.DataFrame
        The validated observations (see :func:`load_observations`).
    covariance : pandas.DataFrame
        Parameter covariance ``s² (JᵀJ)⁻¹`` (parameter units², index and columns the
        parameters); NaN for parameters not estimated.
    s2 : float
        Residual variance factor used for the covariance (``max(1, SSR/dof)``).
    cost : float
        Final ``0.5 * sum(weighted residuals²)`` over the fitted rows.
    message : str
        The optimiser's termination message.
    """

    estimates: pd.DataFrame
    fit: pd.DataFrame
    residuals: pd.DataFrame
    scenario: Scenario
    n_runs: int
    wall_time: float
    backtest: Backtest | None
    base: Scenario
    observations: pd.DataFrame
    covariance: pd.DataFrame
    s2: float
    cost: float
    message: str


# ----------------------------------------------------------------------------- calibrate


def calibrate(
    params: Sequence[str] | None = None,
    *,
    scenario: str | Path | Scenario | None = None,
    observations: str | Path | pd.DataFrame | None = None,
    holdout_from: int | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> CalibrationResult:
    """Fit parameters to observed history by weighted nonlinear least squares.

    Parameters
    ----------
    params : sequence of str, optional
        Parameter names (or ``Variable[element]``) from ``model/parameters.toml``; default
        :data:`DEFAULT_PARAMETERS`.
    scenario : str, Path or Scenario, optional
        The scenario whose other values hold during the fit; its values of ``params`` are the
        starting point. Default: the model's own defaults, so that the result holds only what
        was fitted (``baseline`` extends ``calibrated``; starting from baseline would carry the
        previous calibration's values into the new one).
    observations : path or DataFrame, optional
        Default ``model/data/observations.csv`` (see :func:`load_observations`).
    holdout_from : int, optional
        Also run a back-test that fits on observations before this year and forecasts the
        rest (the main fit always uses every observation).
    progress : callable, optional
        Called as ``progress(stage, runs)`` after every batch of model runs, with the stage
        ("fit" or "back-test") and the number of runs so far; the command line shows it as a
        live status line.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    CzsimError
        Bad observations, parameters or holdout year (one line naming file, row and key).
    """
    start = time.perf_counter()
    base = default_scenario() if scenario is None else api.as_scenario(scenario)
    obs = load_observations(observations)
    chosen = resolve_parameters(params, base)
    if holdout_from is not None:
        holdout_from = int(holdout_from)
    x0 = np.array([float(base.value(p.name)) for p in chosen])
    problem = Problem(
        scenario=base,
        params=chosen,
        operator=Operator.build(obs),
        value=obs["value"].to_numpy(float),
        sigma=obs["sigma"].to_numpy(float),
        lower=(obs["bound"] == "lower").to_numpy(),
    )
    u0 = (x0 - problem.lo) / problem.span
    all_rows = np.ones(len(obs), dtype=bool)
    update = progress or (lambda stage, runs: None)
    problem.on_batch = lambda runs: update("fit", runs)
    fit = least_squares_fit(problem, u0, all_rows)
    initial_pred = problem.predict(u0)[0]
    final_pred = problem.predict(fit.u)[0]
    backtest = None
    if holdout_from is not None:
        problem.on_batch = lambda runs: update("back-test", runs)
        backtest = run_backtest(problem, obs, u0, x0, holdout_from)
    estimates = parameter_estimates(problem, fit, x0)
    names = [p.name for p in chosen]
    residuals = residual_table(obs, final_pred, initial_pred)
    calibrated = calibrated_scenario(
        base, estimates, obs, pd.DataFrame(fit.cov, index=names, columns=names)
    )
    return CalibrationResult(
        estimates=estimates,
        fit=fit_statistics(residuals),
        residuals=residuals,
        scenario=calibrated,
        n_runs=problem.n_runs,
        wall_time=time.perf_counter() - start,
        backtest=backtest,
        base=base,
        observations=obs,
        covariance=pd.DataFrame(fit.cov, index=names, columns=names),
        s2=fit.s2,
        cost=fit.cost,
        message=fit.message,
    )


# ---------------------------------------------------------------------- synthetic data, plots


def simulate_observations(
    values: Mapping[str, float],
    *,
    scenario: str | Path | Scenario | None = None,
    observations: str | Path | pd.DataFrame | None = None,
    noise: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Observations generated by the model itself (for identifiability checks and tests).

    Parameters
    ----------
    values : mapping of parameter name to value
        The "true" parameters, applied on top of ``scenario`` (default: the model's defaults,
        the base :func:`calibrate` starts from).
    observations : path or DataFrame, optional
        Rows whose variables, years and kinds are reproduced (default: the real ones).
    noise : float
        Gaussian noise in units of each row's sigma (0: exact model values).
    seed : int
        Seed of the noise.

    Returns
    -------
    pandas.DataFrame
        Same columns as the CSV, ``value`` replaced and ``bound`` cleared (synthetic values are
        points, not limits).
    """
    obs = load_observations(observations)
    base = default_scenario() if scenario is None else api.as_scenario(scenario)
    frame = pd.DataFrame({k: [float(v)] for k, v in values.items()})
    op = Operator.build(obs)
    ds = api.run_many(base, frame, variables=list(op.variables), times=list(op.times))
    pred = op.apply({v: ds[v].values for v in op.variables})[0]
    rng = np.random.default_rng(seed)
    out = obs[list(COLUMNS)].copy()
    out["value"] = pred + noise * obs["sigma"].to_numpy(float) * rng.standard_normal(len(obs))
    out["bound"] = ""
    out["months"] = out["months"].map(lambda m: "" if math.isnan(m) else str(int(m)))
    out["source"] = ""
    return out


def trajectories(result: CalibrationResult, years: Sequence[int] | None = None) -> pd.DataFrame:
    """Each observed series as the model sees it, year by year, calibrated and uncalibrated.

    The 95% band is the fitted parameter uncertainty carried forward to the series by
    linearisation: ``1.96 sqrt(g C gᵀ)`` with ``g`` the central-difference gradient of the
    series value with respect to the estimated parameters (one batch of 2n runs) and ``C`` the
    covariance of :attr:`CalibrationResult.covariance`.

    Returns
    -------
    pandas.DataFrame
        Columns ``series, year, calibrated, initial, low95, high95`` for every model year where
        the series' operator is defined (growth from the second year).
    """
    info = model_info(paths.MODEL_FILE)
    first, last = int(info.initial_time), int(info.final_time)
    years = list(years) if years is not None else list(range(first, last + 1))
    proto = result.observations.drop_duplicates("series")
    rows = [
        r._asdict() | {"year": y}
        for r in proto.itertuples(index=False)
        for y in years
        if not (r.kind == "growth" and y == first)
    ]
    grid = pd.DataFrame(rows)
    op = Operator.build(grid)
    est = result.estimates
    table = load_parameters()
    x = est["value"].to_numpy(float)
    lo, hi = est["low"].to_numpy(float), est["high"].to_numpy(float)
    cov = result.covariance.to_numpy(float)
    cols = np.flatnonzero(np.isfinite(np.diag(cov)))
    up = np.minimum(x[cols] + FD_STEP * (hi - lo)[cols], hi[cols])
    down = np.maximum(x[cols] - FD_STEP * (hi - lo)[cols], lo[cols])
    points = np.vstack([est["initial"].to_numpy(float), x, np.tile(x, (2 * cols.size, 1))])
    points[2 + np.arange(cols.size), cols] = up
    points[2 + cols.size + np.arange(cols.size), cols] = down
    frame = pd.DataFrame(points, columns=[table[p].name for p in est["parameter"]])
    ds = api.run_many(result.base, frame, variables=list(op.variables), times=list(op.times))
    pred = op.apply({v: ds[v].values for v in op.variables})
    grad = ((pred[2 : 2 + cols.size] - pred[2 + cols.size :]) / (up - down)[:, None]).T
    sd = np.sqrt(np.clip(np.einsum("ij,jk,ik->i", grad, cov[np.ix_(cols, cols)], grad), 0, None))
    return pd.DataFrame(
        {
            "series": grid["series"],
            "year": grid["year"],
            "calibrated": pred[1],
            "initial": pred[0],
            "low95": pred[1] - Z95 * sd,
            "high95": pred[1] + Z95 * sd,
        }
    )


# ------------------------------------------------------------------------------------ CLI
