"""Batch sensitivity sweeps for economists: Morris, Sobol, Monte Carlo and Latin hypercube.

A sweep draws a sample of the uncertain parameters (SALib), runs the model once per sample
row in chunks on the ensemble engine (in this process or on a Dask cluster), reduces every
run to a few outcomes, and computes sensitivity indices and the probability of reaching each
policy target.

Python::

    from czsim.experiments.sweeps import sweep
    res = sweep("baseline", method="sobol", n=256, out="results/baseline-sobol")
    res.indices.query("outcome == 'industrial_scale_2025' and index == 'ST'")
    res.probabilities.loc["industrial_scale"]        # probability, stderr, n_runs

Command line::

    czsim sweep baseline --method morris --n 20 --out results/baseline-morris
    czsim sweep plan --method sobol --n 1024 --workers 2

Layout of ``out``: ``manifest.json`` (what was run, by which versions), ``chunks/`` (one
file per finished chunk; a rerun of an interrupted sweep skips them), ``sweep.nc``,
``indices.csv``, ``probabilities.csv``, and ``indices``/``probabilities``/``fan`` figures
as PNG and SVG.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from tqdm.auto import tqdm

from czsim import paths
from czsim.api import MAX_MEMORY, MAX_RUNS, ScenarioLike, as_scenario, run_many
from czsim.engines.model_info import file_sha256
from czsim.errors import CzsimError, InputError, LimitError
from czsim.experiments.sweeps import methods
from czsim.experiments.sweeps.executors import Evaluate, open_executor
from czsim.experiments.sweeps.figures import write_figures
from czsim.experiments.sweeps.outcomes import (
    MAIN,
    MAIN_YEARS,
    SCALAR_YEAR,
    OutcomePlan,
    list_outcomes,
    outcome_attrs,
    plan_outcomes,
    reduce_outcomes,
    scale_threshold,
)
from czsim.experiments.sweeps.store import SweepStore
from czsim.io import temporary_sibling, write_text
from czsim.parameters import ParameterTable, load_parameters
from czsim.scenarios import Scenario
from czsim.targets import load_targets

__all__ = [
    "ModelEvaluator",
    "SweepResult",
    "build_problem",
    "list_outcomes",
    "run_sweep",
    "sweep",
]

_VERSIONED = (
    "czsim",
    "numpy",
    "pandas",
    "xarray",
    "scipy",
    "SALib",
    "dask",
    "distributed",
    "matplotlib",
    "netCDF4",
    "pysd",
)


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced.

    Attributes
    ----------
    problem : dict
        SALib problem: ``num_vars``, ``names``, ``bounds`` (``[[low, high], ...]``), ``dists``.
    dataset : xarray.Dataset
        Dim ``run`` (R runs): one variable per parameter (the sample) and per scalar outcome;
        the main outcome ``industrial_scale`` (亿元) with dims ``(run, time)``.
    indices : pandas.DataFrame
        Tidy: ``outcome, parameter, index, value, conf, time`` (``time`` set for indices of
        the main outcome year by year, ``<NA>`` otherwise).
    probabilities : pandas.DataFrame
        Index target ``id``; ``probability``, ``stderr`` (binomial), ``n_runs``.
    manifest : dict
        What was run: identity, versions, times, runs, files.
    """

    problem: dict
    dataset: xr.Dataset
    indices: pd.DataFrame
    probabilities: pd.DataFrame
    manifest: dict


