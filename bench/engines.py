"""Benchmark the ensemble engine against PySD.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python bench/engines.py [--runs 10000] [--pysd-runs 5]

Uses ``model/changzhou.mdl`` with random draws from ``model/parameters.toml`` when both
exist; otherwise a generated synthetic model of similar size (ranges of 11, 3 and 49
elements, ~140 variables, stocks, SMOOTH, lookups, SUM). Goals on a 2-core machine: one
run >= 100x faster than PySD; 10,000 runs < 2 s; peak memory of that call < 2 GB.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import tomllib
import tracemalloc
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from czsim.engines import NonFiniteWarning, model_info, run  # noqa: E402
from czsim.engines.pysd_engine import translated_model  # noqa: E402

REAL_MODEL = REPO / "model" / "changzhou.mdl"
REAL_PARAMETERS = REPO / "model" / "parameters.toml"


def synthetic_model(folder: Path) -> tuple[Path, list[tuple[str, float, float]]]:
    """Write a model of the real model's size; return its path and (name, low, high)s."""
    clusters = [f"c{i}" for i in range(11)]
    counters = [f"k{i}" for i in range(49)]
    lines = [
        "{UTF-8}",
        f"Cluster: {', '.join(clusters)} ~ ~ |",
        "Group: g1, g2, g3 ~ ~ |",
        f"Counter: {', '.join(counters)} ~ ~ |",
        "Group weight[Group, Cluster] = "
        + "; ".join(", ".join(f"{(i * 7 + j) % 5 / 4:.2f}" for j in range(11)) for i in range(3))
        + "; ~ Dmnl ~ |",
        "Effect table([(0,0)-(3,2)],(0,0.5),(1,1),(2,1.4),(3,1.6)) ~ Dmnl ~ |",
        "Counter base[Counter] = " + ", ".join(str(1 + i % 7) for i in range(49)) + " ~ Dmnl ~ |",
        "Counter level[Counter] = INTEG(Counter base[Counter] * Counter rate, "
        "Counter base[Counter]) ~ Dmnl ~ |",
        "Counter rate = 0.02 ~ 1/Year ~ |",
        "Counter total = SUM(Counter level[Counter!]) ~ Dmnl ~ |",
    ]
    params = [("Counter rate", 0.0, 0.05)]
    for n in range(12):
        lines += [
            f"Growth {n}[Cluster] = {0.03 + n / 400:.4f} ~ 1/Year ~ |",
            f"Capacity {n}[Cluster] = INTEG(Investment {n}[Cluster], 100) ~ Dmnl ~ |",
            f"Investment {n}[Cluster] = Capacity {n}[Cluster] * Growth {n}[Cluster] * "
            f"Effect table(Pressure {n}) ~ Dmnl/Year ~ |",
            f"Pressure {n} = ZIDZ(Capacity total {n}, Perceived {n}) ~ Dmnl ~ |",
            f"Capacity total {n} = SUM(Capacity {n}[Cluster!]) ~ Dmnl ~ |",
            f"Perceived {n} = SMOOTH3(Capacity total {n}, 2) ~ Dmnl ~ |",
            f"Group output {n}[Group] = SUM(Group weight[Group, Cluster!] * "
            f"Capacity {n}[Cluster!]) ~ Dmnl ~ |",
            f"Capped {n}[Cluster] = IF THEN ELSE(Capacity {n}[Cluster] > 150, 150, "
            f"MAX(0, Capacity {n}[Cluster])) ~ Dmnl ~ |",
            f"Share {n}[Cluster] = XIDZ(Capacity {n}[Cluster], Capacity total {n}, 0) ~ Dmnl ~ |",
            f"Initial total {n} = INITIAL(Capacity total {n}) ~ Dmnl ~ |",
            f"Index {n} = Capacity total {n} / Initial total {n} ~ Dmnl ~ |",
        ]
        params += [(f"Growth {n}[{c}]", 0.0, 0.1) for c in clusters[:2]]
    lines += [
        "INITIAL TIME = 2021 ~ Year ~ |",
        "FINAL TIME = 2030 ~ Year ~ |",
        "TIME STEP = 0.25 ~ Year ~ |",
        "SAVEPER = 1 ~ Year ~ |",
    ]
    path = folder / "synthetic.mdl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, params


