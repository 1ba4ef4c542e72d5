"""Benchmark of the decision tools on the real model.

Run from the project root::

    PYTHONPATH=src .venv/bin/python bench/decisions.py
    PYTHONPATH=src .venv/bin/python bench/decisions.py --repeat 5

Times (wall clock, this process):

- the full break-even table: every key lever x every model-carried target from ``baseline``
  (one grid batch, three refinement batches, one verification batch); goal under 2 s;
- a 12-player exact Shapley attribution of 2025 industrial scale: ``baseline`` against
  ``baseline`` with all twelve key levers changed (to the plan's value where the plan sets
  one, else up by a tenth of the range), 2**12 = 4096 runs in one call; goal under 1 s.

The first model run of a process parses and compiles the model (cached afterwards, shared by
everything in czsim); it is timed first, on its own. "first" is then the first call of each
tool, "warm" the median of ``--repeat`` further calls; the goals apply to the warm figures.
"""

from __future__ import annotations

import argparse
import statistics
import time


def twelve_lever_scenarios():
    """``baseline`` and ``baseline`` with every key lever changed (12 parameters)."""
    import czsim

    base = czsim.load_scenario("baseline")
    plan = czsim.load_scenario("plan")
    table = czsim.load_parameters()
    changes = {}
    for p in table.key_levers():
        value = plan.values.get(p.name)
        if not isinstance(value, float) or value == base.value(p.name):
            value = min(p.high, float(base.value(p.name)) + 0.1 * (p.high - p.low))
        changes[p.name] = value
    return base, base.with_values(name="key_levers_changed", **changes)


def timed(fn, repeat: int) -> tuple[float, float, object]:
    t0 = time.perf_counter()
    result = fn()
    cold = time.perf_counter() - t0
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        warm.append(time.perf_counter() - t0)
    return cold, statistics.median(warm), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="warm repeats (median shown)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    import czsim

    czsim.run("baseline", times=[2025])
    print(f"import czsim + first model run (parse, compile): {time.perf_counter() - t0:.2f} s")

    cold, warm, table = timed(lambda: czsim.break_even(None, "baseline"), args.repeat)
    n_targets, n_levers = table["target"].nunique(), table["lever"].nunique()
    status = table["status"].value_counts().to_dict()
    print(
        f"break-even table: {n_levers} key levers x {n_targets} model targets = {len(table)} "
        f"rows, {table.attrs['n_runs']} runs in {table.attrs['n_calls']} engine calls"
    )
    print(f"  {status}")
    print(
        f"  first {cold:.2f} s, warm {warm:.2f} s (median of {args.repeat}); goal < 2 s: "
        f"{'met' if warm < 2 else 'MISSED'}"
    )

    base, other = twelve_lever_scenarios()
    cold, warm, res = timed(
        lambda: czsim.attribute(base, other, "industrial_scale", method="exact"), args.repeat
    )
    print(
        f"attribution: {len(res.table)} players, exact Shapley, {res.n_runs} runs; "
        f"difference {res.difference:.1f} 亿元, parts sum to it within "
        f"{abs(res.table['shapley'].sum() - res.difference):.1e}"
    )
    print(
        f"  first {cold:.2f} s, warm {warm:.2f} s (median of {args.repeat}); goal < 1 s: "
        f"{'met' if warm < 1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