@dataclass(frozen=True)
class ModelEvaluator:
    """Runs one chunk of a sweep on the ensemble engine and reduces it to outcomes.

    Picklable (plain data only), so Dask can ship it to worker processes. ``values`` are the
    scenario's parameter values; ``names`` the sample's columns.
    """

    scenario_name: str
    values: Mapping[str, Any]
    names: tuple[str, ...]
    plan: OutcomePlan
    model: str

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Outcomes of the runs ``x`` ``(r, D)``: see :func:`reduce_outcomes`."""
        scenario = Scenario(name=self.scenario_name, values=dict(self.values))
        frame = pd.DataFrame(x, columns=list(self.names))
        result = run_many(
            scenario,
            frame,
            variables=list(self.plan.variables),
            times=list(self.plan.times),
            model=self.model,
        )
        return reduce_outcomes(result, self.plan)


def build_problem(
    scenario: Scenario, params: Sequence[str] | None = None, table: ParameterTable | None = None
) -> dict:
    """The SALib problem of a sweep of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        Its ``uncertain`` ranges are used by default and whenever a parameter has one.
    params : sequence of str, optional
        Parameters to vary (code-safe names or ``Variable[element]``); those without a range
        in the scenario use their ``low``/``high`` bounds from ``model/parameters.toml``.

    Raises
    ------
    CzsimError
        Unknown names (with the closest), no parameters at all, empty or inverted ranges,
        ranges beyond the parameter's bounds.
    """
    table = table or load_parameters()
    if params is None:
        if not scenario.uncertain:
            raise CzsimError(
                f"scenario '{scenario.name}' has no [uncertain] ranges; name the "
                "parameters to vary with --params a,b",
                key="params",
            )
        chosen = [table[name] for name in scenario.uncertain]
    else:
        if not params:
            raise CzsimError("no parameters given", key="params")
        chosen = [table.resolve(name) for name in params]
    names = [p.name for p in chosen]
    bounds = []
    for p in chosen:
        low, high = scenario.uncertain.get(p.name, (p.low, p.high))
        if low < p.low or high > p.high:
            raise CzsimError(
                f"range [{low:g}, {high:g}] goes beyond the parameter's bounds "
                f"[{p.low:g}, {p.high:g}]",
                key=p.name,
            )
        bounds.append((low, high))
    return methods.make_problem(names, bounds)


#: Largest seed accepted (numpy and SALib take 32-bit seeds).
MAX_SEED = 2**32 - 1


def check_seed(seed: object) -> int:
    """``seed`` as an int in ``[0, MAX_SEED]``, else :class:`InputError`."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise InputError(f"seed must be a whole number, got {seed!r}", key="seed")
    if not 0 <= int(seed) <= MAX_SEED:
        raise InputError(f"seed must be between 0 and {MAX_SEED}, got {seed}", key="seed")
    return int(seed)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _chunks(runs: int, chunk_size: int) -> list[tuple[int, int, int]]:
    """``(index, start, stop)`` of each chunk of ``runs`` runs."""
    return [
        (i, start, min(start + chunk_size, runs))
        for i, start in enumerate(range(0, runs, chunk_size))
    ]


def _check_chunk(outcomes: Mapping[str, np.ndarray], rows: int, keys: set[str] | None) -> None:
    """A chunk must give every outcome for each of its ``rows`` runs, with the same keys as
    the chunks before it (an evaluator bug would otherwise misalign runs silently)."""
    for name, values in outcomes.items():
        if values.shape[:1] != (rows,):
            raise CzsimError(f"evaluation returned shape {values.shape} for {rows} runs", key=name)
    if keys is not None and set(outcomes) != keys:
        raise CzsimError(
            f"chunks returned different outcomes: {sorted(set(outcomes) ^ keys)}", key="outcomes"
        )


def _dataset(
    problem: dict,
    x: np.ndarray,
    outcomes: Mapping[str, np.ndarray],
    times: Sequence[float] | None,
    attrs: Mapping[str, Any],
    variable_attrs: Mapping[str, Mapping[str, str]],
) -> xr.Dataset:
    """Samples and outcomes aligned on ``run`` (2-D outcomes on ``(run, time)``)."""
    data: dict[str, tuple] = {}
    for j, name in enumerate(problem["names"]):
        data[name] = ("run", x[:, j], {"role": "parameter", **variable_attrs.get(name, {})})
    for name, values in outcomes.items():
        if name in data:
            raise CzsimError("an outcome has the name of a parameter", key=name)
        if values.ndim == 2 and (times is None or len(times) != values.shape[1]):
            raise CzsimError(f"outcome over time needs {values.shape[1]} times", key=name)
        dims = ("run",) if values.ndim == 1 else ("run", "time")
        data[name] = (dims, values, {"role": "outcome", **variable_attrs.get(name, {})})
    coords: dict[str, Any] = {"run": np.arange(x.shape[0])}
    if times is not None:
        coords["time"] = np.asarray(times, dtype=float)
    return xr.Dataset(data, coords=coords, attrs=dict(attrs))


def _write_netcdf(dataset: xr.Dataset, path: Path) -> Path:
    """Write ``dataset`` to ``path`` atomically (netCDF4 needs a real file, not a stream)."""
    with temporary_sibling(path) as tmp:
        dataset.to_netcdf(tmp)
    return path


