"""Refusals: unsupported functions, algebraic loops, bad names, shapes and times."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import MODELS

from czsim.engines import TimeSeries, run
from czsim.errors import ModelError


@pytest.mark.parametrize(
    "model, element, function",
    [
        ("unsupported_call", "Noisy", "RANDOM UNIFORM"),
        # TREND is supported now (test_vensim_corpus); GAME stays refused
        ("refuse_game", "Gamed", "GAME"),
    ],
)
def test_unsupported_function_names_element_and_function(model, element, function):
    with pytest.raises(ModelError) as err:
        run(MODELS / f"{model}.mdl")
    assert err.value.key == element
    assert function in str(err.value)


def test_algebraic_loop_names_the_elements():
    with pytest.raises(ModelError) as err:
        run(MODELS / "loop.mdl")
    msg = str(err.value)
    assert "algebraic loop" in msg
    for name in ("Alpha", "Beta", "Gamma"):
        assert name in msg
    assert "Fine" not in msg


@pytest.mark.parametrize("engine", ["ensemble", "pysd"])
def test_unknown_name(engine):
    with pytest.raises(ModelError, match="Growht") as err:
        run(MODELS / "subscripts.mdl", engine=engine, constants={"Growht": 1.0})
    assert "did you mean 'Growth'" in str(err.value)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(constants={"Base": np.ones(3)}), "expected (4,)"),
        (dict(constants={"Base": np.ones((5, 4))}, n_runs=2), "(2, 4)"),
        (dict(constants={"Scalar input": np.ones(2)}), "expected ()"),
        (dict(series={"Growth": TimeSeries(np.array([1.0, 2.0]), np.ones((2, 3)))}), "(2, 4)"),
        (dict(constants={"Base[oil]": 1.0}), "not an element"),
        (dict(variables=["Nope"]), "Nope"),
        (dict(times=[2021.1]), "step grid"),
        (dict(times=[2022, 2021]), "increasing"),
    ],
)
def test_bad_inputs(kwargs, fragment):
    with pytest.raises(ModelError) as err:
        run(MODELS / "subscripts.mdl", **kwargs)
    assert fragment in str(err.value)


def test_lookup_cannot_be_overridden_or_returned():
    with pytest.raises(ModelError, match="lookup"):
        run(MODELS / "lookups.mdl", constants={"effect table": 1.0})
    with pytest.raises(ModelError, match="lookup"):
        run(MODELS / "lookups.mdl", variables=["effect table"])


def test_time_series_validation():
    with pytest.raises(ModelError, match="strictly increasing"):
        TimeSeries(np.array([2.0, 1.0]), np.array([1.0, 2.0]))


def test_unknown_engine():
    with pytest.raises(ModelError, match="unknown engine"):
        run(MODELS / "growth.mdl", engine="vensim")


def test_check_compiles_supported_and_refuses_unsupported():
    from czsim.engines.ensemble import check

    check(MODELS / "subscripts.mdl")
    with pytest.raises(ModelError, match="RANDOM UNIFORM"):
        check(MODELS / "unsupported_call.mdl")


def test_time_series_times_must_be_finite():
    import numpy as np

    from czsim.engines import TimeSeries

    with pytest.raises(ModelError, match="finite and strictly increasing"):
        TimeSeries(np.array([2021.0, np.nan]), np.array([1.0, 2.0]))
