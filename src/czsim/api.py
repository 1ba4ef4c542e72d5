"""The small Python API analysts call: load scenarios, run them, score and compare them.

Examples
--------
>>> import czsim
>>> plan = czsim.load_scenario("plan")
>>> result = czsim.run(plan)                       # xarray.Dataset, dims (run, time, ...)
>>> card = czsim.scorecard(result)                 # pandas.DataFrame, one row per target
>>> table = czsim.compare(["baseline", "plan"])    # targets side by side
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from czsim import engines
from czsim.engines import TimeSeries
from czsim.errors import (
    InputError,
    InputTypeError,
    LimitError,
    ParameterError,
)
from czsim.guards import (
    ENGINES,
    MAX_RUNS,
    check_run_args,
    check_series_years,
    load_model,
)
from czsim.parameters import ParameterTable, load_parameters
from czsim.scenarios import Scenario, load_scenario
from czsim.targets import load_targets, scorecard

Engine = Literal["ensemble", "pysd"]
ScenarioLike = Scenario | str | Path


def as_scenario(scenario: ScenarioLike) -> Scenario:
    """Return a :class:`Scenario` from itself, a name in ``scenarios/`` or a file path."""
    if isinstance(scenario, Scenario):
        return scenario
    if not isinstance(scenario, str | Path):
        raise InputTypeError(
            f"a scenario is a Scenario, a name or a path, got {type(scenario).__name__}",
            key="scenario",
        )
    return load_scenario(scenario)


def engine_inputs(
    scenario: Scenario,
    overrides: Mapping[str, np.ndarray] | None = None,
    *,
    n_runs: int = 1,
    model: str | Path | None = None,
    table: ParameterTable | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, TimeSeries]]:
    """Turn a scenario (plus per-run constant overrides) into the engines' inputs.

    Parameters
    ----------
    scenario : Scenario
        Values shared by all runs (constants or time series).
    overrides : mapping of parameter name to array of shape (n_runs,), optional
        Per-run constants; they replace the scenario's value of that parameter.
    n_runs : int
        Number of runs R.

    Returns
    -------
    constants : dict
        Model variable -> float array ``(R or 1, *dims)``.
    series : dict
        Model variable -> :class:`TimeSeries` for variables with a time-series value.
    """
    table = table or load_parameters()
    info = load_model(model)
    check_series_years(scenario, table, info)
    overrides = overrides or {}
    by_variable: dict[str, dict[str | None, object]] = {}
    for name, value in scenario.values.items():
        p = table[name]
        by_variable.setdefault(p.variable, {})[p.element] = value
    for name, value in overrides.items():
        p = table.resolve(name)
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise ParameterError("values must be numbers", key=name) from None
        if arr.shape != (n_runs,):
            raise ParameterError(f"expected {n_runs} values, got shape {arr.shape}", key=name)
        bad = (arr < p.low) | (arr > p.high) | ~np.isfinite(arr)
        if bad.any():
            raise ParameterError(
                f"{int(bad.sum())} value(s) outside [{p.low:g}, {p.high:g}], e.g. {arr[bad][0]:g}",
                key=name,
            )
        by_variable.setdefault(p.variable, {})[p.element] = arr
    constants: dict[str, np.ndarray] = {}
    series: dict[str, TimeSeries] = {}
    for variable, elements in by_variable.items():
        var = info.lookup(variable)
        default = np.asarray(var.default, dtype=float)
        index = {
            e: (info.element_index(var.dims[0], e) if e is not None else ...) for e in elements
        }
        per_run = any(isinstance(v, np.ndarray) for v in elements.values())
        lead = n_runs if per_run else 1
        ts = [v for v in elements.values() if isinstance(v, tuple)]
        if not ts:
            arr = np.broadcast_to(default, (lead, *default.shape)).copy()
            for e, v in elements.items():
                arr[(slice(None), index[e])] = v
            constants[variable] = arr if per_run else arr[0]
            continue
        times = np.unique(np.concatenate([[t for t, _ in s] for s in ts]))
        arr = np.broadcast_to(default, (lead, times.size, *default.shape)).copy()
        for e, v in elements.items():
            where = (slice(None), slice(None), index[e])
            if isinstance(v, tuple):
                arr[where] = np.interp(times, [t for t, _ in v], [x for _, x in v])
            elif isinstance(v, np.ndarray):
                arr[where] = v[:, None]
            else:
                arr[where] = v
        series[variable] = TimeSeries(times=times, values=arr if per_run else arr[0])
    return constants, series


def run(
    scenario: ScenarioLike = "baseline",
    *,
    engine: Engine = "ensemble",
    variables: Sequence[str] | None = None,
    times: Sequence[float] | None = None,
    time_step: float | None = None,
    model: str | Path | None = None,
) -> xr.Dataset:
    """Run one scenario and return its results.

    Returns
    -------
    xarray.Dataset
        Variables named as in the model, dims ``(run, time, *subscripts)`` with ``run`` of
        size 1; units in each variable's attributes; ``attrs["scenario"]`` is the name.
    """
    scenario = as_scenario(scenario)
    info = load_model(model)
    variables, times, time_step = check_run_args(
        info, engine=engine, n_runs=1, variables=variables, times=times, time_step=time_step
    )
    constants, series = engine_inputs(scenario, model=model, table=scenario.table)
    result = engines.run(
        info.path,
        engine=engine,
        n_runs=1,
        constants=constants,
        series=series,
        variables=variables,
        times=times,
        time_step=time_step,
    )
    result.attrs["scenario"] = scenario.name
    return result


def run_many(
    base: ScenarioLike,
    overrides: pd.DataFrame | Mapping[str, Sequence[float]],
    *,
    engine: Engine = "ensemble",
    variables: Sequence[str] | None = None,
    times: Sequence[float] | None = None,
    time_step: float | None = None,
    model: str | Path | None = None,
) -> xr.Dataset:
    """Run ``base`` once per row of ``overrides`` (columns: parameter names).

    The override values become coordinates on the ``run`` dimension, so samples and outcomes
    stay aligned. Parameters are those of the scenario's table (``Scenario.table``, default
    ``model/parameters.toml``).
    """
    scenario = as_scenario(base)
    if not isinstance(overrides, pd.DataFrame | Mapping):
        raise InputTypeError(
            f"overrides is a DataFrame or a mapping of name to values, got "
            f"{type(overrides).__name__}",
            key="overrides",
        )
    try:
        frame = pd.DataFrame(overrides)
    except (TypeError, ValueError) as exc:
        raise InputError(f"overrides cannot be made a table: {exc}", key="overrides") from None
    n_runs = len(frame)
    if n_runs == 0:
        raise ParameterError("overrides has no rows: nothing to run", key="overrides")
    if n_runs > MAX_RUNS:
        raise LimitError(f"{n_runs:,} runs; the limit is {MAX_RUNS:,}", key="overrides")
    table = scenario.table if scenario.table is not None else load_parameters()
    info = load_model(model)
    variables, times, time_step = check_run_args(
        info, engine=engine, n_runs=n_runs, variables=variables, times=times, time_step=time_step
    )
    columns: dict[str, np.ndarray] = {}
    given: dict[str, object] = {}
    for c in frame.columns:
        p = table.resolve(str(c))
        if p.name in columns:
            raise ParameterError(
                f"{p.name} is given twice (as '{given[p.name]}' and as '{c}')", key=str(c)
            )
        column = frame[c]
        if isinstance(column, pd.DataFrame):  # a repeated column label
            raise ParameterError(f"{p.name} is given twice", key=str(c))
        try:
            columns[p.name] = column.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise ParameterError("values must be numbers", key=str(c)) from None
        given[p.name] = c
    constants, series = engine_inputs(scenario, columns, n_runs=n_runs, model=model, table=table)
    result = engines.run(
        info.path,
        engine=engine,
        n_runs=n_runs,
        constants=constants,
        series=series,
        variables=variables,
        times=times,
        time_step=time_step,
    )
    # one call: assigning the coordinates one by one rebuilt the dataset's indexes each time
    result = result.assign_coords({name: ("run", values) for name, values in columns.items()})
    result.attrs["scenario"] = scenario.name
    return result


def compare(scenarios: Sequence[ScenarioLike], *, engine: Engine = "ensemble") -> pd.DataFrame:
    """Score several scenarios side by side.

    Returns
    -------
    pandas.DataFrame
        Index target id; columns ``label_zh``, ``label_en``, ``unit``, ``year``, ``target``,
        then for each scenario ``<name>`` (value in display units) and ``<name> reached``.
    """
    if isinstance(scenarios, str | Path | Scenario) or not isinstance(scenarios, Sequence):
        scenarios = [scenarios]  # one scenario, not a sequence of characters
    if not scenarios:
        raise InputError("no scenarios to compare", key="scenarios")
    if engine not in ENGINES:
        raise InputError(f"unknown engine {engine!r} (use 'ensemble' or 'pysd')", key="engine")
    loaded = [as_scenario(s) for s in scenarios]
    names = scenario_labels(scenarios, loaded)
    cards = [scorecard(run(s, engine=engine)) for s in loaded]
    out = cards[0][["group", "basis", "label_zh", "label_en", "unit", "year", "target"]].copy()
    for name, card in zip(names, cards, strict=True):
        out[name] = card["value"]
        out[f"{name} reached"] = card["reached"]
    out.attrs["scenarios"] = names
    return out


def scenario_labels(sources: Sequence[ScenarioLike], loaded: Sequence[Scenario]) -> list[str]:
    """Column labels for scenarios compared side by side: their names, made unique.

    Two scenarios of the same name (``baseline`` and a file ``other.toml`` that says
    ``name = "baseline"``) get the file added (``baseline (other.toml)``), then a number, so
    no column is ever lost. Reserved names (the table's own columns) are made unique too.
    """
    reserved = {"group", "basis", "label_zh", "label_en", "unit", "year", "target"}
    used: set[str] = set(reserved)
    labels = []
    for source, s in zip(sources, loaded, strict=True):
        label = s.name
        if label in used:
            shown = s.path.name if s.path is not None else str(source)
            if not isinstance(source, Scenario) and shown != s.name:
                label = f"{s.name} ({shown})"
        base, k = label, 2
        while label in used:
            label = f"{base} #{k}"
            k += 1
        used.update({label, f"{label} reached"})
        labels.append(label)
    return labels


def target_table() -> pd.DataFrame:
    """All targets of the policy as a table (index id)."""
    rows = [
        {
            "id": t.id,
            "section": t.section,
            "group": t.group,
            "label_zh": t.label_zh,
            "label_en": t.label_en,
            "comparator": t.comparator,
            "value": t.value * t.display_scale if t.value is not None else None,
            "unit": t.unit,
            "year": t.year,
            "basis": t.basis,
            "variable": t.full_variable,
            "reason": t.reason,
        }
        for t in load_targets()
    ]
    return pd.DataFrame(rows).set_index("id")
