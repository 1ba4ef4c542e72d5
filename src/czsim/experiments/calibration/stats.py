"""Fit statistics: MAPE, Theil's inequality coefficient and its decomposition, residuals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# ------------------------------------------------------------------------------- statistics


def theil(model: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """Theil inequality statistics of a series.

    Parameters
    ----------
    model, observed : ndarray, shape (N,)
        Paired values, N >= 2.

    Returns
    -------
    dict
        ``theil_u`` = RMSE / (RMS(model) + RMS(observed)) in [0, 1], and the shares of the
        mean squared error due to bias (``u_bias``, different means), unequal variation
        (``u_variance``, different standard deviations) and imperfect covariation
        (``u_covariance``); the three add up to 1 (Sterman 1984). NaN if the error is zero.
    """
    m, o = np.asarray(model, float), np.asarray(observed, float)
    mse = float(np.mean((m - o) ** 2))
    denom = math.sqrt(np.mean(m**2)) + math.sqrt(np.mean(o**2))
    out = {"theil_u": math.sqrt(mse) / denom if denom > 0 else math.nan}
    if mse <= 0:
        return out | {"u_bias": math.nan, "u_variance": math.nan, "u_covariance": math.nan}
    sm, so = float(np.std(m)), float(np.std(o))
    cov = float(np.mean((m - m.mean()) * (o - o.mean())))
    out["u_bias"] = (m.mean() - o.mean()) ** 2 / mse
    out["u_variance"] = (sm - so) ** 2 / mse
    out["u_covariance"] = 2.0 * (sm * so - cov) / mse
    return out


def _compared(model: np.ndarray, observed: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """Return the model value as it counts against the data.

    Where a lower bound is satisfied the observed value is returned, so the bound counts as
    met with zero error.
    """
    return np.where(lower & (model >= observed), observed, model)


def fit_statistics(residuals: pd.DataFrame) -> pd.DataFrame:
    """Fit statistics per series of a residual table (see :attr:`CalibrationResult.fit`)."""
    out = []
    for series, g in residuals.groupby("series", sort=False):
        lower = (g["bound"] == "lower").to_numpy()
        obs = g["observed"].to_numpy(float)
        mod = _compared(g["model"].to_numpy(float), obs, lower)
        ini = _compared(g["initial_model"].to_numpy(float), obs, lower)
        err = mod - obs
        with np.errstate(divide="ignore", invalid="ignore"):  # an observed 0 gives inf, not a crash
            mape, mape_ini = (float(np.mean(np.abs((x - obs) / obs)) * 100) for x in (mod, ini))
        row = {
            "series": series,
            "variable": g["variable"].iat[0],
            "kind": g["kind"].iat[0],
            "n": len(g),
            "years": ", ".join(str(y) for y in g["year"]),
            "mean_error": float(err.mean()),
            "rmse": float(np.sqrt(np.mean(err**2))),
            "mape_pct": mape,
            "mape_pct_initial": mape_ini,
        }
        stats = (
            theil(mod, obs)
            if len(g) >= 2
            else dict.fromkeys(("theil_u", "u_bias", "u_variance", "u_covariance"), math.nan)
        )
        out.append(row | stats)
    return pd.DataFrame(out)


def residual_table(obs: pd.DataFrame, model: np.ndarray, initial: np.ndarray) -> pd.DataFrame:
    """Tabulate each observation against the fitted and initial model values.

    Columns as in :attr:`CalibrationResult.residuals`.
    """
    lower = (obs["bound"] == "lower").to_numpy()
    value = obs["value"].to_numpy(float)
    compared = _compared(model, value, lower)
    table = obs[["id", "series", "variable", "kind", "year"]].copy()
    table["observed"] = value
    table["bound"] = obs["bound"].to_numpy()
    table["sigma"] = obs["sigma"].to_numpy(float)
    table["model"] = model
    table["initial_model"] = initial
    table["error"] = compared - value
    with np.errstate(divide="ignore", invalid="ignore"):
        table["pct_error"] = (compared - value) / np.abs(value) * 100
    table["weighted"] = (compared - value) / table["sigma"]
    return table.reset_index(drop=True)
