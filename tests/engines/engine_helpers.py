"""Shared helpers for the engine tests (a uniquely named module, not conftest, so it can
be imported next to other test folders' conftest files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

MODELS = Path(__file__).parent / "models"
REPO = Path(__file__).resolve().parents[2]
REAL_MODEL = REPO / "model" / "changzhou.mdl"
REAL_PARAMETERS = REPO / "model" / "parameters.toml"

RTOL = 1e-9
ATOL = 1e-12  # only matters for values at (or rounding to) zero


def assert_same(a: xr.Dataset, b: xr.Dataset, rtol: float = RTOL, atol: float = ATOL) -> None:
    """Every variable, element and saved time of ``a`` equals ``b`` within rtol/atol."""
    assert list(a.data_vars) == list(b.data_vars)
    for name in ("run", "time"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    for name in a.data_vars:
        x, y = a[name], b[name]
        assert x.dims == y.dims, name
        for d in x.dims[2:]:
            assert list(x[d].values) == list(y[d].values), (name, d)
        np.testing.assert_allclose(
            x.values, y.values, rtol=rtol, atol=atol, err_msg=f"variable {name!r}"
        )