def timed(fn, repeat: int) -> tuple[float, float]:
    """Median wall-clock and median CPU seconds of ``repeat`` calls. CPU time is shown
    too because other processes on a shared 2-core machine inflate wall time."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--pysd-runs", type=int, default=5)
    args = ap.parse_args()
    # the timed calls check their results for NaN/inf as every run does; the last line
    # reports what that check found
    warnings.simplefilter("ignore", NonFiniteWarning)
    with tempfile.TemporaryDirectory(prefix="czsim-bench-") as tmp:
        os.environ["CZSIM_CACHE"] = str(Path(tmp) / "cache")  # forces a fresh translation
        bench(Path(tmp), args.runs, args.pysd_runs)


def bench(tmp: Path, n: int, pysd_runs: int) -> None:
    """Print the figures; ``tmp`` holds the synthetic model and the PySD translation."""
    if REAL_MODEL.is_file() and REAL_PARAMETERS.is_file():
        path = REAL_MODEL
        table = tomllib.loads(REAL_PARAMETERS.read_text(encoding="utf-8"))["parameter"]
        params = [(p["variable"], p["low"], p["high"]) for p in table]
    else:
        path, params = synthetic_model(tmp)
    info = model_info(path)
    n_vars = sum(v.type != "lookup" for v in info.variables.values())
    n_values = sum(int(np.prod(v.shape)) for v in info.variables.values() if v.type != "lookup")
    print(
        f"model: {path.relative_to(REPO) if path.is_relative_to(REPO) else path.name} "
        f"({n_vars} variables, {n_values} values per saved time, "
        f"{len(params)} varied parameters)"
    )

    t = time.perf_counter()
    translated_model(str(info.path), info.sha256)
    print(f"PySD one-off translation:           {time.perf_counter() - t:8.3f} s")
    pysd, pysd_cpu = timed(lambda: run(path, engine="pysd"), pysd_runs)
    print(
        f"PySD per run (median of {pysd_runs}, fresh load + run + reshape): "
        f"{pysd:8.3f} s wall, {pysd_cpu:.3f} s CPU"
    )

    t = time.perf_counter()
    run(path)
    print(f"ensemble first call (incl. compile): {time.perf_counter() - t:8.3f} s")
    one, one_cpu = timed(lambda: run(path), 30)
    print(
        f"ensemble one run (median of 30):     {one * 1e3:8.2f} ms wall, "
        f"{one_cpu * 1e3:.2f} ms CPU; speed-up vs PySD {pysd / one:.0f}x wall, "
        f"{pysd_cpu / one_cpu:.0f}x CPU  (goal >= 100x)"
    )

    rng = np.random.default_rng(0)
    constants = {name: rng.uniform(lo, hi, size=n) for name, lo, hi in params}
    run(path, n_runs=2, constants={k: v[:2] for k, v in constants.items()})  # compile
    big, big_cpu = timed(lambda: run(path, n_runs=n, constants=constants), 3)
    print(
        f"ensemble {n} runs (median of 3):  {big:8.3f} s wall, {big_cpu:.3f} s CPU  "
        f"({n / big:,.0f} runs/s wall; speed-up vs {n} PySD runs {pysd * n / big:,.0f}x)"
        "  (goal < 2 s)"
    )

    maxrss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", NonFiniteWarning)
        ds = run(path, n_runs=n, constants=constants)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    maxrss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # nbytes counts time-invariant variables, returned as broadcast views, at full size
    out_mb = sum(v.nbytes for v in ds.data_vars.values()) / 2**20
    print(
        f"peak memory of the {n}-run call: tracemalloc peak {peak / 2**20:.1f} MiB "
        f"(numpy buffers included; result's nominal size {out_mb:.1f} MiB); "
        f"process maxrss grew by {(maxrss1 - maxrss0) / 1024:.1f} MiB  (goal < 2 GiB)"
    )
    if caught:
        print(f"note: {caught[0].message}")


if __name__ == "__main__":
    main()
