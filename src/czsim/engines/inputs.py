"""Validation and normalisation of run inputs, shared by both engines.

Both engines receive the same :class:`RunInputs`, so an input is accepted or refused
identically whichever engine runs it, and both save at exactly the same times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from czsim.engines.model_info import ModelInfo, VariableInfo
from czsim.errors import ModelError
from czsim.names import VariableRef

#: PySD's relative precision for final time and saving times (pysd Time.rprec).
RPREC = 1e-5


@dataclass(frozen=True)
class TimeSeries:
    """Piecewise-linear override of a variable's equation.

    ``value(t)`` is the linear interpolation of ``(times, values)``, held flat (constant)
    outside ``[times[0], times[-1]]`` -- the same as PySD's ``np.interp`` of a
    ``pd.Series`` passed in ``params``.

    Attributes
    ----------
    times : numpy.ndarray
        Shape ``(k,)``, strictly increasing, model time in years.
    values : numpy.ndarray
        Shape ``(k, *dims)`` (same for all runs) or ``(n_runs, k, *dims)`` (per run).
    """

    times: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        """Check and store the points as float arrays: times finite and strictly increasing."""
        times = np.asarray(self.times, dtype=float)
        values = np.asarray(self.values, dtype=float)
        if (
            times.ndim != 1
            or times.size == 0
            or not np.isfinite(times).all()
            or np.any(np.diff(times) <= 0)
        ):
            raise ModelError(
                "TimeSeries.times must be 1-D, non-empty, finite and strictly increasing"
            )
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class RunInputs:
    """Validated inputs of one ``run`` call.

    Attributes
    ----------
    n_runs : int
        Number of runs R.
    constants : dict of str to numpy.ndarray
        Real name -> float64 array shaped ``(1 or R, *shape)``; replaces the equation.
    series : dict of str to (numpy.ndarray, numpy.ndarray)
        Real name -> ``(times (k,), values (1 or R, k, *shape))``.
    variables : tuple of str
        Real names to return.
    times : numpy.ndarray
        Save times (years), strictly increasing.
    step_times : numpy.ndarray
        Model time at every Euler step, accumulated ``t += dt`` exactly as PySD does.
    save_steps : numpy.ndarray of int
        Index into ``step_times`` of every save time.
    time_step : float
        Euler step (years).
    final_time : float
        Last simulated time, ``times[-1]`` (passed to PySD as ``final_time``).
    """

    n_runs: int
    constants: dict[str, np.ndarray]
    series: dict[str, tuple[np.ndarray, np.ndarray]]
    variables: tuple[str, ...]
    times: np.ndarray
    step_times: np.ndarray
    save_steps: np.ndarray
    time_step: float
    final_time: float


def _check_overridable(info: ModelInfo, var: VariableInfo, key: str) -> None:
    if var.type == "lookup":
        raise ModelError(
            f"'{var.name}' is a lookup table; it cannot be overridden", file=info.path, key=key
        )


def _per_run(
    value: ArrayLike, shape: tuple[int, ...], n_runs: int, what: str, info: ModelInfo, key: str
) -> np.ndarray:
    """Return ``value`` as float64 ``(1 or n_runs, *shape)``."""
    arr = np.asarray(value, dtype=float)
    if arr.shape == shape:
        return arr[None, ...]
    if arr.shape == (n_runs, *shape):
        return arr
    raise ModelError(
        f"{what} has shape {arr.shape}; expected {shape} (same for all runs) or "
        f"{(n_runs, *shape)} (per run)",
        file=info.path,
        key=key,
    )


def step_grid(t0: float, final_time: float, dt: float) -> np.ndarray:
    """Return the model times of all Euler steps, as PySD's ``Time`` loop makes them.

    Time is accumulated ``t = t + dt`` while ``t + dt*RPREC < final_time``.
    """
    out = [t0]
    t = t0
    while t + dt * RPREC < final_time:
        t = t + dt
        out.append(t)
    return np.array(out)


def save_schedule(
    step_times: np.ndarray, times: np.ndarray, dt: float, info: ModelInfo
) -> np.ndarray:
    """Step index of each save time, with PySD's ``np.isclose(t, next, dt*RPREC)`` test.

    PySD silently drops a save time that is not on the step grid; we refuse it.
    """
    steps = np.empty(len(times), dtype=int)
    j = 0
    rtol = dt * RPREC
    for i, t in enumerate(step_times.tolist()):
        # np.isclose(t, times[j], rtol) with its default atol, in plain floats
        if j < len(times) and abs(t - times[j]) <= 1e-8 + rtol * abs(times[j]):
            steps[j] = i
            j += 1
        elif j < len(times) and t > times[j]:
            break
    if j < len(times):
        raise ModelError(
            f"save time {times[j]} is not on the simulation step grid "
            f"(initial time {step_times[0]}, time step {dt})",
            file=info.path,
            key="times",
        )
    return steps


@lru_cache(maxsize=4096)
def _override_target(info: ModelInfo, key: str) -> tuple[VariableInfo, tuple[int, ...] | None]:
    """Return the variable a constants key overrides, and the element position of ``Name[e]``.

    Cached: a run's keys are the same call after call (names are parsed once).
    """
    ref = VariableRef.parse(key)
    if ref is not None and ref.element is not None and key not in info.variables:
        var = info.lookup(ref.name)
        elems = [e.strip() for e in ref.element.split(",")]
        if len(elems) != len(var.dims):
            raise ModelError(
                f"'{var.name}' has dims {var.dims}; give one element per dim",
                file=info.path,
                key=key,
            )
        pos = tuple(info.element_index(d, e) for d, e in zip(var.dims, elems, strict=True))
        return var, pos
    var = info.lookup(key)
    _check_overridable(info, var, key)
    return var, None


@lru_cache(maxsize=64)
def _all_outputs(info: ModelInfo) -> tuple[str, ...]:
    return tuple(n for n, v in info.variables.items() if v.type != "lookup")


@lru_cache(maxsize=256)
def _schedule(
    info: ModelInfo, t0: float, final_time: float, dt: float, save_times: bytes
) -> tuple[np.ndarray, np.ndarray]:
    """Step times and the step index of each save time (read-only, cached)."""
    grid = step_grid(t0, final_time, dt)
    steps = save_schedule(grid, np.frombuffer(save_times), dt, info)
    grid.flags.writeable = False
    steps.flags.writeable = False
    return grid, steps


def prepare(
    info: ModelInfo,
    *,
    n_runs: int,
    constants: Mapping[str, ArrayLike] | None,
    series: Mapping[str, TimeSeries] | None,
    variables: Sequence[str] | None,
    times: Sequence[float] | None,
    time_step: float | None,
) -> RunInputs:
    """Validate and normalise the arguments of :func:`czsim.engines.run`.

    Raises
    ------
    ModelError
        Unknown names, lookups overridden, wrong shapes, bad times.
    """
    if int(n_runs) != n_runs or n_runs < 1:
        raise ModelError(f"n_runs must be a positive integer, got {n_runs}", key="n_runs")
    n_runs = int(n_runs)
    consts: dict[str, np.ndarray] = {}
    element_sets: list[tuple[VariableInfo, tuple[int, ...], np.ndarray, str]] = []
    for key, value in (constants or {}).items():
        var, pos = _override_target(info, key)
        if pos is not None:
            element_sets.append((var, pos, _per_run(value, (), n_runs, "value", info, key), key))
            continue
        if var.name in consts:
            raise ModelError("variable given twice", file=info.path, key=key)
        consts[var.name] = _per_run(value, var.shape, n_runs, "constant", info, key)
    for var, pos, value, key in element_sets:
        _check_overridable(info, var, key)
        if var.name not in consts:
            if var.default is None:
                raise ModelError(
                    f"'{var.name}' is not a constant; override it whole, shaped {var.shape}",
                    file=info.path,
                    key=key,
                )
            consts[var.name] = var.default[None, ...]
        base = consts[var.name]
        rows = max(base.shape[0], value.shape[0])
        full = np.array(np.broadcast_to(base, (rows, *var.shape)))
        full[(slice(None), *pos)] = value
        consts[var.name] = full
    sers: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, ts in (series or {}).items():
        if not isinstance(ts, TimeSeries):
            raise ModelError(
                "series values must be czsim.engines.TimeSeries", file=info.path, key=key
            )
        var = info.lookup(key)
        _check_overridable(info, var, key)
        if var.name in consts or var.name in sers:
            raise ModelError("variable given twice (constant and series)", file=info.path, key=key)
        k = ts.times.size
        sers[var.name] = (
            ts.times,
            _per_run(ts.values, (k, *var.shape), n_runs, "series values", info, key),
        )
    if variables is None:
        out_vars = _all_outputs(info)
    else:
        out_vars = []
        for name in variables:
            var = info.lookup(name)
            if var.type == "lookup":
                raise ModelError(
                    f"'{var.name}' is a lookup table, not a variable", file=info.path, key=name
                )
            out_vars.append(var.name)
        out_vars = tuple(dict.fromkeys(out_vars))
    dt = float(info.time_step if time_step is None else time_step)
    if not dt > 0:
        raise ModelError(f"time_step must be > 0, got {time_step}", key="time_step")
    t0 = info.initial_time
    if times is None:
        n_save = round((info.final_time - t0) / info.saveper)
        save_times = t0 + info.saveper * np.arange(n_save + 1)
    else:
        save_times = np.asarray(times, dtype=float).ravel()
        if save_times.size == 0 or np.any(np.diff(save_times) <= 0):
            raise ModelError("times must be non-empty and strictly increasing", key="times")
        if save_times[0] < t0 - dt * RPREC:
            raise ModelError(f"times start before INITIAL TIME {t0}", key="times")
    final_time = float(save_times[-1])
    grid, steps = _schedule(info, t0, final_time, dt, save_times.tobytes())
    return RunInputs(
        n_runs=n_runs,
        constants=consts,
        series=sers,
        variables=out_vars,
        times=save_times,
        step_times=grid,
        save_steps=steps,
        time_step=dt,
        final_time=final_time,
    )


def build_dataset(
    info: ModelInfo, inputs: RunInputs, data: Mapping[str, np.ndarray], engine: str
) -> xr.Dataset:
    """Wrap per-variable arrays shaped ``(n_runs, n_times, *shape)`` in a Dataset.

    No copy: dims ``("run", "time", *ranges)``, real names as data variables.
    """
    template = _template(
        info, inputs.variables, inputs.n_runs, inputs.times.tobytes(), inputs.time_step, engine
    )
    try:
        return _direct(template, inputs.variables, data)
    except (AttributeError, TypeError):  # pragma: no cover - another xarray's internals
        # copying a cached template with new data is ~4x faster than building a Dataset
        return template.copy(deep=False, data={n: data[n] for n in inputs.variables})


def _direct(template: xr.Dataset, names: tuple[str, ...], data: Mapping[str, np.ndarray]):
    """Return the template holding ``data``, built from xarray's parts (5x faster than copy).

    The same Dataset as ``template.copy(deep=False, data=...)`` (a test checks it is
    ``identical``); attrs are copied, coordinates and indexes shared, as ``copy`` does.
    """
    variables = dict(template._variables)
    for n in names:
        v = variables[n]
        variables[n] = xr.Variable(v.dims, data[n], dict(v.attrs), fastpath=True)
    return xr.Dataset._construct_direct(
        variables,
        set(template._coord_names),
        dict(template._dims),
        dict(template.attrs),
        dict(template._indexes),
    )


@lru_cache(maxsize=32)
def _template(
    info: ModelInfo,
    variables: tuple[str, ...],
    n_runs: int,
    times: bytes,
    time_step: float,
    engine: str,
) -> xr.Dataset:
    used_ranges = dict.fromkeys(d for n in variables for d in info.variables[n].dims)
    coords = {"run": np.arange(n_runs), "time": np.frombuffer(times)}
    coords.update({r: list(info.ranges[r]) for r in used_ranges})
    data_vars = {}
    for name in variables:
        var = info.variables[name]
        data_vars[name] = xr.Variable(
            ("run", "time", *var.dims),
            np.broadcast_to(np.float64(0.0), (n_runs, len(coords["time"]), *var.shape)),
            attrs={"units": var.units, "comment": var.comment, "py_name": var.py_name},
        )
    return xr.Dataset(
        data_vars,
        coords=coords,
        attrs={"engine": engine, "model_sha256": info.sha256, "time_step": time_step},
    )
