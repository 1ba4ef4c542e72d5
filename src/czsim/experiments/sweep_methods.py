"""Sampling plans and sensitivity analyses of the four sweep methods (pure computation).

A *problem* is SALib's dictionary ``{"num_vars", "names", "bounds", "dists"}``. Every
function here is deterministic given its ``seed`` and touches no files.

Methods
-------
``sobol``
    Saltelli/Sobol' sequence (scrambled, first and total order only), ``n`` base samples
    (a power of two), ``n * (D + 2)`` runs; indices ``S1`` and ``ST`` with bootstrap
    confidence, equal to ``SALib.analyze.sobol`` but batched over outcomes
    (:func:`sobol_indices`).
``morris``
    ``n`` elementary-effect trajectories on 4 levels, ``n * (D + 1)`` runs; indices ``mu``,
    ``mu_star`` (with confidence), ``sigma``.
``lhs``
    Latin hypercube of ``n`` runs; standardised regression coefficients ``SRC``.
``mc``
    ``n`` independent uniform draws (``numpy.random.default_rng(seed)``); ``SRC``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy.special import ndtri

from czsim.errors import CzsimError, closest

Method = Literal["morris", "sobol", "mc", "lhs"]
METHODS: tuple[str, ...] = ("morris", "sobol", "mc", "lhs")

#: Grid levels of the Morris design (SALib's default; must be even).
MORRIS_LEVELS = 4
#: Bootstrap resamples for the confidence intervals of Sobol and Morris indices.
RESAMPLES = 100
#: Two-sided confidence level of every ``conf`` column.
CONF_LEVEL = 0.95

INDEX_COLUMNS = ["outcome", "parameter", "index", "value", "conf", "time"]


def make_problem(names: Sequence[str], bounds: Sequence[tuple[float, float]]) -> dict:
    """Build SALib's problem dictionary for uniform ranges.

    Parameters
    ----------
    names : sequence of str, length D
        Parameter names (unique).
    bounds : sequence of (low, high), length D
        Finite ranges with ``low < high``.

    Raises
    ------
    CzsimError
        No parameters, duplicates, or an empty, inverted or non-finite range.
    """
    if not names:
        raise CzsimError("a sweep needs at least one parameter")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CzsimError(f"parameter '{name}' is listed twice", key=name)
        seen.add(name)
    checked = []
    for name, (low, high) in zip(names, bounds, strict=True):
        low, high = float(low), float(high)
        if not (np.isfinite(low) and np.isfinite(high)):
            raise CzsimError(f"range [{low:g}, {high:g}] is not finite", key=name)
        if not low < high:
            raise CzsimError(
                f"empty or inverted range: low {low:g} must be below high {high:g}", key=name
            )
        checked.append([low, high])
    return {
        "num_vars": len(names),
        "names": list(names),
        "bounds": checked,
        "dists": ["unif"] * len(names),
    }


def check_method(method: str) -> None:
    """Raise :class:`CzsimError` unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise CzsimError(
            f"unknown method '{method}' (use one of {', '.join(METHODS)})"
            f"{closest(method, METHODS)}",
            key="method",
        )


def _nearest_powers_of_two(n: int) -> tuple[int, int]:
    below = 1 << (max(n, 1).bit_length() - 1)
    return below, below * 2


def check_n(method: str, n: int, num_vars: int) -> None:
    """Raise :class:`CzsimError` if ``method`` cannot use sample size ``n`` with ``num_vars``
    parameters (the message suggests a usable ``n``)."""
    check_method(method)
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise CzsimError(f"n must be a whole number, got {n!r}", key="n")
    if n < 1:
        raise CzsimError(f"n must be at least 1, got {n}", key="n")
    if method == "sobol":
        if n < 2 or n & (n - 1):
            below, above = _nearest_powers_of_two(n)
            hint = f"{above}" if n < 2 else f"{below} or {above}"
            raise CzsimError(
                f"Sobol sampling needs n to be a power of two (at least 2), got {n}; try {hint}",
                key="n",
            )
    elif method == "morris":
        if n < 2:
            raise CzsimError(
                f"Morris needs at least 2 trajectories to estimate sigma, got {n}; try 10 or more",
                key="n",
            )
    elif n < num_vars + 2:
        raise CzsimError(
            f"{method} with {num_vars} parameters needs n >= {num_vars + 2} to fit "
            f"the regression coefficients, got {n}",
            key="n",
        )


def n_runs(method: str, n: int, num_vars: int) -> int:
    """Number of model runs a sweep of ``method`` with sample size ``n`` needs."""
    if method == "sobol":
        return n * (num_vars + 2)
    if method == "morris":
        return n * (num_vars + 1)
    return n


