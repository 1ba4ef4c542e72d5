"""One-at-a-time screening of every input of the model: which numbers move an outcome.

Every parameter of the table is set to its low and to its high bound; every other constant of
the model (numbers not in ``model/parameters.toml``) is moved by ``±relative`` of its value.
Definitions (comments that say so: flags, mappings, thresholds) and the unit constant
``One year`` are not inputs and are left out. All runs go through the ensemble engine in one
call, so the whole screen of the model takes about a second.

The table answers the referee's questions: which inputs each alone move 2025 scale by more
than a tolerance, whether each is in the parameter table with a range and in the scenario's
``[uncertain]`` ranges or its ``[posterior]`` (so that the bands carry it), and which flip a target's verdict alone.
``tests/test_screening.py`` asserts the model's rule: every input whose effect exceeds 0.5%
is a parameter, and every such assumption is uncertain in ``baseline``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from czsim import api, engines
from czsim.engines.model_info import model_info
from czsim.errors import InputError
from czsim.names import VariableRef
from czsim.structure.mdl import source_kind

#: Columns of :func:`screen`, in order.
COLUMNS = (
    "input",
    "parameter",
    "kind",
    "source",
    "uncertain",
    "low",
    "high",
    "value_low",
    "value_high",
    "effect",
    "flips",
)

_DEFINITION = re.compile(r"\bdefinition\b", re.IGNORECASE)
_NOT_INPUTS = {"One year"}


def _model_constants(info) -> list[tuple[str, int | None]]:
    """(variable, element index or None) of every numeric constant that is an input."""
    out = []
    for name, var in info.variables.items():
        if var.type != "constant" or name in _NOT_INPUTS or _DEFINITION.search(var.comment):
            continue
        default = np.asarray(var.default, dtype=float)
        if default.ndim == 0:
            out.append((name, None))
        elif default.ndim == 1:
            out.extend((name, i) for i in range(default.shape[0]))
        # two-dimensional constants (group weights) are shares of a definition: not screened
    return out


def screen(
    scenario: api.ScenarioLike = "baseline",
    *,
    variable: str = "Industrial scale",
    year: float = 2025,
    relative: float = 0.1,
    threshold: float | None = None,
) -> pd.DataFrame:
    """Screen every input one at a time for its effect on ``variable`` in ``year``.

    Parameters
    ----------
    scenario : scenario name, path or Scenario
        The point the inputs are moved from.
    variable : str
        A scalar model variable (or ``Variable[element]``).
    year : float
        The year the outcome is read.
    relative : float
        Relative move of the constants that are not parameters (they have no range).
    threshold : float, optional
        A target level: ``flips`` says whether the move crosses it.

    Returns
    -------
    pandas.DataFrame
        One row per input (columns :data:`COLUMNS`), sorted by ``effect`` (the larger relative
        change of the outcome at either end), largest first. ``attrs["value"]`` is the
        scenario's own value.
    """
    if not 0 < relative < 1:
        raise InputError(f"relative is a fraction in (0, 1), got {relative!r}", key="relative")
    sc = api.as_scenario(scenario)
    table = sc.table if sc.table is not None else api.load_parameters()
    info = model_info(api.load_model(None).path)
    constants, series = api.engine_inputs(sc, table=table)
    by_full = {p.full_variable: p for p in table.values()}

    cases: list[tuple[str, str | None, int | None, float, float, object]] = []
    for p in table.values():
        if p.variable in series:
            continue  # a time series in this scenario: moving it as a constant is another question
        var = info.lookup(p.variable)
        index = info.element_index(var.dims[0], p.element) if p.element is not None else None
        cases.append((p.full_variable, p.variable, index, p.low, p.high, p))
    for name, index in _model_constants(info):
        var = info.lookup(name)
        full = name if index is None else f"{name}[{info.ranges[var.dims[0]][index]}]"
        if full in by_full or (index is None and name in {p.variable for p in table.values()}):
            continue
        value = float(
            np.asarray(constants.get(name, var.default), dtype=float).reshape(-1)[
                0 if index is None else index
            ]
        )
        cases.append((full, name, index, value * (1 - relative), value * (1 + relative), None))

    n = 2 * len(cases) + 1
    per_run: dict[str, np.ndarray] = {}
    for _, name, _, _, _, _ in cases:
        if name not in per_run:
            base = np.asarray(constants.get(name, info.lookup(name).default), dtype=float)
            per_run[name] = np.broadcast_to(base, (n, *base.shape)).copy()
    for k, (_, name, index, low, high, _) in enumerate(cases):
        where = (slice(None),) if index is None else (slice(None), index)
        arr = per_run[name]
        arr[(2 * k, *where[1:])] = low
        arr[(2 * k + 1, *where[1:])] = high
    run_constants = {**constants, **per_run}
    ref = VariableRef.parse(variable)
    if ref is None:
        raise InputError(f"'{variable}' is not a variable name", key="variable")
    name = ref.name
    result = engines.run(
        info.path,
        engine="ensemble",
        n_runs=n,
        constants=run_constants,
        series=series,
        variables=[name],
        times=[year],
    )
    values = result[name]
    if ref.element is not None:
        values = values.sel({values.dims[-1]: ref.element})
    y = values.values.reshape(n)
    own = float(y[-1])
    uncertain = set(sc.uncertain) | set(sc.posterior.parameters if sc.posterior else ())
    rows = []
    for k, (full, name, _, low, high, p) in enumerate(cases):
        lo, hi = float(y[2 * k]), float(y[2 * k + 1])
        effect = max(abs(lo - own), abs(hi - own)) / abs(own) if own else float("nan")
        flips = None
        if threshold is not None:
            flips = bool(min(lo, hi, own) < threshold <= max(lo, hi, own))
        rows.append(
            {
                "input": full,
                "parameter": p.name if p is not None else None,
                "kind": p.kind if p is not None else "constant",
                "source": source_kind(info.lookup(name).comment),
                "uncertain": p is not None and p.name in uncertain,
                "low": low,
                "high": high,
                "value_low": lo,
                "value_high": hi,
                "effect": effect,
                "flips": flips,
            }
        )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.sort_values("effect", ascending=False, kind="stable").reset_index(drop=True)
    frame.attrs["value"] = own
    frame.attrs["scenario"] = sc.name
    return frame
