"""NaN or infinity in the results is reported: where it first appeared, or an error."""

from __future__ import annotations

import warnings

import pytest
from engine_helpers import MODELS

from czsim.engines import NonFiniteWarning, run
from czsim.errors import ModelError

PATH = MODELS / "nonfinite.mdl"


@pytest.mark.parametrize("engine", ["ensemble", "pysd"])
def test_warns_with_first_variable_element_run_and_time(engine):
    with pytest.warns(NonFiniteWarning) as rec:
        ds = run(PATH, engine=engine, n_runs=2)
    msg = " ".join(str(w.message) for w in rec if w.category is NonFiniteWarning)
    assert "'Late[south]' = nan in run 0 at time 2" in msg
    assert ds.attrs["nonfinite"] == "'Late[south]' = nan in run 0 at time 2"


def test_later_variable_and_infinity():
    with pytest.warns(NonFiniteWarning, match=r"'Later\[north\]' = inf in run 0 at time 3"):
        run(PATH, variables=["Fine", "Later"])


def test_per_run_value_names_the_run():
    with pytest.warns(NonFiniteWarning, match=r"'Late\[north\]' = nan in run 1 at time 2"):
        run(
            PATH,
            n_runs=3,
            constants={"Weight": [[1.0, 1.0], [3.0, 1.0], [1.0, 1.0]]},
            variables=["Late"],
        )


def test_strict_raises_model_error():
    with pytest.raises(ModelError, match=r"NaN or infinity.*'Late\[south\]'"):
        run(PATH, strict=True)


def test_finite_results_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = run(PATH, variables=["Fine", "Weight"], strict=True)
    assert "nonfinite" not in ds.attrs


def test_scalar_division_by_zero_gives_inf_not_a_traceback():
    with pytest.warns(NonFiniteWarning, match=r"'Root' = nan in run 0 at time 0"):
        ds = run(MODELS / "scalar_zero_division.mdl")
    assert list(ds["Spike"].values[0]) == [0.0, float("inf"), float("inf"), float("inf")]
    root = ds["Root"].values[0]
    assert root[2:].tolist() == [0.0, 1.0] and all(v != v for v in root[:2])
    # PySD computes on Python floats and stops: a ModelError, not a traceback
    with pytest.raises(ModelError, match="PySD stopped in run 0 at time 1"):
        run(MODELS / "scalar_zero_division.mdl", engine="pysd")
