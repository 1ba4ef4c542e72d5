"""Find what it takes: the smallest change of several levers that reaches a target.

The target can optionally be reached with a given probability under the scenario's
uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from czsim.decisions.batch import (
    Batch,
    PerRun,
    context,
    current_value,
    draws,
    outcome_of,
    variable_outcome,
)
from czsim.parameters import Parameter, ParameterTable
from czsim.scenarios import Scenario
from czsim.targets import Target


@dataclass(frozen=True)
class Solution:
    """The answer of :func:`what_it_takes`.

    Attributes
    ----------
    status : str
        ``"reached"`` (a change was found that meets the target), ``"already met"`` (the
        scenario meets it as it is) or ``"not reachable"`` (not even the best combination
        within the levers' bounds meets it; ``levers`` then holds that best combination).
    levers : pandas.DataFrame
        Index lever name; ``label_en``, ``units``, ``low``, ``high``, ``current``,
        ``setting`` (lever units), ``change`` (``setting - current``) and ``change_fraction``
        (``change / (high - low)``).
    distance : float
        Norm (``norm``) of ``change_fraction`` over the levers.
    value : float
        The target variable at the setting in the scenario itself (no draws), display units.
    probability : float
        Share of the seeded draws meeting the target at the setting (1.0/0.0 without draws).
    required_probability : float or None
    cost : float or None
        Mean of the cost variable over the draws at the setting, when a cost variable is given.
    cost_at_current : float or None
    scenario : Scenario
        The scenario with the settings applied.
    method, message : str
    n_runs : int
        Model runs used.
    """

    status: str
    target: str
    levers: pd.DataFrame
    distance: float
    value: float
    probability: float
    required_probability: float | None
    cost: float | None
    cost_at_current: float | None
    scenario: Scenario
    method: str
    message: str
    n_runs: int
    meta: dict = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, float]:
        """The lever settings, by name (lever units)."""
        return {k: float(v) for k, v in self.levers["setting"].items()}


def what_it_takes(
    target: str | Target = "industrial_scale",
    scenario: Scenario | str | Path | None = "baseline",
    levers: Sequence[str | Parameter] | None = None,
    *,
    probability: float | None = None,
    n_draws: int = 100,
    seed: int = 0,
    uncertain: Mapping[str, tuple[float, float]] | None = None,
    norm: Literal["l2", "l1"] = "l2",
    cost: str | None = None,
    fd_step: float = 1e-3,
    maxiter: int = 60,
    model: str | Path | None = None,
    table: ParameterTable | None = None,
    targets: Sequence[Target] | None = None,
) -> Solution:
    """Find the smallest change of ``levers`` that reaches ``target`` (with ``probability``).

    The change is measured in fractions of each lever's range, ``z_i = (x_i - low_i) /
    (high_i - low_i)``, so levers of different units are comparable; the objective is the
    squared Euclidean (``"l2"``) or the (smoothed) absolute (``"l1"``) norm of ``z - z0``.

    Method: the problem ``min ||z - z0|| s.t. c(z) >= 0, z in [0, 1]^n`` is solved by
    sequential linearisation: at the iterate ``z`` the constraint is replaced by its
    linearisation ``c(z) + g (y - z) >= 0`` and the next iterate is the exact nearest point
    of the box to ``z0`` meeting it (for L2 ``clip(z0 + lam g)`` with the multiplier ``lam``
    from ``scipy.optimize.brentq``; for L1 a fractional knapsack: the levers with the largest
    effect per range fraction are used first). A fixed point meets the KKT conditions. Steps
    are halved whenever ``|c|`` stops shrinking (kinks such as saturations make plain steps
    cycle). Without ``probability`` ``c`` is the target's gap (met when >= 0) in the scenario
    itself. With ``probability=p`` the scenario's ``[uncertain]`` ranges (minus the levers,
    which the decision sets) are drawn ``n_draws`` times (uniform,
    ``numpy.random.default_rng(seed)``), every candidate is run over the same draws, and ``c``
    is the order statistic of the gaps that must be >= 0 for at least ``ceil(p * n_draws)``
    draws to meet the target: ``c >= 0`` is exactly "probability >= p on these draws".
    ``c`` and its forward-difference gradient (step ``fd_step``) come from one ensemble call
    of ``(n + 1) * n_draws`` runs. The feasible iterate nearest ``z0`` is then pulled back
    along the ray from ``z0`` to the shortest step that still meets the target (two batches),
    so the reported setting is verified. If no iterate is feasible, ``scipy.optimize``
    L-BFGS-B maximises ``c`` over the box (same batched gradients); if even its maximum is
    below 0 the status is ``"not reachable"`` and the best combination found is reported.
    A local method: with strongly non-convex responses another, farther solution may exist.

    Parameters
    ----------
    target : str or Target
        Target id.
    scenario : Scenario, str or Path, optional
        Starting point (default ``"baseline"``).
    levers : sequence of str or Parameter, optional
        Default: the key levers. A lever given a time series by the scenario is set to a
        constant; its current value is the series at the target year.
    probability : float, optional
        Required probability of meeting the target under the scenario's uncertainty.
    n_draws, seed : int
        Draws of the ``[uncertain]`` ranges (only with ``probability``).
    uncertain : mapping of parameter name to (low, high), optional
        Ranges to draw instead of the scenario's ``[uncertain]`` ones.
    norm : {"l2", "l1"}
    cost : str, optional
        A model variable (``"Name"`` or ``"Name[element]"``) reported at the target year.
    fd_step : float
        Finite-difference step in range fractions.
    maxiter : int
    model, table, targets
        Model file, parameter table and targets (default: the project's).

    Returns
    -------
    Solution

    Examples
    --------
    >>> import czsim
    >>> sol = czsim.what_it_takes("industrial_scale", "slowdown", probability=0.8)
    >>> sol.status, sol.probability  # doctest: +SKIP
    >>> sol.levers[["current", "setting", "change_fraction"]]  # doctest: +SKIP
    """
    from scipy import optimize  # imported here: ``import czsim`` stays light

    ctx = context(model, table, targets)
    sc = ctx.scenario(scenario)
    t = ctx.target(target)
    params = ctx.levers(levers)
    out = outcome_of(t)
    outcomes = [out]
    if cost is not None:
        cost_out = variable_outcome(cost, t.year)
        cost_out = replace(cost_out, key=f"cost:{cost}")
        outcomes.append(cost_out)
    batch = Batch(ctx, sc, outcomes)
    names = [p.name for p in params]
    lo = np.array([p.low for p in params])
    span = np.array([p.high - p.low for p in params])
    x0 = np.clip([current_value(sc, p, t.year) for p in params], lo, lo + span)
    z0 = (x0 - lo) / span
    ranges = sc if uncertain is None else replace(sc, uncertain=dict(uncertain))
    sample = draws(ranges, n_draws, seed, exclude=names) if probability is not None else {}
    n_d = len(next(iter(sample.values()))) if sample else 1
    need = math.ceil((probability or 1.0) * n_d - 1e-9) if sample else 1
    need = min(max(need, 1), n_d)
    scale = abs(t.value) if t.value else 1.0
    if t.comparator == "approx" and t.tolerance:
        scale = t.tolerance

    def evaluate(zs: np.ndarray) -> dict[str, np.ndarray]:
        zs = np.clip(np.atleast_2d(zs), 0.0, 1.0)
        m = zs.shape[0]
        xs = lo + zs * span
        varying = {n: PerRun(np.repeat(xs[:, i], n_d)) for i, n in enumerate(names)}
        varying.update({k: PerRun(np.tile(v, m)) for k, v in sample.items()})
        res = batch.run(varying, m * n_d)
        return {k: v.reshape(m, n_d) for k, v in res.items()}

    def constraint_of(raw: np.ndarray) -> np.ndarray:
        gaps = np.sort(t.gap(raw) + 1e-9 * max(1.0, abs(t.value)), axis=1)
        return gaps[:, n_d - need] / scale

    cache: dict[bytes, tuple[float, np.ndarray]] = {}

    def c_and_grad(z: np.ndarray) -> tuple[float, np.ndarray]:
        z = np.clip(np.asarray(z, dtype=float), 0.0, 1.0)
        key = z.tobytes()
        if key not in cache:
            h = np.where(z + fd_step <= 1.0, fd_step, -fd_step)
            zs = np.vstack([z, z + np.diag(h)])
            c = constraint_of(evaluate(zs)[out.key])
            cache[key] = (float(c[0]), (c[1:] - c[0]) / h)
        return cache[key]

    method = (
        f"sequential linearisation with exact {norm.upper()} projection (scipy brentq), "
        "batched forward differences"
        + (f", P >= {probability} over {n_d} seeded draws" if sample else "")
        + (
            ", no [uncertain] ranges to draw: the probability is 0 or 1"
            if probability is not None and not sample
            else ""
        )
    )
    c0 = c_and_grad(z0)[0]
    if c0 >= 0:
        z_best, status, message = z0, "already met", "the scenario meets the target as it is"
    else:
        feasible, last, iterations = _linearised(c_and_grad, z0, norm, maxiter)
        status, message = "reached", f"{iterations} linearisation steps"
        z_best = _shortest_feasible(
            evaluate, constraint_of, out.key, z0, feasible if feasible is not None else last
        )
        if z_best is None:  # no feasible point on the way: seek the best reachable one
            best = optimize.minimize(
                lambda z: -c_and_grad(z)[0],
                z0,
                jac=lambda z: -c_and_grad(z)[1],
                method="L-BFGS-B",
                bounds=[(0.0, 1.0)] * len(params),
                options={"maxiter": maxiter},
            )
            z_feas = np.clip(best.x, 0, 1)
            if c_and_grad(z_feas)[0] < 0:
                z_best, status = z_feas, "not reachable"
                message = (
                    "no setting of the levers within their bounds meets the target "
                    f"(L-BFGS-B maximum of the constraint {c_and_grad(z_feas)[0] * scale:.6g})"
                )
            else:
                polished = _shortest_feasible(evaluate, constraint_of, out.key, z0, z_feas)
                z_best = polished if polished is not None else z_feas
                message = "the linearisation failed; L-BFGS-B found a feasible point"
    final = evaluate(np.vstack([z_best, z0]))
    raw = final[out.key]
    prob = float(t.reached(raw[0]).mean())
    value_det = _deterministic(batch, names, lo + z_best * span, out.key)
    x_best = lo + z_best * span
    frame = pd.DataFrame(
        {
            "label_en": [p.label_en for p in params],
            "units": [p.units for p in params],
            "low": lo,
            "high": lo + span,
            "current": x0,
            "setting": x_best,
            "change": x_best - x0,
            "change_fraction": z_best - z0,
        },
        index=pd.Index(names, name="lever"),
    )
    d = z_best - z0
    distance = float(np.sum(np.abs(d)) if norm == "l1" else np.sqrt(d @ d))
    cost_value = cost_current = None
    if cost is not None:
        cost_value = float(final[f"cost:{cost}"][0].mean())
        cost_current = float(final[f"cost:{cost}"][1].mean())
    values = dict(sc.values)
    values.update({n: float(x) for n, x in zip(names, x_best, strict=True)})
    return Solution(
        status=status,
        target=t.id,
        levers=frame,
        distance=distance,
        value=value_det * out.scale,
        probability=prob,
        required_probability=probability,
        cost=cost_value,
        cost_at_current=cost_current,
        scenario=replace(sc, name=f"{sc.name}+what_it_takes", values=values, path=None),
        method=method,
        message=message,
        n_runs=batch.n_runs,
        meta={"n_draws": n_d, "norm": norm, "seed": seed, "unit": t.unit},
    )


def _project(z0: np.ndarray, g: np.ndarray, rhs: float, norm: str) -> np.ndarray | None:
    """Return the point of ``[0, 1]^n`` nearest ``z0`` with ``g @ y >= rhs`` (``None``: none)."""
    from scipy import optimize

    if g @ z0 >= rhs:
        return z0.copy()
    if norm == "l1":  # fill the most effective levers first (fractional knapsack)
        y = z0.copy()
        need = rhs - g @ z0
        for i in np.argsort(-np.abs(g)):
            if g[i] == 0:
                break
            room = (1.0 - y[i]) if g[i] > 0 else y[i]
            move = min(room, need / abs(g[i]))
            y[i] += move * np.sign(g[i])
            need -= move * abs(g[i])
            if need <= 1e-15:
                return y
        return None

    def h(lam: float) -> float:
        return float(g @ np.clip(z0 + lam * g, 0.0, 1.0) - rhs)

    hi = 1.0
    while h(hi) < 0:
        hi *= 4
        if hi > 1e12:
            return None
    lam = optimize.brentq(h, 0.0, hi, xtol=1e-14, rtol=1e-12)
    return np.clip(z0 + lam * g, 0.0, 1.0)


def _linearised(c_and_grad, z0: np.ndarray, norm: str, maxiter: int):
    """Iterate ``z <- argmin ||y - z0|| s.t. c(z) + g(z) (y - z) >= 0, y in [0, 1]^n``.

    A fixed point meets the KKT conditions of the problem. Returns the feasible iterate
    nearest ``z0`` (``None`` if no iterate was feasible), the last iterate and the number of
    steps.
    """
    z = z0.copy()
    c, g = c_and_grad(z)
    best, best_d = None, math.inf
    alpha = 1.0  # step length: halved when |c| does not shrink by 10% (kinks make cycles),
    # else grown by half (up to 1)
    for it in range(1, maxiter + 1):
        # aim a hair (1e-8 of the target's scale) inside, so the step's end is feasible
        y = _project(z0, g, float(g @ z - c) + 1e-8, norm)
        if y is None:  # the linearisation cannot be met: go as far as it allows
            y = np.where(g > 0, 1.0, np.where(g < 0, 0.0, z))
        new = z + alpha * (y - z)
        step = float(np.max(np.abs(new - z)))
        c_new, g_new = c_and_grad(new)
        shrank = abs(c_new) < 0.9 * abs(c)
        alpha = min(1.0, 1.5 * alpha) if shrank else max(alpha / 2, 1 / 256)
        z, c, g = new, c_new, g_new
        if c >= 0:
            d = float(np.sum(np.abs(z - z0)) if norm == "l1" else np.linalg.norm(z - z0))
            if d < best_d:
                best, best_d = z.copy(), d
        if step < 1e-7 or (0 <= c < 1e-6 and step < 1e-4):
            return best, z, it
    return best, z, maxiter


def _deterministic(batch: Batch, names, x, key) -> float:
    varying = {n: PerRun(np.array([v])) for n, v in zip(names, x, strict=True)}
    return float(batch.run(varying, 1)[key][0])


def _shortest_feasible(evaluate, constraint_of, key, z0, z1, n: int = 49):
    """Return the point nearest ``z0`` on the ray ``z0 + s (z1 - z0)`` that meets the constraint.

    ``s`` is in ``[0, 3]`` and the points are clipped to the box; it takes two batches.
    ``None`` when no point meets the constraint.
    """
    s = np.linspace(0.0, 3.0, n)
    zs = np.clip(z0 + s[:, None] * (z1 - z0), 0.0, 1.0)
    c = constraint_of(evaluate(zs)[key])
    ok = np.flatnonzero(c >= 0)
    if not ok.size:
        return None
    i = int(ok[0])
    if i == 0:
        return zs[0]
    # bisect once more between the last infeasible and first feasible step
    s2 = np.linspace(s[i - 1], s[i], n)
    zs2 = np.clip(z0 + s2[:, None] * (z1 - z0), 0.0, 1.0)
    c2 = constraint_of(evaluate(zs2)[key])
    ok2 = np.flatnonzero(c2 >= 0)
    return zs2[int(ok2[0])] if ok2.size else zs[i]