def run_sweep(
    problem: dict,
    evaluate: Evaluate,
    *,
    method: str,
    n: int,
    seed: int = 0,
    analysed: Sequence[str] | None = None,
    times: Sequence[float] | None = None,
    out: str | Path | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    chunk_size: int = 4096,
    progress: bool = False,
    identity: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    variable_attrs: Mapping[str, Mapping[str, str]] | None = None,
    report: Callable[[SweepResult, Path], Sequence[Path]] | None = None,
) -> SweepResult:
    """Sample ``problem``, evaluate it chunk by chunk, analyse: the engine-agnostic core of
    :func:`sweep` (any ``evaluate`` works, e.g. an analytic test function).

    Parameters
    ----------
    problem : dict
        SALib problem (:func:`czsim.experiments.sweeps.methods.make_problem`), D parameters.
    evaluate : callable
        ``evaluate(x)`` with ``x`` of shape ``(r, D)`` returns outcome name -> ``(r,)`` or
        ``(r, T)`` array. Must be picklable for Dask. Outcomes ``reached_<id>`` (0/1) give
        the target probabilities.
    method, n, seed
        As for :func:`sweep`.
    analysed : sequence of str, optional
        Outcomes to compute indices for (default: all that ``evaluate`` returns).
    times : sequence of float, optional
        The ``T`` years of 2-D outcomes.
    out, overwrite, scheduler, workers, chunk_size, progress
        As for :func:`sweep`.
    identity : mapping, optional
        Extra JSON-able facts that make this sweep what it is (model hash, scenario, ...);
        a folder whose manifest differs in any of them, or in method/n/seed/problem/
        outcomes, is refused unless ``overwrite``.
    info : mapping, optional
        Extra manifest entries that do not define the sweep (notes).
    variable_attrs : mapping, optional
        Dataset variable name -> attributes (labels, units).
    report : callable, optional
        ``report(result, out)`` writes figures into ``out`` and returns their paths.

    Returns
    -------
    SweepResult
    """
    methods.get(method)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise CzsimError(
            f"chunk size must be a whole number >= 1, got {chunk_size!r}", key="chunk_size"
        )
    check_seed(seed)
    methods.check_n(method, n, problem["num_vars"])
    planned = methods.get(method).runs(int(n), problem["num_vars"])
    columns = problem["num_vars"] + len(times or ()) + 2 * len(analysed or ()) + 64
    need = 8 * planned * columns * 3  # sample, outcomes, their concatenation
    if planned > MAX_RUNS or need > MAX_MEMORY:
        raise LimitError(
            f"n = {n} means {planned:,} runs needing about {need / 1e9:.1f} GB; the limits "
            f"are {MAX_RUNS:,} runs and {MAX_MEMORY / 1e9:g} GB (CZSIM_MAX_MEMORY_GB)",
            key="n",
        )
    x = methods.sample(problem, method, n, seed)
    runs = x.shape[0]
    full_identity = {
        "method": method,
        "n": int(n),
        "seed": int(seed),
        "params": problem["names"],
        "bounds": problem["bounds"],
        "outcomes": list(analysed) if analysed is not None else None,
        **(identity or {}),
    }
    store = SweepStore(out, full_identity, overwrite=overwrite)
    plan = _chunks(runs, chunk_size)
    started, clock = _now(), time.perf_counter()
    manifest: dict[str, Any] = {
        "status": "running",
        "method": method,
        "n": int(n),
        "seed": int(seed),
        "params": problem["names"],
        "runs": runs,
        "chunk_size": chunk_size,
        "chunks": len(plan),
        **(info or {}),
        "versions": _versions(),
        "started": started,
    }
    results: dict[int, dict[str, np.ndarray]] = {}
    with open_executor(scheduler, workers) as executor:
        manifest["executor"] = executor.description
        store.write_manifest(manifest)
        for index, start, stop in plan:
            loaded = store.load_chunk(index, start, stop)
            if loaded is not None:
                results[index] = loaded
        if store.rejected:
            manifest["chunks_recomputed"] = list(store.rejected)
        if store.rebuilt:
            manifest["manifest_rebuilt"] = True
        todo = [(i, x[start:stop]) for i, start, stop in plan if i not in results]
        bounds = {i: (start, stop) for i, start, stop in plan}
        done_runs = sum(stop - start for i, start, stop in plan if i in results)
        with tqdm(
            total=runs,
            initial=done_runs,
            unit="run",
            desc=f"{method} sweep",
            disable=not progress,
            smoothing=0.3,
        ) as bar:
            keys = set(next(iter(results.values()))) if results else None
            for index, outcomes in executor.map(evaluate, todo):
                start, stop = bounds[index]
                _check_chunk(outcomes, stop - start, keys)
                keys = set(outcomes)
                store.save_chunk(index, start, stop, outcomes)
                results[index] = outcomes
                bar.update(stop - start)
    simulated = time.perf_counter()
    ordered = [results[i] for i, _, _ in plan]
    for (_, start, stop), chunk in zip(plan, ordered, strict=True):
        _check_chunk(chunk, stop - start, set(ordered[0]))
    outcomes = {k: np.concatenate([r[k] for r in ordered]) for k in ordered[0]}
    chosen = list(analysed) if analysed is not None else list(outcomes)
    missing = [k for k in chosen if k not in outcomes]
    if missing:
        raise CzsimError(f"evaluation did not return {', '.join(missing)}", key="outcomes")
    attrs = {
        "method": method,
        "n": int(n),
        "seed": int(seed),
        "runs": runs,
        **{k: v for k, v in (identity or {}).items() if isinstance(v, str | int | float)},
    }
    dataset = _dataset(problem, x, outcomes, times, attrs, variable_attrs or {})
    indices = methods.analyze(problem, method, x, {k: outcomes[k] for k in chosen}, seed, times)
    probs = methods.probabilities(outcomes)
    analysed_at = time.perf_counter()
    manifest.update(
        status="complete",
        finished=_now(),
        seconds=round(analysed_at - clock, 3),
        chunks_reused=len(plan) - len(todo),
        timing={
            "simulate": round(simulated - clock, 3),
            "analyse": round(analysed_at - simulated, 3),
        },
    )
    result = SweepResult(problem, dataset, indices, probs, {"identity": store.identity, **manifest})
    if store.out is None:
        return result
    out_dir = store.out
    files = [
        _write_netcdf(dataset, out_dir / "sweep.nc"),
        write_text(out_dir / "indices.csv", indices.to_csv(index=False)),
        write_text(out_dir / "probabilities.csv", probs.to_csv()),
    ]
    if report is not None:
        files += report(result, out_dir)
    manifest["files"] = [str(p.relative_to(out_dir)) for p in files]
    manifest["timing"]["write"] = round(time.perf_counter() - analysed_at, 3)
    manifest["seconds"] = round(time.perf_counter() - clock, 3)
    store.write_manifest(manifest)
    return replace(result, manifest={"identity": store.identity, **manifest})


