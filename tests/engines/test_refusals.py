"""Every construct the ensemble engine does not support is refused with a ModelError
that names the element, the function as Vensim spells it and what to do instead."""

from __future__ import annotations

import pytest
from engine_helpers import MODELS

from czsim.engines import run
from czsim.errors import ModelError

DATA = "does not read external data files: give the values as constants= or series="

REFUSED = [
    # model, element, Vensim's name, what to do instead
    ("refuse_allocate", "Alloc", "ALLOCATE BY PRIORITY", "use the PySD engine"),
    ("refuse_vector", "Sel", "VECTOR SELECT", "use the PySD engine"),
    ("refuse_game", "Gamed", "GAME", "remove GAME"),
    ("unsupported_call", "Noisy", "RANDOM UNIFORM", "per-run constants="),
    ("refuse_xls_data", "Data", "GET XLS DATA / GET DIRECT DATA", DATA),
    ("refuse_direct_data", "Data", "GET XLS DATA / GET DIRECT DATA", DATA),
    ("refuse_xls_constants", "Const", "GET XLS CONSTANTS / GET DIRECT CONSTANTS", DATA),
    ("refuse_xls_lookups", "Table", "GET XLS LOOKUPS / GET DIRECT LOOKUPS", DATA),
    ("refuse_gtv", "Clock", "GET TIME VALUE", "use TIME instead"),
    ("refuse_delayn", "Dn", "DELAY N with a delay time that changes", "constant delay time"),
    ("refuse_macro", "DOUBLE", "macro DOUBLE(x) (:MACRO:)", "write its equations"),
    # "Dim A: ... -> Dim B" maps A onto B; the equation over A uses B (the other way)
    ("refuse_mapping", "Var a", "subscript Dim B of the expression", "declare the mapping"),
    ("refuse_active_nested", "Nested", "ACTIVE INITIAL", "an auxiliary of its own"),
]


@pytest.mark.parametrize("model, element, vensim, advice", REFUSED)
def test_refusal_names_element_function_and_remedy(model, element, vensim, advice):
    with pytest.raises(ModelError) as err:
        run(MODELS / f"{model}.mdl")
    assert err.value.key == element
    msg = str(err.value)
    assert vensim in msg and advice in msg, msg
    for internal in ("Structure", "SMOOTHN", "GETCONSTANTS", "DELAYN", "_"):
        assert internal not in err.value.message.split(":")[0], msg


@pytest.mark.parametrize(
    "model, fragment",
    [
        ("refuse_xls_data", "PySD cannot load the model"),
        ("refuse_xls_lookups", "PySD cannot load the model"),
        ("refuse_macro", "macro DOUBLE"),
        ("refuse_mapping", "PySD's result for 'Var a' has the elements"),
    ],
)
def test_pysd_engine_refuses_cleanly_too(model, fragment):
    with pytest.raises(ModelError, match=fragment):
        run(MODELS / f"{model}.mdl", engine="pysd")