def sample(problem: dict, method: str, n: int, seed: int) -> np.ndarray:
    """Draw the sample of a sweep.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_runs(method, n, D), D)``: one row per run, columns in
        ``problem["names"]`` order, in the parameters' own units.
    """
    d = problem["num_vars"]
    check_n(method, n, d)
    if method == "sobol":
        from SALib.sample import sobol as sobol_sample  # SALib takes ~1 s to import: only here

        x = sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)
    elif method == "morris":
        from SALib.sample import morris as morris_sample

        x = morris_sample.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)
    elif method == "lhs":
        from SALib.sample import latin as latin_sample

        x = latin_sample.sample(problem, n, seed=seed)
    else:
        bounds = np.asarray(problem["bounds"], dtype=float)
        x = np.random.default_rng(seed).uniform(bounds[:, 0], bounds[:, 1], size=(n, d))
    return np.ascontiguousarray(x, dtype=float)


def _src(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardised regression coefficients of ``y`` on ``x`` and their 95% half-widths.

    ``x`` is ``(R, D)``, ``y`` is ``(R,)`` with non-zero variance; returns two ``(D,)``.
    """
    zx = (x - x.mean(0)) / x.std(0)
    zy = (y - y.mean()) / y.std()
    coef, *_ = np.linalg.lstsq(zx, zy, rcond=None)
    dof = x.shape[0] - x.shape[1] - 1
    resid = zy - zx @ coef
    sigma2 = float(resid @ resid) / dof
    cov = sigma2 * np.linalg.pinv(zx.T @ zx)
    return coef, ndtri(0.5 + CONF_LEVEL / 2) * np.sqrt(np.clip(np.diag(cov), 0.0, None))


def sobol_indices(
    y: np.ndarray, num_vars: int, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """First and total Sobol indices of many outcomes at once.

    Numerically the same as ``SALib.analyze.sobol.analyze(problem, y[:, k],
    calc_second_order=False, num_resamples=RESAMPLES, conf_level=CONF_LEVEL,
    seed=numpy.random.default_rng(seed))`` for each column ``k`` (SALib's estimators of
    Saltelli et al. 2010 and its bootstrap draws; equal to ~1e-12, see the tests), but
    about 50x faster for a sweep's dozens of outcomes: a bootstrap resample's mean of a
    per-row quantity is ``counts @ quantity / N`` with ``counts[k, i]`` the number of times
    row ``i`` is drawn in resample ``k``, so every resample, parameter and outcome takes one
    matrix product instead of gathering ``N x RESAMPLES`` rows per parameter and outcome.

    Parameters
    ----------
    y : numpy.ndarray
        ``(N * (D + 2), M)``: M outcomes on a Sobol sample (SALib layout: blocks of rows
        A, AB_1 .. AB_D, B). No column may be constant.
    num_vars : int
        D.
    seed : int
        Seed of the bootstrap resampling.

    Returns
    -------
    dict
        ``"S1"`` and ``"ST"`` -> (values, conf), each ``(D, M)``.
    """
    d, m = num_vars, y.shape[1]
    step = d + 2
    n = y.shape[0] // step
    # SALib standardises each output first (only rounding depends on it).
    y = (y - y.mean(axis=0)) / y.std(axis=0)
    blocks = y.reshape(n, step, m)
    a, ab, b = blocks[:, 0], blocks[:, 1:-1], blocks[:, -1]  # (N,M) (N,D,M) (N,M)
    first = (b[:, None, :] * (ab - a[:, None, :])).reshape(n, d * m)  # S1 numerators by row
    total = (0.5 * (a[:, None, :] - ab) ** 2).reshape(n, d * m)  # ST numerators by row
    eps = np.finfo(float).eps

    def ratio(num: np.ndarray, var: np.ndarray) -> np.ndarray:
        return np.divide(num, var, out=np.zeros_like(num), where=var > eps)

    var = np.concatenate([a, b]).var(axis=0)  # (M,)
    s1 = ratio(first.mean(axis=0).reshape(d, m), var)
    st = ratio(total.mean(axis=0).reshape(d, m), var)
    # The bootstrap rows SALib draws for a seeded call, as counts per resample.
    draws = np.random.default_rng(seed).integers(n, size=(n, RESAMPLES))
    counts = np.zeros((RESAMPLES, n))
    np.add.at(counts, (np.broadcast_to(np.arange(RESAMPLES), draws.shape), draws), 1.0)
    # Variance of each resample's 2N rows of A and B: E[y^2] - E[y]^2 (y is standardised,
    # so the one-pass formula loses nothing that matters).
    mean = counts @ (a + b) / (2 * n)  # (R, M)
    var_r = counts @ (a * a + b * b) / (2 * n) - mean**2
    s1_r = ratio((counts @ first / n).reshape(RESAMPLES, d, m), var_r[:, None, :])
    st_r = ratio((counts @ total / n).reshape(RESAMPLES, d, m), var_r[:, None, :])
    # SALib reports a zero interval when the resampled rows do not vary at all.
    drawn = counts.any(axis=0)
    varies = np.ptp(np.concatenate([a[drawn], b[drawn]]), axis=0) != 0
    z = ndtri(0.5 + CONF_LEVEL / 2)
    return {
        "S1": (s1, np.where(varies, z * s1_r.std(axis=0, ddof=1), 0.0)),
        "ST": (st, np.where(varies, z * st_r.std(axis=0, ddof=1), 0.0)),
    }


def _indices_one(
    problem: dict, method: str, x: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Morris or regression indices of one scalar outcome: index name -> (values, conf),
    each ``(D,)``."""
    d = problem["num_vars"]
    nan = np.full(d, np.nan)
    if method == "morris":
        from SALib.analyze import morris as morris_analyze

        r = morris_analyze.analyze(
            problem,
            x,
            y,
            num_resamples=RESAMPLES,
            conf_level=CONF_LEVEL,
            num_levels=MORRIS_LEVELS,
            seed=seed,
        )
        return {
            "mu": (np.asarray(r["mu"]), nan),
            "mu_star": (np.asarray(r["mu_star"]), np.asarray(r["mu_star_conf"])),
            "sigma": (np.asarray(r["sigma"]), nan),
        }
    coef, conf = _src(x, y)
    return {"SRC": (coef, conf)}


def index_names(method: str) -> tuple[str, ...]:
    """Names of the indices ``method`` reports, in display order."""
    return {"sobol": ("S1", "ST"), "morris": ("mu", "mu_star", "sigma")}.get(method, ("SRC",))


def analyze(
    problem: dict,
    method: str,
    x: np.ndarray,
    outcomes: Mapping[str, np.ndarray],
    seed: int,
    times: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Sensitivity indices of every outcome, tidy.

    Parameters
    ----------
    problem : dict
        SALib problem of the sweep (D parameters).
    method : {"morris", "sobol", "mc", "lhs"}
    x : numpy.ndarray
        Sample ``(R, D)`` as returned by :func:`sample`.
    outcomes : mapping of str to numpy.ndarray
        Outcome name -> ``(R,)`` values, or ``(R, T)`` for an outcome over time (analysed
        year by year).
    seed : int
        Seed of the bootstrap resampling.
    times : sequence of float, optional
        The ``T`` years of the 2-D outcomes.

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome, parameter, index, value, conf, time`` (``time`` is ``<NA>`` for
        scalar outcomes). An outcome that does not vary over the sample has no variance to
        apportion: its rows hold NaN.

    Raises
    ------
    CzsimError
        An outcome with non-finite values.
    """
    names = problem["names"]
    d = len(names)
    # One column per (outcome, year): scalar outcomes have year None.
    labels: list[tuple[str, float | None]] = []
    columns: list[np.ndarray] = []
    for outcome, values in outcomes.items():
        values = np.asarray(values, dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            raise CzsimError(
                f"outcome has {int(bad.sum())} non-finite value(s); cannot "
                "compute sensitivity indices",
                key=outcome,
            )
        if values.ndim == 1:
            labels.append((outcome, None))
            columns.append(values)
        else:
            labels += [(outcome, times[k]) for k in range(values.shape[1])]
            columns += list(values.T)
    if not columns:
        return pd.DataFrame({c: [] for c in INDEX_COLUMNS})
    y = np.column_stack(columns)
    # An outcome that does not vary has no variance to apportion: NaN indices.
    varies = np.ptp(y, axis=0) > 0
    results = {
        k: (np.full((d, y.shape[1]), np.nan), np.full((d, y.shape[1]), np.nan))
        for k in index_names(method)
    }
    if method == "sobol" and varies.any():
        for k, (value, conf) in sobol_indices(y[:, varies], d, seed).items():
            results[k][0][:, varies], results[k][1][:, varies] = value, conf
    elif method != "sobol":
        for col in np.flatnonzero(varies):
            for k, (value, conf) in _indices_one(problem, method, x, y[:, col], seed).items():
                results[k][0][:, col], results[k][1][:, col] = value, conf
    frame = pd.DataFrame(
        {
            "outcome": np.repeat([o for o, _ in labels], d * len(results)),
            "parameter": np.tile(names, len(labels) * len(results)),
            "index": np.tile(np.repeat(list(results), d), len(labels)),
            "value": np.concatenate(
                [results[k][0][:, c] for c in range(len(labels)) for k in results]
            ),
            "conf": np.concatenate(
                [results[k][1][:, c] for c in range(len(labels)) for k in results]
            ),
            "time": pd.array(np.repeat([t for _, t in labels], d * len(results)), dtype="Int64"),
        }
    )
    return frame[INDEX_COLUMNS]


def probabilities(outcomes: Mapping[str, np.ndarray], prefix: str = "reached_") -> pd.DataFrame:
    """Share of runs with a 0/1 outcome ``<prefix><id>`` equal to 1, with its binomial
    standard error.

    Returns
    -------
    pandas.DataFrame
        Index ``id``; columns ``probability``, ``stderr``, ``n_runs``.
    """
    rows = []
    for name, values in outcomes.items():
        if not name.startswith(prefix):
            continue
        hit = np.asarray(values, dtype=float)
        p = float(hit.mean())
        rows.append(
            {
                "id": name[len(prefix) :],
                "probability": p,
                "stderr": float(np.sqrt(p * (1.0 - p) / hit.size)),
                "n_runs": hit.size,
            }
        )
    frame = pd.DataFrame(rows, columns=["id", "probability", "stderr", "n_runs"])
    return frame.set_index("id")
