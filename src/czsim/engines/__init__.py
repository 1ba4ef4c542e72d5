"""Simulation engines for Vensim models: a vectorised numpy ensemble engine and PySD.

``run`` is the single entry point; both engines take the same validated inputs and return
the same :class:`xarray.Dataset` layout, so results can be compared element by element.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from czsim.engines.inputs import TimeSeries, build_dataset, prepare
from czsim.engines.model_info import ModelInfo, VariableInfo, model_info
from czsim.errors import ModelError

__all__ = ["ModelInfo", "NonFiniteWarning", "TimeSeries", "VariableInfo", "model_info", "run"]


class NonFiniteWarning(UserWarning):
    """A run's results contain NaN or infinity (the message says where it first appeared)."""


def run(
    model_path: str | Path,
    *,
    engine: Literal["ensemble", "pysd"] = "ensemble",
    n_runs: int = 1,
    constants: Mapping[str, ArrayLike] | None = None,
    series: Mapping[str, TimeSeries] | None = None,
    variables: Sequence[str] | None = None,
    times: Sequence[float] | None = None,
    time_step: float | None = None,
    strict: bool = False,
) -> xr.Dataset:
    """Simulate a Vensim model ``n_runs`` times.

    Parameters
    ----------
    model_path : str or Path
        The .mdl file.
    engine : {"ensemble", "pysd"}
        ``"ensemble"``: all runs in one vectorised numpy pass (fast). ``"pysd"``: one
        freshly loaded PySD model per run (reference).
    n_runs : int
        Number of runs R.
    constants : mapping of str to array_like, optional
        Real variable name -> value shaped ``dims`` (same for all runs; 0-d for a
        scalar) or ``(n_runs, *dims)``. Replaces the variable's equation. A key may
        also name one element, ``"Name[e1,e2]"``, with a 0-d or ``(n_runs,)`` value;
        the other elements keep the model default (or the whole-variable override
        given in the same call).
    series : mapping of str to TimeSeries, optional
        Real variable name -> piecewise-linear time series replacing its equation.
    variables : sequence of str, optional
        Real names to return (default: every variable except lookups and the
        control variables INITIAL TIME, FINAL TIME, TIME STEP, SAVEPER).
    times : sequence of float, optional
        Save times in years, strictly increasing and on the step grid (default:
        INITIAL TIME..FINAL TIME every SAVEPER). The run ends at ``times[-1]``.
    time_step : float, optional
        Euler step in years (default: the model's TIME STEP).
    strict : bool
        If True, a result containing NaN or infinity raises :class:`ModelError` instead
        of warning.

    Returns
    -------
    xarray.Dataset
        One float64 data variable per requested name, dims ``("run", "time",
        *subscript ranges)``; attrs ``units``, ``comment``, ``py_name`` per variable and
        ``engine``, ``model_sha256``, ``time_step`` and ``time_loop`` (``"C"``: the compiled
        kernel ran it, ``"numpy"``, or ``"pysd"``) on the dataset; ``nonfinite`` on the
        dataset when some value is NaN or infinite (where it first appeared; a
        :class:`NonFiniteWarning` says the same). With the ensemble
        engine, large results of variables that cannot change during the run (constants
        and what depends only on them) are read-only broadcast views; copy before
        writing into them.

    Raises
    ------
    ModelError
        Unknown names, wrong shapes, unsupported model constructs, algebraic loops.
    """
    info = model_info(model_path)
    inputs = prepare(
        info,
        n_runs=n_runs,
        constants=constants,
        series=series,
        variables=variables,
        times=times,
        time_step=time_step,
    )
    if engine == "ensemble":
        from czsim.engines import ensemble

        data, suspects, loop = ensemble.run(info, inputs)
    elif engine == "pysd":
        from czsim.engines import pysd_engine

        data, suspects, loop = pysd_engine.run(info, inputs), None, "pysd"
    else:
        raise ModelError(f"unknown engine '{engine}' (use 'ensemble' or 'pysd')", key="engine")
    ds = build_dataset(info, inputs, data, engine)
    ds.attrs["time_loop"] = loop
    where = None if suspects == {} else first_nonfinite(info, inputs, data, suspects)
    if where is not None:
        ds.attrs["nonfinite"] = where
        msg = f"NaN or infinity in the results: first {where}"
        if strict:
            raise ModelError(msg, file=info.path)
        warnings.warn(f"{info.path.name}: {msg}", NonFiniteWarning, stacklevel=2)
    return ds


def first_nonfinite(
    info: ModelInfo,
    inputs,
    data: Mapping[str, np.ndarray],
    suspects: Mapping[str, np.ndarray] | None = None,
) -> str | None:
    """Find the first NaN or infinity; ``None`` if every value is finite.

    First means: the earliest saved time, then the variable first in the output order, then
    the lowest run and element. ``suspects`` (variable -> saved-time indices) limits the
    search.
    """
    best = None
    for order, name in enumerate(inputs.variables):
        if suspects is not None and name not in suspects:
            continue
        arr = data[name]
        # a broadcast view (time-invariant result) is checked on the values it repeats
        small = arr[tuple(slice(0, 1) if st == 0 else slice(None) for st in arr.strides)]
        by_time = small.swapaxes(0, 1)  # the ensemble's buffers are time-major
        if suspects is not None:
            times = suspects[name]
        else:  # per saved time, one sum tells whether a value may be NaN or infinite
            sums = np.add.reduce(by_time.reshape(by_time.shape[0], -1), axis=1)
            times = np.flatnonzero(~np.isfinite(sums))
        for k in times:
            if best is not None and (k, order) >= best[0]:
                break
            bad = ~np.isfinite(by_time[k])
            if bad.any():  # else the sum overflowed
                # argwhere's rows come in C order: lowest run, then first element
                run_, *elem = (int(i) for i in np.argwhere(bad)[0])
                best = ((int(k), order), name, run_, tuple(elem), float(by_time[k][(run_, *elem)]))
                break
    if best is None:
        return None
    (k, _), name, run_, elem, value = best
    var = info.variables[name]
    label = name
    if elem:
        label += (
            "[" + ",".join(info.ranges[d][i] for d, i in zip(var.dims, elem, strict=True)) + "]"
        )
    return f"'{label}' = {value} in run {run_} at time {float(inputs.times[k]):g}"
