"""Benchmark of sensitivity sweeps: a Sobol sweep of the real model, in-process and on a
1- and a 2-worker Dask LocalCluster, against the time PySD would need for the same runs.

Run from the project root::

    PYTHONPATH=src .venv/bin/python bench/sweeps.py            # N = 1024, baseline
    PYTHONPATH=src .venv/bin/python bench/sweeps.py --n 256 --pysd-runs 2

The sweep varies every ``[uncertain]`` range of the scenario (16 or more), so N = 1024
gives N * (D + 2) runs (18,432 for 16 parameters). Each configuration runs cold in its own
fresh Python process and is timed end to end: importing czsim, then ``sweep()`` (parsing
the model, sampling, simulation, analysis, writing ``sweep.nc``, the CSVs and figures into a
temporary folder). "simulate" is split into the executor's start (a local cluster's workers
up, the kernel compiled), the chunks' evaluation and the executor's stop. The PySD figure is the measured time per run (a freshly loaded PySD model
each run, as the ``pysd`` engine does) times the number of runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START = time.perf_counter()


def one(scenario: str, n: int, out: Path, workers: int | None, chunk_size: int | None) -> None:
    """Run one sweep in this (fresh) process and print its timings as JSON."""
    from czsim.experiments.sweeps import sweep

    imported = time.perf_counter()
    result = sweep(scenario, method="sobol", n=n, out=out, workers=workers, chunk_size=chunk_size)
    done = time.perf_counter()
    print(
        json.dumps(
            {
                "import": imported - START,
                "sweep": done - imported,
                **result.manifest,
                "num_params": len(result.problem["names"]),
            }
        )
    )


def cold(scenario: str, n: int, out: Path, workers: int | None, chunk_size: int | None) -> dict:
    """Timings of :func:`one` run in a new interpreter."""
    cmd = [sys.executable, __file__, "--scenario", scenario, "--n", str(n), "--one", str(out)]
    if chunk_size is not None:
        cmd += ["--chunk-size", str(chunk_size)]
    if workers:
        cmd += ["--workers", str(workers)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def pysd_seconds_per_run(scenario: str, runs: int) -> list[float]:
    """Seconds per single PySD run (same variables and save times as the sweep), after one
    untimed run that pays PySD's one-off translation of the model."""
    import czsim
    from czsim.experiments.sweeps.outcomes import plan_outcomes

    _, plan = plan_outcomes(None)
    kwargs = {"engine": "pysd", "variables": list(plan.variables), "times": list(plan.times)}
    czsim.run(scenario, **kwargs)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        czsim.run(scenario, **kwargs)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="baseline")
    parser.add_argument("--n", type=int, default=1024, help="Sobol base sample (power of 2)")
    parser.add_argument("--pysd-runs", type=int, default=3, help="PySD runs to time")
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="runs per task (default: the sweep's own, about four chunks per worker)",
    )
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # child: run one sweep
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args.scenario, args.n, args.one, args.workers, args.chunk_size)
        return

    import numpy as np
    import xarray as xr

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        configurations = (
            ("in-process", None),
            ("LocalCluster, 1 worker", 1),
            ("LocalCluster, 2 workers", 2),
        )
        for name, workers in configurations:
            out = Path(tmp) / name.replace(",", "").replace(" ", "_")
            rows.append(
                (
                    name,
                    cold(args.scenario, args.n, out, workers, args.chunk_size),
                    xr.load_dataset(out / "sweep.nc"),
                )
            )
    (_, first, local), (_, one_worker, _), (_, two_workers, dask) = rows
    differ = [v for v in local.data_vars if not np.array_equal(local[v].values, dask[v].values)]
    per_run = pysd_seconds_per_run(args.scenario, args.pysd_runs)
    runs = first["runs"]

    print(
        f"Sobol sweep of '{args.scenario}': {first['num_params']} parameters, N = {args.n}, "
        f"{runs:,} runs, {len(first['identity']['outcomes'])} outcomes analysed; each "
        "configuration cold in a fresh process"
    )
    print(
        f"{'executor':<25}{'import s':>9}{'sweep s':>9}{'total s':>9}{'runs/s':>9}"
        f"{'simulate s':>12}{'= start':>9}{'+ eval':>8}{'+ stop':>8}{'eval runs/s':>13}"
        f"{'analyse s':>11}{'write s':>9}"
    )
    for name, m, _ in rows:
        t = m["timing"]
        total = m["import"] + m["sweep"]
        print(
            f"{name:<25}{m['import']:>9.2f}{m['sweep']:>9.2f}{total:>9.2f}"
            f"{runs / m['sweep']:>9,.0f}{t['simulate']:>12.2f}{t['start']:>9.2f}"
            f"{t['evaluate']:>8.2f}{t['stop']:>8.2f}{runs / t['evaluate']:>13,.0f}"
            f"{t['analyse']:>11.2f}{t['write']:>9.2f}"
        )
    median = statistics.median(per_run)
    print(
        f"{'PySD (estimated)':<25}{'':>9}{median * runs:>9,.0f}{'':>9}{1 / median:>9,.2f}"
        f"   ({args.pysd_runs} runs measured: {', '.join(f'{s:.2f}' for s in per_run)} s)"
    )
    print(f"speed-up of the in-process sweep over PySD: {median * runs / first['sweep']:,.0f}x")
    sim1, sim2 = one_worker["timing"]["simulate"], two_workers["timing"]["simulate"]
    ev1, ev2 = one_worker["timing"]["evaluate"], two_workers["timing"]["evaluate"]
    print(
        f"2 Dask workers vs 1 on the simulation part: {ev1 / ev2:.2f}x evaluating the chunks "
        f"(goal >= 1.7x); {sim1 / sim2:.2f}x with the cluster's start and stop"
    )
    print(
        "in-process and LocalCluster results identical: "
        + ("yes" if not differ else f"NO, {len(differ)} variables differ, e.g. {differ[:3]}")
    )


if __name__ == "__main__":
    main()
