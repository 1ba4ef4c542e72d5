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

import itertools
import math
import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from czsim import engines, paths
from czsim.engines import TimeSeries, model_info
from czsim.errors import (
    CzsimError,
    InputError,
    InputTypeError,
    LimitError,
    ModelError,
    ParameterError,
    ScenarioError,
    os_error_message,
)
from czsim.parameters import ParameterTable, is_number, load_parameters
from czsim.scenarios import Scenario, load_scenario
from czsim.targets import load_targets, scorecard

Engine = Literal["ensemble", "pysd"]
ScenarioLike = Scenario | str | Path


#: Most memory one call of :func:`run` or :func:`run_many` may need (bytes, estimated).
#: Set ``CZSIM_MAX_MEMORY_GB`` to change it.
MAX_MEMORY = int(float(os.environ.get("CZSIM_MAX_MEMORY_GB", "4")) * 1e9)
#: Most Euler steps of one run (``(last time - INITIAL TIME) / time_step``).
MAX_STEPS = 1_000_000
#: Most runs of one :func:`run_many` call.
MAX_RUNS = 10_000_000

_ENGINES = ("ensemble", "pysd")


def as_scenario(scenario: ScenarioLike) -> Scenario:
    """A :class:`Scenario` from itself, a name in ``scenarios/`` or a file path."""
    if isinstance(scenario, Scenario):
        return scenario
    if not isinstance(scenario, str | Path):
        raise InputTypeError(
            f"a scenario is a Scenario, a name or a path, got {type(scenario).__name__}",
            key="scenario",
        )
    return load_scenario(scenario)


def check_model_path(model: str | Path | None) -> Path:
    """The model file, checked to be a readable regular file (not a pipe, folder, loop)."""
    if model is None:
        return paths.MODEL_FILE
    if not isinstance(model, str | Path):
        raise InputTypeError(f"model is a path, got {type(model).__name__}", key="model")
    path = Path(model)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelError("file not found", file=path) from None
    except OSError as exc:
        raise ModelError(os_error_message(exc).split(": ")[-1], file=path) from None
    if stat.S_ISDIR(info.st_mode):
        raise ModelError("is a folder, not a model file", file=path)
    if not stat.S_ISREG(info.st_mode):
        raise ModelError("is not a regular file (a pipe, device or socket)", file=path)
    if not os.access(path, os.R_OK):
        raise ModelError("permission denied", file=path)
    return path


def load_model(model: str | Path | None = None):
    """The parsed model (:class:`~czsim.engines.ModelInfo`); every failure is a ModelError."""
    path = check_model_path(model)
    try:
        info = model_info(path)
    except ModelError as exc:
        raise _with_file_line(exc, path) from None
    except CzsimError:
        raise
    except OSError as exc:
        raise ModelError(os_error_message(exc).split(": ")[-1], file=path) from None
    except RecursionError:
        raise ModelError("equations nested too deeply to translate", file=path) from None
    except Exception as exc:
        raise ModelError(
            f"cannot translate the model ({type(exc).__name__}: {exc})", file=path
        ) from None
    _check_controls(info, path)
    return info


_PARSE_AT = re.compile(r"didn't match at '(?P<text>.+?)' \(line (?P<line>\d+), column \d+\)\.?")


def _with_file_line(exc: ModelError, path: Path) -> ModelError:
    """A parse error of one equation ("line 1, column 6" of the equation) with the line of
    the model file instead, where the unparsed text can be found in the file."""
    match = _PARSE_AT.search(exc.message)
    if match is None or exc.line is not None:
        return exc
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return exc
    snippet = match.group("text")
    lines = [i for i, line in enumerate(text.splitlines(), start=1) if snippet.strip() in line]
    if not lines:
        return exc
    message = _PARSE_AT.sub(f"didn't match at '{snippet}'", exc.message)
    return ModelError(message, file=exc.file or path, key=exc.key, line=lines[0])


def _check_controls(info, path: Path) -> None:
    """INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER must describe a finite run."""
    names = ("initial_time", "final_time", "time_step", "saveper")
    values = {n: getattr(info, n, None) for n in names}
    for n, v in values.items():
        if not is_number(v) or not math.isfinite(float(v)):
            raise ModelError(
                f"{n.upper().replace('_', ' ')} must be a finite number, got {v!r}",
                file=path,
                key=n.upper().replace("_", " "),
            )
    t0, t1, dt, save = (float(values[n]) for n in names)
    if t1 < t0:
        raise ModelError(
            f"FINAL TIME {t1:g} is before INITIAL TIME {t0:g}", file=path, key="FINAL TIME"
        )
    if not dt > 0:
        raise ModelError(f"TIME STEP must be > 0, got {dt:g}", file=path, key="TIME STEP")
    if not save > 0:
        raise ModelError(f"SAVEPER must be > 0, got {save:g}", file=path, key="SAVEPER")
    if (t1 - t0) / dt > MAX_STEPS:
        raise LimitError(
            f"TIME STEP {dt:g} makes {(t1 - t0) / dt:.3g} steps; the limit is {MAX_STEPS:,}",
            file=path,
            key="TIME STEP",
        )
    if (t1 - t0) / save > MAX_STEPS:
        raise LimitError(f"SAVEPER {save:g} saves too many times", file=path, key="SAVEPER")


