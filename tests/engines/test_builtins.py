"""Each supported Vensim construct: the ensemble engine equals PySD to rtol 1e-9."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import MODELS, assert_same

from czsim.engines import TimeSeries, run

EQUIVALENCE_MODELS = [
    "arith_logic",  # + - * / ^, unary minus, comparisons, :AND: :OR: :NOT:, IF THEN ELSE,
    # MIN MAX ABS EXP LN SQRT INTEGER MODULO XIDZ ZIDZ, guarded division
    "time_funcs",  # STEP RAMP PULSE PULSE TRAIN TIME INITIAL, control variables
    "statefuls",  # SMOOTH SMOOTHI SMOOTH3 SMOOTH3I DELAY1 DELAY1I DELAY3 DELAY3I DELAY FIXED
    "lookups",  # lookup elements, WITH LOOKUP, flat extrapolation on both sides
    "sub_lookups",  # one lookup table per element, called per element / with a scalar
    "subscripts",  # 1-D/2-D ranges, per-element equations, constant lists, 2-D table,
    # axis reordering, SUM PROD VMIN VMAX, subranges, subscripted stocks
    "growth",
]


@pytest.mark.parametrize("name", EQUIVALENCE_MODELS)
def test_defaults_match_pysd(name):
    path = MODELS / f"{name}.mdl"
    assert_same(run(path), run(path, engine="pysd"))


@pytest.mark.parametrize("name", ["statefuls", "time_funcs"])
def test_finer_time_step_and_odd_save_times_match_pysd(name):
    path = MODELS / f"{name}.mdl"
    kw = dict(time_step=0.0625, times=[0.5, 1.25, 3.0, 7.5])
    assert_same(run(path, **kw), run(path, engine="pysd", **kw))


def test_per_run_constants_match_pysd():
    path = MODELS / "subscripts.mdl"
    rng = np.random.default_rng(1)
    constants = {
        "Base": rng.uniform(0.5, 5, size=(3, 4)),  # per run, [Cluster]
        "Weight": rng.uniform(0, 1, size=(3, 4)),  # same for all runs
        "Scalar input": np.array([1.0, 2.5, -1.0]),  # per run, scalar var
        "Growth[chem]": np.array([0.01, 0.2, 0.05]),  # one element, per run
    }
    a = run(path, n_runs=3, constants=constants)
    b = run(path, engine="pysd", n_runs=3, constants=constants)
    assert_same(a, b)
    # the single-element override kept the other elements at the model default
    assert np.all(a["Growth"].sel(Cluster=["nev", "steel", "bio"]).values == 0.05)
    assert np.array_equal(a["Growth"].sel(Cluster="chem").isel(time=0).values, [0.01, 0.2, 0.05])


def test_per_run_constants_statefuls_match_pysd():
    path = MODELS / "statefuls.mdl"
    constants = {"Delay time": np.array([1.0, 2.0, 4.5])}
    assert_same(
        run(path, n_runs=3, constants=constants),
        run(path, engine="pysd", n_runs=3, constants=constants),
    )


def test_time_series_scalar_matches_pysd_and_is_flat_outside():
    path = MODELS / "statefuls.mdl"
    # covers only part of the run: before 3 and after 9 the series is held flat
    series = {"Input": TimeSeries(np.array([3.0, 5.0, 9.0]), np.array([10.0, 30.0, 20.0]))}
    a = run(path, series=series)
    assert_same(a, run(path, engine="pysd", series=series))
    inp = a["Input"].isel(run=0)
    assert inp.sel(time=0.0) == 10.0 and inp.sel(time=1.0) == 10.0
    assert inp.sel(time=4.0) == pytest.approx(20.0)
    assert inp.sel(time=10.0) == 20.0 and inp.sel(time=12.0) == 20.0


def test_time_series_subscripted_per_run_matches_pysd():
    path = MODELS / "subscripts.mdl"
    rng = np.random.default_rng(2)
    times = np.array([2023.0, 2025.5, 2027.0])
    values = rng.uniform(0.0, 0.2, size=(2, 3, 4))  # (n_runs, k, Cluster)
    series = {"Growth": TimeSeries(times, values)}
    a = run(path, n_runs=2, series=series)
    assert_same(a, run(path, engine="pysd", n_runs=2, series=series))
    g = a["Growth"]
    np.testing.assert_array_equal(g.sel(time=2021.0).values, values[:, 0])
    np.testing.assert_array_equal(g.sel(time=2030.0).values, values[:, -1])


def test_variables_subset_and_layout():
    path = MODELS / "subscripts.mdl"
    ds = run(
        path, n_runs=2, variables=["Weighted", "Transposed", "Stats"], times=[2021, 2025, 2030]
    )
    assert list(ds.data_vars) == ["Weighted", "Transposed", "Stats"]
    assert ds["Transposed"].dims == ("run", "time", "Cluster", "Group")
    assert ds["Transposed"].shape == (2, 3, 4, 3)
    assert list(ds["Cluster"].values) == ["nev", "steel", "chem", "bio"]
    assert list(ds["time"].values) == [2021.0, 2025.0, 2030.0]
    assert list(ds["run"].values) == [0, 1]
    assert ds["Stats"].attrs["py_name"] == "stats"
    assert ds["Transposed"].attrs["comment"] == "reorders axes"
    assert ds.attrs["engine"] == "ensemble" and ds.attrs["time_step"] == 0.25
    assert len(ds.attrs["model_sha256"]) == 64
    assert ds["Stats"].dtype == np.float64


@pytest.mark.parametrize(
    "model, kwargs",
    [
        ("arith_logic", dict(constants={"Level": 2.0})),  # a stock
        ("arith_logic", dict(constants={"Inflow": np.array([0.1, 0.5])}, n_runs=2)),  # a flow
        (
            "arith_logic",
            dict(series={"Level": TimeSeries(np.array([0.0, 8.0]), np.array([1.0, 5.0]))}),
        ),
        ("statefuls", dict(constants={"Sm1": 2.0, "Delay time": 3.0})),  # a SMOOTH output
        (
            "statefuls",
            dict(
                series={
                    "DF": TimeSeries(
                        np.array([0.0, 8.0]),  # a DELAY FIXED
                        np.array([1.0, 5.0]),
                    )
                }
            ),
        ),
    ],
)
def test_overriding_computed_variables_matches_pysd(model, kwargs):
    path = MODELS / f"{model}.mdl"
    assert_same(run(path, **kwargs), run(path, engine="pysd", **kwargs))


def test_time_switch_of_static_values_is_computed_before_the_loop(tmp_path):
    """``(1 + IF THEN ELSE(Time < T, a, b)) ^ c`` with a, b, c constant: both branches'
    powers are computed once, before the time loop (each step only picks one), and the
    results still equal PySD's, per run too."""
    from czsim.engines import ensemble, model_info

    path = tmp_path / "switch.mdl"
    path.write_text(
        "{UTF-8}\n"
        "Cl: c1, c2 ~ ~ |\n"
        "a[Cl] = 0.1, 0.2 ~ 1/Year ~ |\n"
        "b[Cl] = 0.05, -0.02 ~ 1/Year ~ |\n"
        "c = 0.5 ~ Dmnl ~ |\n"
        "Rate[Cl] = ((1 + IF THEN ELSE(Time < 2, a[Cl], b[Cl])) ^ c - 1) / TIME STEP ~ 1/Year ~ |\n"
        "Stock[Cl] = INTEG(Rate[Cl] * Stock[Cl], 1) ~ Dmnl ~ |\n"
        "INITIAL TIME = 0 ~ Year ~ |\nFINAL TIME = 4 ~ Year ~ |\n"
        "SAVEPER = 1 ~ Year ~ |\nTIME STEP = 0.25 ~ Year ~ |\n",
        encoding="utf-8",
    )
    assert_same(run(path), run(path, engine="pysd"))
    constants = {"c": np.array([0.5, 1.5, 2.0])}
    assert_same(
        run(path, n_runs=3, constants=constants),
        run(path, engine="pysd", n_runs=3, constants=constants),
    )
    info = model_info(path)
    model = ensemble.compiled(str(info.path), info.sha256, frozenset(), frozenset(), ("Stock",))
    loop = model.source.split("for _i in range")[1]
    assert "**" not in loop and "if ((t) < (2.0)) else" in loop
