"""The generic sweep: sample, run chunks (resumable), analyse; for any evaluator of the sample.

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

import contextlib
import math
import platform
import threading
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

from czsim.errors import CzsimError, InputError, LimitError
from czsim.experiments.sweeps import methods
from czsim.experiments.sweeps.executors import Evaluate, open_executor
from czsim.experiments.sweeps.store import SweepStore
from czsim.guards import MAX_MEMORY, MAX_RUNS
from czsim.io import temporary_sibling, write_text

__all__ = ["SweepResult", "check_seed", "run_sweep"]

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


#: Bounds of the automatic chunk size: below 256 runs a chunk's fixed costs (a task, the
#: engine's set-up) show; above 4,096 a chunk holds more memory and progress is coarse.
MIN_AUTO_CHUNK, MAX_AUTO_CHUNK = 256, 4096
#: The automatic chunk size gives each evaluation slot about this many chunks, so the
#: last ones do not leave workers idle (7 chunks on 2 workers split 4 + 3: 1.6x, not 2x).
CHUNKS_PER_SLOT = 4


def auto_chunk_size(runs: int, slots: int) -> int:
    """Return runs per chunk: about ``CHUNKS_PER_SLOT`` chunks per slot, within bounds."""
    wanted = math.ceil(runs / (CHUNKS_PER_SLOT * max(1, slots)))
    return max(MIN_AUTO_CHUNK, min(MAX_AUTO_CHUNK, wanted))


def _chunks(runs: int, chunk_size: int) -> list[tuple[int, int, int]]:
    """``(index, start, stop)`` of each chunk of ``runs`` runs."""
    return [
        (i, start, min(start + chunk_size, runs))
        for i, start in enumerate(range(0, runs, chunk_size))
    ]


def _check_chunk(outcomes: Mapping[str, np.ndarray], rows: int, keys: set[str] | None) -> None:
    """Check that a chunk gives every outcome for each of its ``rows`` runs.

    A chunk must give every outcome for each of its ``rows`` runs, with the same keys as the
    chunks before it (an evaluator bug would otherwise misalign runs silently).
    """
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
    """Align samples and outcomes on ``run`` (2-D outcomes on ``(run, time)``)."""
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


def _warm_up(evaluate: Evaluate, x: np.ndarray) -> threading.Thread | None:
    """Start ``evaluate.warm_up(x)`` in a thread, if the evaluator has one.

    Used while a local cluster's workers start: whatever the evaluator prepares on this machine
    (the model evaluator compiles its kernel into the cache the workers share) is then ready
    for them. A failure here is left for the workers to report.
    """
    warm = getattr(evaluate, "warm_up", None)
    if warm is None:
        return None

    def target() -> None:
        with contextlib.suppress(Exception):
            warm(x)

    thread = threading.Thread(target=target, name="czsim-warm-up", daemon=True)
    thread.start()
    return thread


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
    chunk_size: int | None = None,
    progress: bool = False,
    identity: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    variable_attrs: Mapping[str, Mapping[str, str]] | None = None,
    report: Callable[[SweepResult, Path], Sequence[Path]] | None = None,
) -> SweepResult:
    """Sample ``problem``, evaluate it chunk by chunk, analyse.

    The engine-agnostic core of :func:`sweep` (any ``evaluate`` works, e.g. an analytic test
    function).

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
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1
    ):
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
    started, clock = _now(), time.perf_counter()
    results: dict[int, dict[str, np.ndarray]] = {}
    warming = _warm_up(evaluate, x) if workers is not None else None
    with open_executor(scheduler, workers) as executor:
        if warming is not None:
            warming.join()
        ready = time.perf_counter()  # a local cluster's workers are up
        if chunk_size is None:  # a resumed sweep keeps its chunks; else fit the workers
            chunk_size = store.previous_chunk_size or auto_chunk_size(runs, executor.slots)
        plan = _chunks(runs, chunk_size)
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
        evaluated = time.perf_counter()
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
        # simulate: start of the sweep to the last chunk's results, the executor's start and
        # stop included; its parts: start (a local cluster's workers up, the kernel compiled),
        # evaluate (the chunks themselves) and stop (closing the cluster)
        timing={
            "simulate": round(simulated - clock, 3),
            "start": round(ready - clock, 3),
            "evaluate": round(evaluated - ready, 3),
            "stop": round(simulated - evaluated, 3),
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