def _check_run_args(
    info,
    *,
    engine: object,
    n_runs: int,
    variables: object,
    times: object,
    time_step: object,
) -> tuple[list[str] | None, list[float] | None, float | None]:
    """Validate the arguments shared by :func:`run` and :func:`run_many` against the model,
    before any work: engine, variables, times (finite, increasing, inside the model's time),
    time_step (positive, not too many steps) and the estimated memory."""
    if engine not in _ENGINES:
        raise InputError(f"unknown engine {engine!r} (use 'ensemble' or 'pysd')", key="engine")
    t0, t1 = float(info.initial_time), float(info.final_time)
    if variables is not None:
        if isinstance(variables, str):
            variables = [variables]
        try:
            variables = list(variables)
        except TypeError:
            raise InputTypeError(
                f"variables is a list of names, got {type(variables).__name__}", key="variables"
            ) from None
        for v in variables:
            if not isinstance(v, str):
                raise InputTypeError(f"a variable name is text, got {v!r}", key="variables")
    if time_step is not None:
        if not is_number(time_step):
            raise InputTypeError(
                f"time_step must be a number of years, got {type(time_step).__name__} "
                f"{time_step!r}",
                key="time_step",
            )
        time_step = float(time_step)
        if not (math.isfinite(time_step) and time_step > 0):
            raise InputError(
                f"time_step must be a positive finite number of years, got {time_step!r}",
                key="time_step",
            )
    dt = time_step if time_step is not None else float(info.time_step)
    if times is not None:
        if isinstance(times, str | bytes) or is_number(times):
            times = [times]
        try:
            times = list(np.asarray(times, dtype=object).ravel())
        except Exception:
            raise InputTypeError("times is a list of years", key="times") from None
        if not times:
            raise InputError("times is empty: give at least one year", key="times")
        for t in times:
            if not is_number(t):
                raise InputTypeError(f"times must be numbers, got {t!r}", key="times")
            if not math.isfinite(float(t)):
                raise InputError(f"times must be finite, got {t!r}", key="times")
        times = [float(t) for t in times]
        if any(b <= a for a, b in itertools.pairwise(times)):
            raise InputError("times must be strictly increasing (no repeats)", key="times")
        slack = dt * 1e-5
        if times[0] < t0 - slack or times[-1] > t1 + slack:
            raise InputError(
                f"times must lie inside the model's time {t0:g}-{t1:g}, got "
                f"{times[0]:g}-{times[-1]:g}",
                key="times",
            )
    last = times[-1] if times is not None else t1
    steps = (last - t0) / dt
    if steps > MAX_STEPS:
        raise LimitError(
            f"time_step {dt:g} makes {steps:.3g} steps; the limit is {MAX_STEPS:,}",
            key="time_step",
        )
    n_times = len(times) if times is not None else round((t1 - t0) / float(info.saveper)) + 1
    chosen = (
        [info.lookup(v) for v in variables]
        if variables is not None
        else [v for v in info.variables.values() if v.type != "lookup"]
    )
    out_cells = sum(int(np.prod(v.shape or ())) for v in chosen)
    all_cells = sum(int(np.prod(v.shape or ())) for v in info.variables.values())
    need = 8 * n_runs * (n_times * out_cells + 4 * all_cells)
    if need > MAX_MEMORY:
        raise LimitError(
            f"{n_runs:,} runs x {n_times:,} times would need about {need / 1e9:.1f} GB; the "
            f"limit is {MAX_MEMORY / 1e9:g} GB (CZSIM_MAX_MEMORY_GB): ask for fewer runs, "
            "times or variables",
            key="n_runs" if n_runs > 1 else "times",
        )
    return variables, times, time_step


def _check_series_years(scenario: Scenario, table: ParameterTable, info) -> None:
    """Every year of a time-series value lies inside the model's time."""
    t0, t1 = float(info.initial_time), float(info.final_time)
    for name, value in scenario.values.items():
        if not isinstance(value, tuple):
            continue
        outside = [t for t, _ in value if t < t0 or t > t1]
        if outside:
            file, line = scenario.origins.get(name, (None, None))
            raise ScenarioError(
                f"year {outside[0]:g} is outside the model's time {t0:g}-{t1:g}",
                file=file,
                line=line,
                key=f"{name}.{outside[0]:g}",
            )


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
    _check_series_years(scenario, table, info)
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
    variables, times, time_step = _check_run_args(
        info, engine=engine, n_runs=1, variables=variables, times=times, time_step=time_step
    )
    constants, series = engine_inputs(scenario, model=model)
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
    stay aligned.
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
    table = load_parameters()
    info = load_model(model)
    variables, times, time_step = _check_run_args(
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
    for name, values in columns.items():
        result.coords[name] = ("run", values)
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
    if engine not in _ENGINES:
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
