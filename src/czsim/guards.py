"""Validation at the edge: what every run is checked against before any work starts.

The model file (readable, a regular file, parsed with errors that name the file's line), its
control values, the requested times and time step, the engine and variables, time series
inside the model's time, and a memory estimate against :data:`MAX_MEMORY`. :mod:`czsim.api`
calls these; each raises one of :mod:`czsim.errors`' classes with a one-line message.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import stat
from pathlib import Path

import numpy as np

from czsim import paths
from czsim.engines import model_info
from czsim.errors import (
    CzsimError,
    InputError,
    InputTypeError,
    LimitError,
    ModelError,
    ScenarioError,
    os_error_message,
)
from czsim.parameters import ParameterTable, is_number
from czsim.scenarios import Scenario

#: Most memory one call of :func:`run` or :func:`run_many` may need (bytes, estimated).
#: Set ``CZSIM_MAX_MEMORY_GB`` to change it.
MAX_MEMORY = int(float(os.environ.get("CZSIM_MAX_MEMORY_GB", "4")) * 1e9)
#: Most Euler steps of one run (``(last time - INITIAL TIME) / time_step``).
MAX_STEPS = 1_000_000
#: Most runs of one :func:`run_many` call.
MAX_RUNS = 10_000_000

ENGINES = ("ensemble", "pysd")


def check_model_path(model: str | Path | None) -> Path:
    """Return the model file, checked to be a readable regular file (not a pipe, folder, loop)."""
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
    """Parse the model (:class:`~czsim.engines.ModelInfo`); every failure is a ModelError."""
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
    """Give a parse error of one equation the line of the model file.

    A parse error of one equation ("line 1, column 6" of the equation) gets the line of the
    model file instead, where the unparsed text can be found in the file.
    """
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
    """Check that INITIAL TIME, FINAL TIME, TIME STEP and SAVEPER describe a finite run."""
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


def check_run_args(
    info,
    *,
    engine: object,
    n_runs: int,
    variables: object,
    times: object,
    time_step: object,
) -> tuple[list[str] | None, list[float] | None, float | None]:
    """Validate the arguments shared by :func:`run` and :func:`run_many` against the model.

    Done before any work: engine, variables, times (finite, increasing, inside the model's
    time), time_step (positive, not too many steps) and the estimated memory.
    """
    if engine not in ENGINES:
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
    out_cells = sum(math.prod(v.shape) for v in chosen)
    all_cells = sum(math.prod(v.shape) for v in info.variables.values())
    need = 8 * n_runs * (n_times * out_cells + 4 * all_cells)
    if need > MAX_MEMORY:
        raise LimitError(
            f"{n_runs:,} runs x {n_times:,} times would need about {need / 1e9:.1f} GB; the "
            f"limit is {MAX_MEMORY / 1e9:g} GB (CZSIM_MAX_MEMORY_GB): ask for fewer runs, "
            "times or variables",
            key="n_runs" if n_runs > 1 else "times",
        )
    return variables, times, time_step


def check_series_years(scenario: Scenario, table: ParameterTable, info) -> None:
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
