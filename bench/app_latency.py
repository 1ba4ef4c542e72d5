"""Latency of the app from a changed slider to a finished rerun, measured with AppTest.

Three figures, each the median of several reruns in one process (so they share the machine's
load at that moment):

* baseline: a rerun with nothing changed (widgets, charts, cache hits; no simulation);
* single run: the overview page after a slider moved to a value not seen before
  (one simulation, scorecard, charts);
* uncertainty: the uncertainty page after the same kind of change (one simulation plus an
  ensemble of 300 seeded Latin-hypercube runs for the bands and probabilities).

Goals: single run < 300 ms, uncertainty < 1.5 s. Run: ``python bench/app_latency.py``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[1] / "app.py"
SLIDER = "p:industrial_investment_growth"
GOALS = {"single run": 0.300, "uncertainty bands": 1.5}


def _timed(at: AppTest, change: Callable[[AppTest], None]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one rerun after ``change``.

    CPU time (the process's, all threads) is printed too because the wall clock of a shared
    2-core machine also counts other people's work.
    """
    change(at)
    wall, cpu = time.perf_counter(), time.process_time()
    at.run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return wall, cpu


def _slider_values(count: int, offset: float) -> list[float]:
    """Distinct slider positions never used before in this process, so every rerun simulates
    (a value seen before would be a cache hit)."""
    return [round(offset + 0.005 * i, 3) for i in range(count)]


def measure(repeats: int) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds per rerun for the baseline, one run, and one run with uncertainty
    bands."""
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()  # compiles the model and fills the baseline's cache
    at.run()
    out: dict[str, list[tuple[float, float]]] = {
        "baseline (no change)": [],
        "single run": [],
        "uncertainty bands": [],
    }
    for _ in range(repeats):
        out["baseline (no change)"].append(_timed(at, lambda a: None))
    for value in _slider_values(repeats, 0.100):
        out["single run"].append(_timed(at, lambda a, v=value: a.slider(key=SLIDER).set_value(v)))
    at.sidebar.radio(key="page").set_value("uncertainty").run()
    for value in _slider_values(repeats, 0.180):
        out["uncertainty bands"].append(
            _timed(at, lambda a, v=value: a.slider(key=SLIDER).set_value(v))
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="reruns per figure (default 7)")
    args = parser.parse_args()
    figures = measure(args.repeats)
    print(
        f"App latency (AppTest), median of {args.repeats} reruns, milliseconds; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    print(f"  {'':<22} {'wall':>7} {'(min-max)':>13} {'CPU':>7}")
    for name, times in figures.items():
        wall = [w for w, _ in times]
        cpu = statistics.median(c for _, c in times)
        median = statistics.median(wall)
        goal = GOALS.get(name)
        verdict = (
            ""
            if goal is None
            else (f"  goal < {goal * 1000:.0f}: {'met' if median < goal else 'MISSED'}")
        )
        span = f"({min(wall) * 1000:.0f}-{max(wall) * 1000:.0f})"
        print(f"  {name:<22} {median * 1000:7.0f} {span:>13} {cpu * 1000:7.0f}{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
