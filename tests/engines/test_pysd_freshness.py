"""PySD keeps ``params`` between runs of one model object; our PySD engine must not."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import MODELS, assert_same

from czsim.engines import TimeSeries, run


def test_override_then_default_gives_default_again():
    path = MODELS / "subscripts.mdl"
    before = run(path, engine="pysd")
    changed = run(
        path,
        engine="pysd",
        constants={"Base": np.full(4, 9.0)},
        series={"Scalar input": TimeSeries(np.array([2021.0, 2030.0]), np.array([0.0, 9.0]))},
    )
    assert not np.allclose(changed["Output"].values, before["Output"].values)
    after = run(path, engine="pysd")
    assert_same(after, before, rtol=0, atol=0)


def test_runs_within_one_call_are_independent():
    path = MODELS / "growth.mdl"
    ds = run(path, engine="pysd", n_runs=3, constants={"g": np.array([0.5, 0.07, 0.07])})
    np.testing.assert_array_equal(ds["S"].values[1], ds["S"].values[2])
    np.testing.assert_array_equal(ds["S"].values[1], run(path, engine="pysd")["S"].values[0])


def test_pysd_series_semantics_that_our_adapter_pads_for():
    """Documents PySD itself: a pd.Series of floats is held flat outside its times
    (np.interp), a pd.Series of DataArrays gives NaN there (xarray.interp). Our PySD
    adapter pads the latter so both engines hold series flat."""
    import warnings

    import pandas as pd
    import pysd
    import xarray as xr

    from czsim.engines import model_info
    from czsim.engines.pysd_engine import translated_model

    info = model_info(MODELS / "subscripts.mdl")
    py = str(translated_model(str(info.path), info.sha256))
    coords = {"Cluster": list(info.ranges["Cluster"])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = pysd.load(py).run(
            params={"Scalar input": pd.Series([1.0, 3.0], index=[2023.0, 2025.0])},
            return_columns=["Scalar input"],
            return_timestamps=[2021.0, 2030.0],
        )
        nan = pysd.load(py).run(
            params={
                "Growth": pd.Series(
                    [xr.DataArray(np.full(4, v), coords, ["Cluster"]) for v in (0.1, 0.3)],
                    index=[2023.0, 2025.0],
                )
            },
            return_columns=["Growth"],
            return_timestamps=[2021.0, 2024.0, 2030.0],
        )
    assert flat["Scalar input"].tolist() == [1.0, 3.0]
    g = nan["Growth[nev]"].tolist()
    assert np.isnan(g[0]) and g[1] == pytest.approx(0.2) and np.isnan(g[2])
    ours = run(
        MODELS / "subscripts.mdl",
        engine="pysd",
        series={
            "Growth": TimeSeries(
                np.array([2023.0, 2025.0]), np.array([np.full(4, 0.1), np.full(4, 0.3)])
            )
        },
        variables=["Growth"],
        times=[2021.0, 2024.0, 2030.0],
    )
    np.testing.assert_allclose(ours["Growth"].values[0, :, 0], [0.1, 0.2, 0.3])