def labels() -> tuple[dict[str, str], dict[str, str]]:
    """Bilingual labels of parameters and of targets, by name / id."""
    table = load_parameters()
    params = {p.name: f"{p.label_zh} {p.label_en}" for p in table.values()}
    targets = {t.id: f"{t.label_zh} {t.label_en}" for t in load_targets()}
    return params, targets


def _variable_attrs(names: Sequence[str], plan: OutcomePlan) -> dict[str, dict[str, str]]:
    """Dataset attributes: labels and units of the parameters, descriptions of outcomes."""
    table = load_parameters()
    out = {
        n: {"label_zh": table[n].label_zh, "label_en": table[n].label_en, "units": table[n].units}
        for n in names
    }
    return {**out, **outcome_attrs(plan)}


def _figures(
    scenario: str, method: str, analysed: Sequence[str]
) -> Callable[[SweepResult, Path], list[Path]]:
    """The ``report`` hook of :func:`run_sweep` for model sweeps."""

    def report(result: SweepResult, out: Path) -> list[Path]:
        params, targets = labels()
        scalars = [k for k in analysed if k != MAIN]
        headline = (
            f"{MAIN}_{SCALAR_YEAR}"
            if f"{MAIN}_{SCALAR_YEAR}" in scalars
            else (scalars[0] if scalars else None)
        )
        ds = result.dataset
        # Counter targets advance at rates the sweep rarely varies: plot them only when
        # their probability is uncertain; every model-explained target is always shown.
        basis = {t.id: t.basis for t in load_targets()}
        probs = result.probabilities
        p = probs["probability"].to_numpy()
        model = np.array([basis.get(i) == "model" for i in probs.index], dtype=bool)
        shown = probs[model | ((p > 0) & (p < 1))]
        return write_figures(
            result.indices,
            shown,
            ds["time"].values,
            ds[MAIN].values,
            outcome=headline,
            param_labels=params,
            target_labels=targets,
            target=scale_threshold(),
            target_year=SCALAR_YEAR,
            scenario=scenario,
            method=method,
            out=out,
            hidden=len(probs) - len(shown),
        )

    return report


