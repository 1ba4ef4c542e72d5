"""Sampling plans and sensitivity analyses of the sweep methods (pure computation).

A *problem* is SALib's dictionary ``{"num_vars", "names", "bounds", "dists"}``. Every
function here is deterministic given its ``seed`` and touches no files.

Each method is one :class:`SweepMethod` entry in :data:`REGISTRY`; adding a method is adding
one entry (a sampler, a run count, a size check and an analysis), and the command line, the
sweep runner and the figures pick it up from there:

``sobol``
    Saltelli/Sobol' sequence (scrambled, first and total order only), ``n`` base samples
    (a power of two), ``n * (D + 2)`` runs; indices ``S1`` and ``ST`` with bootstrap
    confidence, equal to ``SALib.analyze.sobol`` but batched over outcomes
    (:func:`sobol_indices`).
``morris``
    ``n`` elementary-effect trajectories on 4 levels, ``n * (D + 1)`` runs; indices ``mu``,
    ``mu_star`` (with confidence), ``sigma``.
``mc``
    ``n`` independent uniform draws (``numpy.random.default_rng(seed)``); ``SRC``.
``lhs``
    Latin hypercube of ``n`` runs (SALib); standardised regression coefficients ``SRC``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from czsim.errors import CzsimError, closest
from czsim.experiments.sweeps.estimators import CONF_LEVEL, RESAMPLES, sobol_indices, src_indices
from czsim.targets import probability_table

#: Grid levels of the Morris design (SALib's default; must be even).
MORRIS_LEVELS = 4

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
    method : str
        A key of :data:`REGISTRY`.
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
    entry = get(method)
    results = {
        k: (np.full((d, y.shape[1]), np.nan), np.full((d, y.shape[1]), np.nan))
        for k in entry.indices
    }
    if varies.any():
        for k, (value, conf) in entry.analyze(problem, x, y[:, varies], seed).items():
            results[k][0][:, varies], results[k][1][:, varies] = value, conf
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
    """Share of runs with a 0/1 outcome ``<prefix><id>`` equal to 1, with its standard error.

    Returns
    -------
    pandas.DataFrame
        Index ``id``; columns ``probability``, ``stderr``, ``n_runs``
        (:func:`czsim.targets.probability_table`).
    """
    return probability_table(
        {name[len(prefix) :]: v for name, v in outcomes.items() if name.startswith(prefix)}
    )


# ------------------------------------------------------------------------------ registry


Sampler = Callable[[dict, int, int], np.ndarray]
Analysis = Callable[[dict, np.ndarray, np.ndarray, int], dict[str, tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class SweepMethod:
    """One sweep method: how it samples, how many runs it needs, what it reports.

    Attributes
    ----------
    name : str
        The method's name on the command line and in the manifest.
    n_help : str
        What ``n`` means for this method (``czsim sweep --help``).
    runs : callable
        ``runs(n, D)`` -> number of model runs.
    check : callable
        ``check(n, D)`` raises :class:`CzsimError` (with a usable ``n``) when ``n`` cannot
        work.
    sample : callable
        ``sample(problem, n, seed)`` -> ``(runs, D)`` array in the parameters' own units.
    indices : tuple of str
        Names of the indices reported, in display order; ``indices[headline]`` ranks
        parameters in summaries.
    analyze : callable
        ``analyze(problem, x, y, seed)`` with ``y`` ``(runs, M)`` (no constant column) ->
        index name -> (values, conf), each ``(D, M)``.
    headline : int
        Position in ``indices`` of the index that ranks parameters.
    """

    name: str
    n_help: str
    runs: Callable[[int, int], int]
    check: Callable[[int, int], None]
    sample: Sampler
    indices: tuple[str, ...]
    analyze: Analysis
    headline: int = 0

    @property
    def headline_index(self) -> str:
        """The index that ranks parameters in summaries (``ST``, ``mu_star``, ``SRC``)."""
        return self.indices[self.headline]


def _check_sobol(n: int, d: int) -> None:
    if n < 2 or n & (n - 1):
        below, above = _nearest_powers_of_two(n)
        hint = f"{above}" if n < 2 else f"{below} or {above}"
        raise CzsimError(
            f"Sobol sampling needs n to be a power of two (at least 2), got {n}; try {hint}",
            key="n",
        )


def _check_morris(n: int, d: int) -> None:
    if n < 2:
        raise CzsimError(
            f"Morris needs at least 2 trajectories to estimate sigma, got {n}; try 10 or more",
            key="n",
        )


def _check_regression(name: str) -> Callable[[int, int], None]:
    def check(n: int, d: int) -> None:
        if n < d + 2:
            raise CzsimError(
                f"{name} with {d} parameters needs n >= {d + 2} to fit "
                f"the regression coefficients, got {n}",
                key="n",
            )

    return check


def _nearest_powers_of_two(n: int) -> tuple[int, int]:
    below = 1 << (max(n, 1).bit_length() - 1)
    return below, below * 2


def _sample_sobol(problem: dict, n: int, seed: int) -> np.ndarray:
    from SALib.sample import sobol as sobol_sample  # SALib takes ~1 s to import: only here

    return sobol_sample.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)


def _sample_morris(problem: dict, n: int, seed: int) -> np.ndarray:
    from SALib.sample import morris as morris_sample

    return morris_sample.sample(problem, n, num_levels=MORRIS_LEVELS, seed=seed)


def sample_lhs(problem: dict, n: int, seed: int) -> np.ndarray:
    """Return a seeded Latin hypercube of ``n`` rows over ``problem``'s ranges (SALib).

    The one Latin-hypercube sampler of czsim: sweeps and the app's uncertainty bands both
    draw through it, so one seed gives one sample everywhere.
    """
    from SALib.sample import latin as latin_sample

    return latin_sample.sample(problem, n, seed=seed)


def _sample_mc(problem: dict, n: int, seed: int) -> np.ndarray:
    bounds = np.asarray(problem["bounds"], dtype=float)
    return np.random.default_rng(seed).uniform(
        bounds[:, 0], bounds[:, 1], size=(n, problem["num_vars"])
    )


def _analyze_sobol(
    problem: dict, x: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return sobol_indices(y, problem["num_vars"], seed)


def _analyze_morris(
    problem: dict, x: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from SALib.analyze import morris as morris_analyze

    d, m = problem["num_vars"], y.shape[1]
    out = {k: (np.empty((d, m)), np.full((d, m), np.nan)) for k in ("mu", "mu_star", "sigma")}
    for col in range(m):
        r = morris_analyze.analyze(
            problem,
            x,
            y[:, col],
            num_resamples=RESAMPLES,
            conf_level=CONF_LEVEL,
            num_levels=MORRIS_LEVELS,
            seed=seed,
        )
        out["mu"][0][:, col] = r["mu"]
        out["mu_star"][0][:, col] = r["mu_star"]
        out["mu_star"][1][:, col] = r["mu_star_conf"]
        out["sigma"][0][:, col] = r["sigma"]
    return out


def _analyze_src(
    problem: dict, x: np.ndarray, y: np.ndarray, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    d, m = problem["num_vars"], y.shape[1]
    values, conf = np.empty((d, m)), np.empty((d, m))
    for col in range(m):
        values[:, col], conf[:, col] = src_indices(x, y[:, col])
    return {"SRC": (values, conf)}


def _within_bounds(sampler: Sampler) -> Sampler:
    """Wrap a sampler so that its values never leave the problem's bounds.

    Samplers scale unit draws as ``low + u * (high - low)``, which in floating point can land
    one ulp outside the range (0.15 + 1.0 * (0.45 - 0.15) = 0.45000000000000007); the runs
    would then be refused as outside the parameter's bounds. Clipping moves only such values.
    """

    def sample(problem: dict, n: int, seed: int) -> np.ndarray:
        x = np.asarray(sampler(problem, n, seed), dtype=float)
        bounds = np.asarray(problem["bounds"], dtype=float)
        return np.clip(x, bounds[:, 0], bounds[:, 1])

    sample.__doc__ = sampler.__doc__
    return sample


#: Every sweep method, by name: the one place a method is defined.
REGISTRY: dict[str, SweepMethod] = {
    m.name: m
    for m in (
        SweepMethod(
            name="morris",
            n_help="trajectories",
            runs=lambda n, d: n * (d + 1),
            check=_check_morris,
            sample=_within_bounds(_sample_morris),
            indices=("mu", "mu_star", "sigma"),
            analyze=_analyze_morris,
            headline=1,
        ),
        SweepMethod(
            name="sobol",
            n_help="base samples (power of two)",
            runs=lambda n, d: n * (d + 2),
            check=_check_sobol,
            sample=_within_bounds(_sample_sobol),
            indices=("S1", "ST"),
            analyze=_analyze_sobol,
            headline=1,
        ),
        SweepMethod(
            name="mc",
            n_help="runs",
            runs=lambda n, d: n,
            check=_check_regression("mc"),
            sample=_within_bounds(_sample_mc),
            indices=("SRC",),
            analyze=_analyze_src,
        ),
        SweepMethod(
            name="lhs",
            n_help="runs",
            runs=lambda n, d: n,
            check=_check_regression("lhs"),
            sample=_within_bounds(sample_lhs),
            indices=("SRC",),
            analyze=_analyze_src,
        ),
    )
}
METHODS: tuple[str, ...] = tuple(REGISTRY)


def get(method: str) -> SweepMethod:
    """Return the registry entry of ``method``; :class:`CzsimError` naming the closest one."""
    try:
        return REGISTRY[method]
    except (KeyError, TypeError):
        raise CzsimError(
            f"unknown method '{method}' (use one of {', '.join(METHODS)})"
            f"{closest(str(method), METHODS)}",
            key="method",
        ) from None


def check_n(method: str, n: int, num_vars: int) -> None:
    """Raise :class:`CzsimError` if ``method`` cannot use ``n`` with ``num_vars`` parameters.

    The message suggests a usable ``n``.
    """
    entry = get(method)
    if isinstance(n, bool) or not isinstance(n, int | np.integer):
        raise CzsimError(f"n must be a whole number, got {n!r}", key="n")
    if n < 1:
        raise CzsimError(f"n must be at least 1, got {n}", key="n")
    entry.check(int(n), num_vars)


def sample(problem: dict, method: str, n: int, seed: int) -> np.ndarray:
    """Draw the sample of a sweep.

    Returns
    -------
    numpy.ndarray
        Shape ``(runs, D)`` with ``runs = REGISTRY[method].runs(n, D)``: one row per run,
        columns in ``problem["names"]`` order, in the parameters' own units.
    """
    check_n(method, n, problem["num_vars"])
    x = get(method).sample(problem, n, seed)
    return np.ascontiguousarray(x, dtype=float)
