"""The public API: both engines agree on every scenario file; batches, comparisons, writers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import czsim
from czsim.errors import ParameterError
from czsim.io import write_results


@pytest.mark.parametrize("name", czsim.list_scenarios())
def test_engines_agree_on_every_scenario_file(name, scenario_results):
    reference = czsim.run(name, engine="pysd")
    fast = scenario_results[name]
    assert set(reference.data_vars) == set(fast.data_vars)
    for var in reference.data_vars:
        np.testing.assert_allclose(
            fast[var].values, reference[var].values, rtol=1e-9, atol=1e-9, err_msg=f"{name}: {var}"
        )


def test_result_layout(scenario_results):
    result = scenario_results["plan"]
    assert result.attrs["scenario"] == "plan"
    assert result["Cluster output"].dims == ("run", "time", "Cluster")
    assert list(result["time"].values) == list(np.arange(2021.0, 2031.0))
    assert result["Industrial scale"].attrs["units"] == "亿元/Year"


def test_run_many_aligns_samples_with_runs():
    frame = pd.DataFrame(
        {"industrial_investment_growth": [0.02, 0.09, 0.15], "demand_growth_nev": [0.1, 0.2, 0.3]}
    )
    result = czsim.run_many(
        "baseline", frame, variables=["Industrial scale", "Cluster output"], times=[2021, 2025]
    )
    assert result.sizes["run"] == 3 and list(result["time"].values) == [2021, 2025]
    np.testing.assert_array_equal(result["demand_growth_nev"].values, [0.1, 0.2, 0.3])
    scale = result["Industrial scale"].sel(time=2025).values
    assert np.all(np.diff(scale) > 0), "more investment and NEV demand never means less output"
    single = czsim.run(
        czsim.load_scenario("baseline").with_values(
            industrial_investment_growth=0.09, demand_growth_nev=0.2
        ),
        variables=["Industrial scale"],
    )
    assert scale[1] == pytest.approx(single["Industrial scale"].sel(time=2025).item(), rel=1e-12)


def test_run_many_keeps_scenario_time_series_for_other_parameters():
    slow = czsim.load_scenario("slowdown")
    many = czsim.run_many(slow, {"rd_intensity": [0.015, 0.015]}, variables=["Industrial scale"])
    one = czsim.run(slow, variables=["Industrial scale"])
    np.testing.assert_allclose(
        many["Industrial scale"].values,
        np.repeat(one["Industrial scale"].values, 2, axis=0),
        rtol=1e-12,
    )


def test_run_many_refuses_bad_overrides():
    with pytest.raises(ParameterError, match="outside"):
        czsim.run_many("baseline", {"rd_intensity": [0.01, 0.5]})
    with pytest.raises(ParameterError, match="did you mean"):
        czsim.run_many("baseline", {"rd_intensty": [0.01]})
    with pytest.raises(ParameterError, match="no rows"):
        czsim.run_many("baseline", pd.DataFrame({"rd_intensity": []}))


def test_runs_start_fresh_each_time():
    """A run with a change does not leak into the next run (PySD keeps params otherwise)."""
    for engine in ("ensemble", "pysd"):
        first = czsim.run("baseline", engine=engine, variables=["Industrial scale"])
        czsim.run(
            czsim.load_scenario("baseline").with_values(industrial_investment_growth=0.2),
            engine=engine,
            variables=["Industrial scale"],
        )
        again = czsim.run("baseline", engine=engine, variables=["Industrial scale"])
        np.testing.assert_array_equal(
            first["Industrial scale"].values, again["Industrial scale"].values
        )


def test_compare_puts_scenarios_side_by_side():
    table = czsim.compare(["baseline", "plan"])
    assert {"baseline", "plan", "baseline reached", "plan reached"} <= set(table.columns)
    assert table.loc["industrial_scale", "plan"] > table.loc["industrial_scale", "baseline"]


@pytest.mark.parametrize("suffix", [".csv", ".nc", ".xlsx"])
def test_writers(tmp_path, suffix, scenario_results):
    result = scenario_results["baseline"]
    path = write_results(result, tmp_path / f"out{suffix}", scorecard=czsim.scorecard(result))
    assert path.stat().st_size > 0
    if suffix == ".nc":
        back = xr.open_dataset(path)
        np.testing.assert_allclose(
            back["Industrial scale"].values, result["Industrial scale"].values
        )
        back.close()
    elif suffix == ".csv":
        frame = pd.read_csv(path)
        assert "Cluster output[nev]" in frame.columns and len(frame) == 10
    else:
        sheets = pd.read_excel(path, sheet_name=None, engine="openpyxl")
        assert set(sheets) == {"results", "scorecard"}


def test_unknown_output_format(tmp_path, scenario_results):
    with pytest.raises(czsim.CzsimError, match="unknown output format"):
        write_results(scenario_results["baseline"], tmp_path / "out.json")