def sweep(
    scenario: ScenarioLike,
    *,
    method: str,
    n: int,
    params: Sequence[str] | None = None,
    outcomes: Sequence[str] | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    chunk_size: int = 4096,
    progress: bool = False,
) -> SweepResult:
    """Run a sensitivity sweep of the model around a scenario.

    Parameters
    ----------
    scenario : Scenario, str or Path
        The base scenario (name in ``scenarios/`` or a file).
    method : {"morris", "sobol", "mc", "lhs"}
        ``sobol``: ``n`` base samples (a power of two), ``n*(D+2)`` runs, S1/ST.
    method : str
        A sweep method, a key of :data:`czsim.experiments.sweeps.methods.REGISTRY`.
        ``mc``/``lhs``: ``n`` runs, standardised regression coefficients (SRC).
    n : int
        Sample size in the method's sense (above).
    params : sequence of str, optional
        Parameters to vary (default: all of the scenario's ``[uncertain]`` ranges); each uses
        the scenario's range if it has one, else its bounds in ``model/parameters.toml``.
    outcomes : sequence of str, optional
        Outcomes to compute indices for (default: all of :func:`list_outcomes`). Indices of
        the main outcome (``Industrial scale`` 2022–2030, year by year) are always computed;
        target probabilities always cover every tracked target.
    seed : int
        Seeds sampling and bootstrap: the same call gives the same numbers.
    out : str or Path, optional
        Folder for ``manifest.json``, ``chunks/``, ``sweep.nc``, ``indices.csv``,
        ``probabilities.csv`` and figures. With it, a rerun resumes an interrupted sweep.
    overwrite : bool
        Replace an ``out`` folder holding a different sweep (else refused).
    scheduler : str, optional
        ``tcp://host:port`` of a Dask scheduler to run the chunks on. Its workers need czsim
        installed and the project's ``model/`` folder at the same path as here.
    workers : int, optional
        Run the chunks on a local Dask cluster of this many worker processes.
    chunk_size : int
        Runs per task (one ensemble-engine call each).
    progress : bool
        Show a progress bar with runs per second.

    Returns
    -------
    SweepResult

    Raises
    ------
    CzsimError
        Bad input (unknown names, empty ranges, unusable ``n``, no uncertain ranges and no
        ``params``), unreachable scheduler, ``out`` holding a different sweep.
    """
    check_seed(seed)
    scen = as_scenario(scenario)
    methods.get(method)
    problem = build_problem(scen, params)
    methods.check_n(method, n, problem["num_vars"])
    analysed, plan = plan_outcomes(outcomes)
    model = paths.MODEL_FILE
    evaluator = ModelEvaluator(
        scen.name, dict(scen.values), tuple(problem["names"]), plan, str(model)
    )
    identity = {
        "model_sha256": file_sha256(model),
        "targets_sha256": file_sha256(paths.TARGETS_FILE),
        "scenario": scen.name,
        "scenario_toml": scen.to_toml(),
    }
    info = {
        "scenario": scen.name,
        "model": str(model),
        "notes": {
            "scale_target_year": (
                f"first year in {MAIN_YEARS[0]}-{MAIN_YEARS[-1]} with Industrial scale >= "
                f"{scale_threshold():g}; runs that never reach it get {MAIN_YEARS[-1] + 1}"
            ),
            "probabilities": "share of all runs of the sample reaching each target",
        },
    }
    return run_sweep(
        problem,
        evaluator,
        method=method,
        n=n,
        seed=seed,
        analysed=[*analysed, MAIN],
        times=list(MAIN_YEARS),
        out=out,
        overwrite=overwrite,
        scheduler=scheduler,
        workers=workers,
        chunk_size=chunk_size,
        progress=progress,
        identity=identity,
        info=info,
        variable_attrs=_variable_attrs(problem["names"], plan),
        report=_figures(scen.name, method, analysed),
    )


# ----------------------------------------------------------------------------- command line
