"""Benchmark the ensemble engine against PySD.

Run from the repository root::

    PYTHONPATH=src .venv/bin/python bench/engines.py [--sizes 1,1000,10000,100000] [--pysd-runs 5]

Uses ``model/changzhou.mdl`` with random draws from ``model/parameters.toml`` when both
exist; otherwise a generated synthetic model of similar size (ranges of 11, 3 and 49
elements, ~140 variables, stocks, SMOOTH, lookups, SUM).

Printed, all measured in this run (the machine is shared: read ratios, not absolutes):
the machine's streaming rate (numpy ``a*b+c`` over a batch's array shape) as the yardstick;
PySD set up fairly (the translated model loaded once, every parameter passed to each run);
one ensemble run with the same parameters, with the compiled C kernel (its first call
includes compiling it: the cache is a fresh folder) and with the numpy time loop; batches of
each size with wall and CPU time, runs per second and peak memory (tracemalloc), with the
kernel in all threads and in one, and with the numpy loop; one ``run`` + ``scorecard`` and
300-run bands + probabilities through the API.
"""

from __future__ import annotations

import argparse
import contextlib
import os
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

from czsim.engines import NonFiniteWarning, ensemble, kernel, model_info, run  # noqa: E402
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


@contextlib.contextmanager
def environment(**values: str):
    """Set environment variables for the block, then restore them."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
    ap.add_argument("--sizes", default="1,1000,10000,100000", help="batch sizes, comma-separated")
    ap.add_argument("--pysd-runs", type=int, default=5)
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    # the timed calls check their results for NaN/inf as every run does; the last line
    # reports what that check found
    warnings.simplefilter("ignore", NonFiniteWarning)
    with tempfile.TemporaryDirectory(prefix="czsim-bench-") as tmp:
        os.environ["CZSIM_CACHE"] = str(Path(tmp) / "cache")  # forces a fresh translation
        bench(Path(tmp), sizes, args.pysd_runs)


def streaming_rate(shape: tuple[int, ...]) -> float:
    """GB/s of numpy's ``a*b+c`` (into a preallocated result) over arrays of ``shape``."""
    rng = np.random.default_rng(0)
    a, b, c = (rng.random(shape) for _ in range(3))
    out = np.empty(shape)

    def op() -> None:
        np.multiply(a, b, out=out)
        np.add(out, c, out=out)

    wall, _ = timed(op, 20)
    return 5 * a.nbytes / wall / 1e9  # read a, b; write out; read out, c (write in place)


