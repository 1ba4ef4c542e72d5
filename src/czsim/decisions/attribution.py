"""Split the difference in an outcome between two scenarios by Shapley values.

Attribution: split the difference in an outcome between two scenarios across the parameters
in which they differ, by Shapley values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from czsim.decisions.batch import (
    Batch,
    Choice,
    Outcome,
    PerRun,
    context,
    draws,
    outcome_of,
    variable_outcome,
)
from czsim.errors import ParameterError
from czsim.groups import load_groups
from czsim.parameters import ParameterTable
from czsim.scenarios import Scenario
from czsim.targets import Target

#: Most players for exact Shapley values (2**14 = 16384 combinations).
MAX_EXACT = 14

Statistic = Literal["value", "gap", "probability"]


@dataclass(frozen=True)
class Attribution:
    """The outcome difference ``other - base`` split across players.

    Attributes
    ----------
    table : pandas.DataFrame
        Index ``player``; columns ``label``, ``parameters`` (tuple of names), ``shapley`` (the
        player's part; the parts sum to ``difference``), ``one_at_a_time`` (the change from
        ``base`` when only this player switches to ``other``), ``interaction`` (``shapley -
        one_at_a_time``), ``share`` (``shapley / difference``) and ``stderr`` (0 for exact
        values; the Monte Carlo standard error for permutation sampling). Outcome units.
    base_value, other_value, difference : float
        Outcome in ``base``, in ``other`` and their difference (display units: percent for
        shares; a fraction for probabilities).
    interaction_total : float
        ``difference - sum(one_at_a_time)``: what one-at-a-time changes leave unexplained.
    method : str
        ``"exact"`` (all ``2**k`` combinations) or ``"permutation"``.
    """

    table: pd.DataFrame
    base_value: float
    other_value: float
    difference: float
    interaction_total: float
    method: str
    outcome: str
    statistic: str
    n_runs: int
    meta: dict = field(default_factory=dict)


def differing(base: Scenario, other: Scenario, table: ParameterTable) -> list[str]:
    """Parameters whose value differs between the scenarios (a time series is one value)."""
    names = list(dict.fromkeys([*base.values, *other.values]))
    out = []
    for n in names:
        a = base.values.get(n, table[n].default)
        b = other.values.get(n, table[n].default)
        if a != b:
            out.append(n)
    return out


def attribute(
    base: Scenario | str | Path = "baseline",
    other: Scenario | str | Path = "plan",
    outcome: str | Target = "industrial_scale",
    *,
    statistic: Statistic = "value",
    year: float | None = None,
    players: Literal["auto", "parameters", "groups"] | Mapping[str, Sequence[str]] = "auto",
    method: Literal["auto", "exact", "permutation"] = "auto",
    n_permutations: int = 500,
    n_draws: int = 200,
    seed: int = 0,
    uncertain: Mapping[str, tuple[float, float]] | None = None,
    model: str | Path | None = None,
    table: ParameterTable | None = None,
    targets: Sequence[Target] | None = None,
) -> Attribution:
    """Split ``outcome(other) - outcome(base)`` across the parameters in which they differ.

    Each *player* is a parameter (a time-series value counts as one player) or a group of
    parameters. A combination S of players is ``base`` with the players in S set to
    ``other``'s values. The Shapley value of player i is the average over orderings of its
    marginal effect, ``phi_i = sum_S |S|! (k-|S|-1)! / k! * (v(S + i) - v(S))``.

    - ``method="exact"``: all ``2**k`` combinations in one ensemble call (``k <= 14``); the
      parts sum to the difference up to floating-point rounding (~1e-12 relative).
    - ``method="permutation"``: ``n_permutations`` random orderings (seeded); each ordering's
      marginal effects sum to the difference exactly, so the parts still sum to it; the
      ``stderr`` column is the standard error of each part over orderings.
    - ``method="auto"``: exact when ``k <= 14``, else players are grouped by parameter group
      (``players="auto"``) and exact on the groups, else permutation sampling.

    Parameters
    ----------
    base, other : Scenario, str or Path
        The two scenarios (``other - base`` is explained).
    outcome : str or Target
        A target id (its variable in its year) or a model variable ``"Name"`` /
        ``"Name[element]"`` (then ``year`` is required).
    statistic : {"value", "gap", "probability"}
        The outcome's value or gap to target (display units: % for shares), or the
        probability of reaching the target over ``n_draws`` seeded draws of the scenarios'
        ``[uncertain]`` ranges (``base``'s ranges updated by ``other``'s; players are not
        drawn, the scenarios set them). Every combination uses the same draws.
    players : {"auto", "parameters", "groups"} or mapping
        One player per parameter, per parameter group, or a mapping label -> parameter names
        (differing parameters it does not name are players on their own).
    n_permutations, n_draws, seed : int
        Sampling sizes and seed.
    uncertain : mapping of parameter name to (low, high), optional
        Ranges to draw for ``statistic="probability"`` instead of the scenarios' ones.
    model, table, targets
        Model file, parameter table and targets (default: the project's).

    Returns
    -------
    Attribution

    Examples
    --------
    >>> import czsim
    >>> result = czsim.attribute("baseline", "plan", "industrial_scale")
    >>> result.table[["shapley", "one_at_a_time", "interaction"]]  # doctest: +SKIP
    >>> round(result.table["shapley"].sum() - result.difference, 9)  # doctest: +SKIP
    0.0
    """
    ctx = context(model, table, targets)
    sa, sb = ctx.scenario(base), ctx.scenario(other)
    target = None
    if isinstance(outcome, Target) or any(t.id == outcome for t in ctx.targets):
        target = ctx.target(outcome)
        out = outcome_of(target)
        if year is not None:
            out = Outcome(out.key, out.variable, out.element, float(year), out.scale, out.unit)
    else:
        if year is None:
            raise ParameterError("give year= for an outcome that is not a target", key=outcome)
        out = variable_outcome(str(outcome), year)
    if statistic != "value" and target is None:
        raise ParameterError(f"statistic '{statistic}' needs a target", key=str(outcome))
    names = differing(sa, sb, ctx.table)
    groups = _players(names, players, ctx.table, method)
    k = len(groups)
    use = method
    if method == "auto":
        use = "exact" if k <= MAX_EXACT else "permutation"
    if use == "exact" and k > MAX_EXACT:
        raise ParameterError(
            f"{k} players: exact Shapley values are limited to {MAX_EXACT}; group them "
            "(players='groups') or use method='permutation'"
        )
    sample = {}
    if statistic == "probability":
        given = {**sa.uncertain, **sb.uncertain} if uncertain is None else dict(uncertain)
        ranges = Scenario(name="ranges", uncertain=given, table=ctx.table)
        sample = draws(ranges, n_draws, seed, exclude=names)
    n_d = max(len(next(iter(sample.values()))) if sample else 1, 1)
    batch = Batch(ctx, sa, [out])

    def value(masks: np.ndarray) -> np.ndarray:
        """Outcome of each combination (bit i of a mask: player i takes ``other``'s values)."""
        masks = np.asarray(masks, dtype=np.int64)
        n = masks.size * n_d
        varying: dict = {k: PerRun(np.tile(v, masks.size)) for k, v in sample.items()}
        for i, (_, members) in enumerate(groups):
            which = np.repeat((masks >> i) & 1, n_d)
            for name in members:
                options = (
                    sa.values.get(name, ctx.table[name].default),
                    sb.values.get(name, ctx.table[name].default),
                )
                varying[name] = Choice(options, which)
        raw = batch.run(varying, n)[out.key].reshape(masks.size, n_d)
        if statistic == "value":
            return raw.mean(axis=1) * out.scale
        if statistic == "gap":
            return target.gap(raw).mean(axis=1) * out.scale
        return target.reached(raw).mean(axis=1)

    full = (1 << k) - 1
    if use == "exact":
        v = value(np.arange(1 << k))
        phi = _exact(v, k)
        stderr = np.zeros(k)
        v0, v_all, single = v[0], v[full], np.array([v[1 << i] for i in range(k)])
    else:
        phi, stderr, v0, v_all, single = _permutation(value, k, n_permutations, seed)
    difference = float(v_all - v0)
    oat = single - v0
    frame = pd.DataFrame(
        {
            "player": [g for g, _ in groups],
            "label": [_label(g, m, ctx.table) for g, m in groups],
            "parameters": [tuple(m) for _, m in groups],
            "shapley": phi,
            "one_at_a_time": oat,
            "interaction": phi - oat,
            "share": phi / difference if difference else np.full(k, math.nan),
            "stderr": stderr,
        }
    ).set_index("player")
    return Attribution(
        table=frame,
        base_value=float(v0),
        other_value=float(v_all),
        difference=difference,
        interaction_total=float(difference - oat.sum()),
        method=use,
        outcome=out.key,
        statistic=statistic,
        n_runs=batch.n_runs,
        meta={"base": sa.name, "other": sb.name, "n_draws": n_d, "unit": out.unit},
    )


def _players(names, players, table, method) -> list[tuple[str, list[str]]]:
    if isinstance(players, Mapping):
        covered = {n for members in players.values() for n in members}
        groups = [
            (label, [table.resolve(n).name for n in members if table.resolve(n).name in names])
            for label, members in players.items()
        ]
        groups = [g for g in groups if g[1]]
        return groups + [(n, [n]) for n in names if n not in covered]
    if players == "parameters" or (
        players == "auto" and (len(names) <= MAX_EXACT or method == "permutation")
    ):
        return [(n, [n]) for n in names]
    if players not in ("auto", "groups"):
        raise ParameterError(f"unknown players '{players}'", key="players")
    by_group: dict[str, list[str]] = {}
    for n in names:
        by_group.setdefault(table[n].group, []).append(n)
    return list(by_group.items())


def _label(player: str, members: list[str], table: ParameterTable) -> str:
    if len(members) == 1 and members[0] == player:
        return table[player].label_en
    groups = load_groups()
    if player in groups:
        return f"{groups[player].en} ({len(members)} parameters)"
    return player


def _exact(v: np.ndarray, k: int) -> np.ndarray:
    masks = np.arange(1 << k)
    size = np.zeros(1 << k, dtype=np.int64)
    for i in range(k):
        size += (masks >> i) & 1
    weight = np.array(
        [math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)]
    )
    phi = np.empty(k)
    for i in range(k):
        without = masks[((masks >> i) & 1) == 0]
        phi[i] = np.sum(weight[size[without]] * (v[without | (1 << i)] - v[without]))
    return phi


def _permutation(value, k: int, n_permutations: int, seed: int):
    if k > 62:
        raise ParameterError(f"{k} players: permutation sampling is limited to 62; group them")
    rng = np.random.default_rng(seed)
    m = max(int(n_permutations), 2)
    orders = np.stack([rng.permutation(k) for _ in range(m)])  # (M, k)
    prefix = np.zeros((m, k + 1), dtype=np.int64)
    for step in range(k):
        prefix[:, step + 1] = prefix[:, step] | (np.int64(1) << orders[:, step])
    singles = np.int64(1) << np.arange(k, dtype=np.int64)
    unique, inverse = np.unique(np.concatenate([prefix.ravel(), singles]), return_inverse=True)
    v = value(unique)
    vp = v[inverse[: prefix.size]].reshape(m, k + 1)
    marginal = np.diff(vp, axis=1)  # (M, k) in the order of each permutation
    contrib = np.empty((m, k))
    np.put_along_axis(contrib, orders, marginal, axis=1)
    phi = contrib.mean(axis=0)
    stderr = contrib.std(axis=0, ddof=1) / math.sqrt(m)
    single = v[inverse[prefix.size :]]
    return phi, stderr, vp[0, 0], vp[0, -1], single
