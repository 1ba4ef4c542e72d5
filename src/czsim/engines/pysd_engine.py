"""Reference engine: PySD, one fresh model object per run.

The .mdl is copied to ``$CZSIM_CACHE/pysd/<sha256>/model.mdl`` (default cache root
``~/.cache/czsim``) and translated there once per process at most -- never next to the
original, so no generated ``.py`` appears in ``model/``. A translation left by an earlier
process is reused only when it was made by the same PySD version.

Freshness: PySD's ``Model.run(params=...)`` replaces component functions in place and
keeps them for later runs. Every run here therefore calls ``pysd.load`` on the translated
file (a new module import, ~10 ms), so no override can leak into another run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from functools import lru_cache
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from czsim.engines.inputs import RunInputs
from czsim.engines.model_info import ModelInfo
from czsim.errors import ModelError


def cache_root() -> Path:
    """Root of the on-disk cache (``$CZSIM_CACHE`` or ``~/.cache/czsim``)."""
    return Path(os.environ.get("CZSIM_CACHE", Path.home() / ".cache" / "czsim"))


@lru_cache(maxsize=16)
def translated_model(path: str, sha: str) -> Path:
    """Return the translated ``model.py`` for a .mdl, translating at most once per process.

    Parameters
    ----------
    path : str
        Absolute path of the .mdl file.
    sha : str
        Its sha256 (cache key).
    """
    import pysd

    target = cache_root() / "pysd" / sha
    target.mkdir(parents=True, exist_ok=True)
    py_file = target / "model.py"
    stamp = f'__pysd_version__ = "{pysd.__version__}"'
    if py_file.is_file() and stamp in py_file.read_text(encoding="utf-8"):
        return py_file
    # translate in a private directory, then move into place atomically, so that
    # concurrent processes never load a half-written file
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        mdl = Path(tmp) / "model.mdl"
        shutil.copyfile(path, mdl)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pysd.read_vensim(str(mdl), initialize=False)
        except Exception as err:  # PySD raises many exception types for bad models
            raise ModelError(f"PySD cannot translate the model: {err}", file=path) from err
        shutil.copyfile(mdl, target / "model.mdl")
        os.replace(Path(tmp) / "model.py", py_file)
    return py_file


def _pad_flat(times: np.ndarray, values: np.ndarray, lo: float, hi: float):
    """Extend a series with its end values beyond ``[lo, hi]``.

    PySD interpolates a ``pd.Series`` of DataArrays with ``xarray.interp``, which gives
    NaN outside the given times (a Series of floats uses ``np.interp`` and is held flat).
    Padding makes both cases equal to the documented "held flat" semantics.
    """
    if times[0] > lo:
        times = np.concatenate([[lo - 1.0], times])
        values = np.concatenate([values[:1], values])
    if times[-1] < hi:
        times = np.concatenate([times, [hi + 1.0]])
        values = np.concatenate([values, values[-1:]])
    return times, values


def _params_for_run(info: ModelInfo, inputs: RunInputs, r: int) -> dict:
    params: dict = {}
    for name, arr in inputs.constants.items():
        var = info.variables[name]
        row = arr[r if arr.shape[0] > 1 else 0]
        if var.dims:
            coords = {d: list(info.ranges[d]) for d in var.dims}
            params[name] = xr.DataArray(row.copy(), coords=coords, dims=list(var.dims))
        else:
            params[name] = float(row)
    for name, (times, values) in inputs.series.items():
        var = info.variables[name]
        v = values[r if values.shape[0] > 1 else 0]
        if var.dims:
            t, v = _pad_flat(times, v, inputs.step_times[0], inputs.step_times[-1])
            coords = {d: list(info.ranges[d]) for d in var.dims}
            params[name] = pd.Series(
                [
                    xr.DataArray(v[i].copy(), coords=coords, dims=list(var.dims))
                    for i in range(len(t))
                ],
                index=t,
            )
        else:
            params[name] = pd.Series(v.copy(), index=times)
    return params


def _columns(info: ModelInfo, name: str) -> list[str]:
    dims = info.variables[name].dims
    if not dims:
        return [name]
    return [f"{name}[{','.join(c)}]" for c in product(*(info.ranges[d] for d in dims))]


def run(info: ModelInfo, inputs: RunInputs) -> dict[str, np.ndarray]:
    """Run every run of ``inputs`` through PySD, one freshly loaded model each.

    Returns
    -------
    dict of str to numpy.ndarray
        Real name -> float64 array ``(n_runs, n_times, *shape)``.
    """
    import pysd

    py_file = translated_model(str(info.path), info.sha256)
    nt = len(inputs.times)
    out = {n: np.empty((inputs.n_runs, nt, *info.variables[n].shape)) for n in inputs.variables}
    for r in range(inputs.n_runs):
        with warnings.catch_warnings():
            # PySD warns on every series/constant replacement; they are intended here
            warnings.simplefilter("ignore")
            try:
                model = pysd.load(str(py_file))
            except (OSError, ValueError, KeyError) as err:  # external data (GET XLS ...)
                raise ModelError(
                    f"PySD cannot load the model: {err} (czsim translates the model in its "
                    "cache folder, so external data files are not found: give their values "
                    "as constants= or series=)",
                    file=info.path,
                ) from None
            try:
                df = model.run(
                    params=_params_for_run(info, inputs, r),
                    return_columns=list(inputs.variables),
                    return_timestamps=list(inputs.times),
                    time_step=inputs.time_step,
                    final_time=inputs.final_time,
                )
            except ArithmeticError as err:  # Python floats: 1/0, overflow
                raise ModelError(
                    f"PySD stopped in run {r} at time {model.time()}: {err} (the ensemble "
                    "engine gives inf or NaN there)",
                    file=info.path,
                ) from None
        if len(df) != nt:
            raise ModelError(f"PySD returned {len(df)} saved times, expected {nt}", file=info.path)
        for name in inputs.variables:
            shape = info.variables[name].shape
            try:
                cols = df[_columns(info, name)]
            except KeyError:
                got = [c for c in df.columns if c == name or c.startswith(f"{name}[")]
                raise ModelError(
                    f"PySD's result for '{name}' has the elements {got}, not those of "
                    f"{info.variables[name].dims} (a subscript mapping used in the direction "
                    "PySD does not map?)",
                    file=info.path,
                    key=name,
                ) from None
            out[name][r] = cols.to_numpy(dtype=float).reshape(nt, *shape)
    return out