def pysd_fair(path: Path, constants: dict[str, np.ndarray], runs: int) -> tuple[float, float]:
    """Seconds per PySD run, the translated model loaded once and every parameter passed.

    The parameters are those the ensemble run gets, converted as czsim's PySD engine does.
    """
    import pysd

    from czsim.engines.inputs import prepare
    from czsim.engines.pysd_engine import _params_for_run, translated_model

    info = model_info(path)
    inputs = prepare(
        info,
        n_runs=1,
        constants=constants,
        series=None,
        variables=None,
        times=None,
        time_step=None,
    )
    params = _params_for_run(info, inputs, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pysd.load(str(translated_model(str(info.path), info.sha256)))
        return timed(
            lambda: model.run(
                params=params,
                return_columns=list(inputs.variables),
                return_timestamps=list(inputs.times),
                time_step=inputs.time_step,
                final_time=inputs.final_time,
            ),
            runs,
        )


def peak_memory(fn) -> float:
    """MiB allocated at the peak of ``fn()`` (tracemalloc: numpy buffers included)."""
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def bench(tmp: Path, sizes: list[int], pysd_runs: int) -> None:
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
    n_steps = round((info.final_time - info.initial_time) / info.time_step)
    print(
        f"model: {path.relative_to(REPO) if path.is_relative_to(REPO) else path.name} "
        f"({n_vars} variables, {n_values} values per saved time, {n_steps} Euler steps, "
        f"{len(params)} varied parameters); ensemble threads: {ensemble.threads()}"
    )
    for shape in ((10_000, 11), (1, 11)):
        print(f"machine: numpy a*b+c over {shape}: {streaming_rate(shape):6.1f} GB/s")

    rng = np.random.default_rng(0)
    one_constants = {name: np.asarray((lo + hi) / 2) for name, lo, hi in params}
    t = time.perf_counter()
    translated_model(str(info.path), info.sha256)
    print(f"PySD one-off translation:             {time.perf_counter() - t:8.3f} s")
    pysd, pysd_cpu = pysd_fair(path, one_constants, pysd_runs)
    print(
        f"PySD per run, fair (loaded once, {len(params)} parameters passed; median of "
        f"{pysd_runs}): {pysd:8.3f} s wall, {pysd_cpu:.3f} s CPU"
    )

    print(
        f"ensemble time loop: {'C kernel (cc: ' + kernel.compiler() + ')' if kernel.enabled() else 'numpy (no C compiler)'}"
    )
    t = time.perf_counter()
    run(path, constants=one_constants)
    print(f"ensemble first call (incl. compile):  {time.perf_counter() - t:8.3f} s")
    one, one_cpu = timed(lambda: run(path, constants=one_constants), 30)
    print(
        f"ensemble one run, same parameters (median of 30): {one * 1e3:8.2f} ms wall, "
        f"{one_cpu * 1e3:.2f} ms CPU; speed-up vs PySD {pysd / one:.0f}x wall, "
        f"{pysd_cpu / one_cpu:.0f}x CPU  (goal: <= 1.5 ms and >= 300x)"
    )
    with environment(CZSIM_KERNEL="numpy"):
        run(path, constants=one_constants)
        np_one, _ = timed(lambda: run(path, constants=one_constants), 10)
    print(
        f"  the same with the numpy time loop (median of 10): {np_one * 1e3:8.2f} ms wall; "
        f"kernel {np_one / one:.1f}x faster"
    )

    biggest = max(sizes)
    draws = {name: rng.uniform(lo, hi, size=biggest) for name, lo, hi in params}
    run(path, n_runs=2, constants={k: v[:2] for k, v in draws.items()})  # compile
    caught = []
    modes = (
        ("all threads", {}),
        ("1 thread", {"CZSIM_THREADS": "1"}),
        ("numpy loop", {"CZSIM_KERNEL": "numpy"}),
    )
    for n in sizes:
        constants = {k: v[:n] for k, v in draws.items()}
        repeat = 3 if n <= 10_000 else 1
        for label, env in modes:
            least = ensemble.KERNEL_MIN_BLOCK if kernel.enabled() else ensemble.MIN_BLOCK
            if "CZSIM_THREADS" in env and n < 2 * least:
                continue  # one block: the same as above
            with environment(**env):
                run(
                    path,
                    n_runs=min(n, 300),
                    constants={k: v[: min(n, 300)] for k, v in constants.items()},
                )
                wall, cpu = timed(lambda c=constants, n=n: run(path, n_runs=n, constants=c), repeat)
                with warnings.catch_warnings(record=True) as seen:
                    warnings.simplefilter("always", NonFiniteWarning)
                    peak = peak_memory(lambda c=constants, n=n: run(path, n_runs=n, constants=c))
                caught.extend(seen)
            print(
                f"ensemble {n:>7,} runs, {label:11s}: {wall:8.3f} s wall, {cpu:7.3f} s CPU, "
                f"{n / wall:9,.0f} runs/s, peak {peak:7.1f} MiB; vs {n:,} fair PySD runs "
                f"{pysd * n / wall:,.0f}x"
            )

    import pandas as pd

    import czsim

    czsim.run("baseline")
    w, c = timed(lambda: czsim.scorecard(czsim.run("baseline")), 10)
    print(f"API: run + scorecard (median of 10):  {w * 1e3:8.2f} ms wall, {c * 1e3:.2f} ms CPU")
    frame = pd.DataFrame(
        {
            "industrial_investment_growth": rng.uniform(0.0, 0.15, 300),
            "demand_growth_nev": rng.uniform(0.05, 0.3, 300),
        }
    )
    from czsim.targets import probabilities

    w, c = timed(lambda: probabilities(czsim.run_many("baseline", frame)), 5)
    print(f"API: 300-run bands + probabilities:   {w * 1e3:8.2f} ms wall, {c * 1e3:.2f} ms CPU")
    if caught:
        print(f"note: {caught[0].message}")


if __name__ == "__main__":
    main()
