"""Break-even: the value of one lever at which a target is met exactly, the others fixed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from czsim.decisions.batch import Batch, PerRun, context, current_value, outcome_of
from czsim.parameters import Parameter, ParameterTable
from czsim.scenarios import Scenario
from czsim.targets import Target

COLUMNS = [
    "target",
    "lever",
    "label_en",
    "label_zh",
    "units",
    "year",
    "comparator",
    "target_value",
    "unit",
    "current",
    "current_value",
    "low",
    "high",
    "status",
    "break_even",
    "distance",
    "value_at_break_even",
    "direction",
    "n_crossings",
    "crossings",
    "best_value",
    "best_at",
]


def break_even(
    target: str | Target | Sequence[str | Target] | None = "industrial_scale",
    scenario: Scenario | str | Path | None = "baseline",
    levers: Sequence[str | Parameter] | None = None,
    *,
    grid: int = 33,
    refine: int = 3,
    points: int = 16,
    model: str | Path | None = None,
    table: ParameterTable | None = None,
    targets: Sequence[Target] | None = None,
) -> pd.DataFrame:
    """Find the value of each lever at which each target is met exactly in its year, others fixed.

    Method: one ensemble call runs every lever over an even ``grid`` of its range
    ``[low, high]`` (all other parameters at the scenario's values). Every sign change of
    ``value - target`` between neighbouring grid points is a crossing; each crossing's
    interval is refined ``refine`` times by a batch of ``points`` interior runs (all crossings
    of all targets and levers in one call per round), then the crossing is the linear
    interpolant's root in the last interval and one verification batch runs it. If the
    verified value misses the target (a jump, e.g. a count), the end of the last interval on
    the met side is reported instead, so applying ``break_even`` always meets the target.

    Non-monotone responses: every crossing is listed in ``crossings`` (ascending);
    ``break_even`` is the one nearest the current value. Crossings closer together than one
    grid step can be missed; raise ``grid`` for wiggly responses.

    Parameters
    ----------
    target : str, Target, sequence of them or None
        Target id(s); ``None`` means every model-carried target (``basis = "model"``).
    scenario : Scenario, str or Path, optional
        Where the other parameters stay (default ``"baseline"``; ``None``: model defaults).
    levers : sequence of str or Parameter, optional
        Parameter names; default the key levers (``key = true`` in ``parameters.toml``).
    grid : int
        Grid points per lever in the first batch.
    refine, points : int
        Refinement rounds and interior points per round.
    model, table, targets
        Model file, parameter table and targets (default: the project's).

    Returns
    -------
    pandas.DataFrame
        One row per target × lever, columns:
        ``current`` (the lever's value in the scenario, a time series read at the target
        year; lever units), ``current_value`` (the target variable there, display units:
        percent for shares), ``status``: ``"break-even"``, ``"always met"`` (met over the
        whole range) or ``"unreachable"`` (not met anywhere within ``[low, high]``);
        ``break_even`` (lever units; NaN unless a crossing was found); ``distance`` =
        ``(break_even - current) / (high - low)``, the signed change in fractions of the
        range; ``value_at_break_even`` (verified, display units); ``direction`` (+1 if
        raising the lever raises the outcome at the crossing, -1 otherwise); ``crossings``
        (tuple of all crossings); ``best_value`` and ``best_at``: the best value reached on
        the grid and where (for "unreachable" rows, how close one gets).

    Notes
    -----
    The lever is set to a constant over the whole run, replacing a time series the scenario
    may give it. For ``approx`` targets the crossing is where the value equals the target's
    central value.

    Examples
    --------
    >>> import czsim
    >>> table = czsim.break_even("industrial_scale", "slowdown", ["industrial_investment_growth"])
    >>> table[["lever", "status", "break_even"]]  # doctest: +SKIP
    >>> everything = czsim.break_even(None)  # every model target x every key lever
    """
    ctx = context(model, table, targets)
    sc = ctx.scenario(scenario)
    if target is None:
        chosen = ctx.carried()
    elif isinstance(target, str | Target):
        chosen = [ctx.target(target)]
    else:
        chosen = [ctx.target(t) for t in target]
    params = ctx.levers(levers)
    outcomes = [outcome_of(t) for t in chosen]
    batch = Batch(ctx, sc, outcomes)
    n_l, g = len(params), max(int(grid), 3)

    # batch 1: the base run plus every lever over its grid
    xs = np.stack([np.linspace(p.low, p.high, g) for p in params])  # (L, G)
    varying = {}
    for j, p in enumerate(params):
        vals = np.full(1 + n_l * g, p.low)
        keep = np.ones(1 + n_l * g, dtype=bool)
        vals[1 + j * g : 1 + (j + 1) * g] = xs[j]
        keep[1 + j * g : 1 + (j + 1) * g] = False
        varying[p.name] = PerRun(vals, keep)
    first = batch.run(varying, 1 + n_l * g)

    # brackets of every (target, lever)
    brackets = []  # (ti, j, lo, hi, f_lo, f_hi)
    for ti, t in enumerate(chosen):
        f = (first[t.id][1:] - t.value).reshape(n_l, g)
        for j in range(n_l):
            fj = f[j]
            for i in range(g - 1):
                a, b = fj[i], fj[i + 1]
                if a == 0.0 and i > 0:
                    continue  # counted as the right end of the previous interval
                if a == 0.0 or a * b < 0 or (b == 0.0 and i == g - 2):
                    brackets.append([ti, j, xs[j, i], xs[j, i + 1], a, b])

    for _ in range(max(int(refine), 0)):
        if not brackets:
            break
        brackets = _refine(batch, chosen, params, brackets, points)

    roots = np.array([_root(b) for b in brackets]) if brackets else np.zeros(0)
    verified = _evaluate(batch, params, [(b[1], r) for b, r in zip(brackets, roots, strict=True)])

    rows = []
    for ti, t in enumerate(chosen):
        o = outcomes[ti]
        f_all = first[t.id][1:].reshape(n_l, g)
        for j, p in enumerate(params):
            mine = [k for k, b in enumerate(brackets) if b[0] == ti and b[1] == j]
            crossings, values, directions = [], [], []
            for k in mine:
                b = brackets[k]
                x, v = float(roots[k]), float(verified[t.id][k])
                if not bool(t.reached(v)):  # a jump: take the interval's end on the met side
                    x = float(b[2] if t.reached(b[4] + t.value) else b[3])
                    v = float(b[4] + t.value if x == b[2] else b[5] + t.value)
                crossings.append(x)
                values.append(v)
                directions.append(1 if b[5] > b[4] else -1)
            current = current_value(sc, p, t.year)
            gaps = t.gap(f_all[j])
            best = int(np.argmax(gaps))
            met = t.reached(f_all[j])
            row = {
                "target": t.id,
                "lever": p.name,
                "label_en": p.label_en,
                "label_zh": p.label_zh,
                "units": p.units,
                "year": t.year,
                "comparator": t.comparator,
                "target_value": t.value * o.scale,
                "unit": t.unit,
                "current": current,
                "current_value": float(first[t.id][0]) * o.scale,
                "low": p.low,
                "high": p.high,
                "best_value": float(f_all[j, best]) * o.scale,
                "best_at": float(xs[j, best]),
                "n_crossings": len(crossings),
                "crossings": tuple(crossings),
            }
            if crossings:
                k = int(np.argmin([abs(x - current) for x in crossings]))
                row.update(
                    status="break-even",
                    break_even=crossings[k],
                    distance=(crossings[k] - current) / (p.high - p.low),
                    value_at_break_even=values[k] * o.scale,
                    direction=directions[k],
                )
            else:
                row.update(
                    status="always met" if met.all() else "unreachable",
                    break_even=math.nan,
                    distance=math.nan,
                    value_at_break_even=math.nan,
                    direction=0,
                )
            rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame.attrs.update(scenario=sc.name, n_runs=batch.n_runs, n_calls=batch.n_calls)
    return frame


def _evaluate(batch: Batch, params: list[Parameter], points: list[tuple[int, float]]):
    """Outcomes of runs that each set one lever (index, value), the rest as in the scenario."""
    n = len(points)
    if n == 0:
        return {o.key: np.zeros(0) for o in batch.outcomes}
    varying = {}
    for j, p in enumerate(params):
        vals = np.full(n, p.low)
        keep = np.ones(n, dtype=bool)
        for r, (jj, x) in enumerate(points):
            if jj == j:
                vals[r] = min(max(x, p.low), p.high)
                keep[r] = False
        if not keep.all():
            varying[p.name] = PerRun(vals, keep)
    return batch.run(varying, n)


def _refine(batch, chosen, params, brackets, points):
    """One round: ``points`` interior runs in every bracket, all in one call."""
    m = max(int(points), 1)
    fr = np.arange(1, m + 1) / (m + 1)
    runs = []
    for b in brackets:
        runs += [(b[1], b[2] + (b[3] - b[2]) * s) for s in fr]
    out = _evaluate(batch, params, runs)
    new = []
    for k, b in enumerate(brackets):
        t = chosen[b[0]]
        xs = np.concatenate([[b[2]], [x for _, x in runs[k * m : (k + 1) * m]], [b[3]]])
        f = np.concatenate([[b[4]], out[t.id][k * m : (k + 1) * m] - t.value, [b[5]]])
        hit = next(
            (i for i in range(len(xs) - 1) if f[i] == 0.0 or f[i] * f[i + 1] < 0),
            None,
        )
        if hit is None:
            hit = len(xs) - 2  # the zero sits at the right end
        new.append([b[0], b[1], xs[hit], xs[hit + 1], f[hit], f[hit + 1]])
    return new


def _root(b) -> float:
    _, _, lo, hi, f_lo, f_hi = b
    if f_lo == 0.0:
        return float(lo)
    if f_hi == 0.0 or f_hi == f_lo:
        return float(hi)
    return float(lo - f_lo * (hi - lo) / (f_hi - f_lo))
