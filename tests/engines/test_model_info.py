"""ModelInfo agrees with PySD's own description of the model."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import MODELS, REAL_MODEL

from czsim.engines import model_info
from czsim.engines.pysd_engine import translated_model
from czsim.errors import ModelError

PATHS = [MODELS / f"{m}.mdl" for m in ("subscripts", "statefuls", "lookups", "time_funcs")]
if REAL_MODEL.is_file():
    PATHS.append(REAL_MODEL)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.stem)
def test_names_dims_units_match_pysd_doc(path):
    import warnings

    import pysd

    info = model_info(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        doc = pysd.load(str(translated_model(str(info.path), info.sha256))).doc
    doc = doc.set_index("Real Name")
    for name, var in info.variables.items():
        row = doc.loc[name]
        assert row["Py Name"] == var.py_name
        assert tuple(row["Subscripts"] or ()) == var.dims
        assert (row["Units"] if isinstance(row["Units"], str) else "") == var.units
        if var.type == "constant":
            assert row["Type"] == "Constant"
        if var.type == "stock":
            assert row["Subtype"] == "Integ"


def test_subscripts_model_contents():
    info = model_info(MODELS / "subscripts.mdl")
    assert info.ranges["Cluster"] == ("nev", "steel", "chem", "bio")
    assert info.ranges["Sub"] == ("steel", "chem")
    assert (info.initial_time, info.final_time, info.time_step, info.saveper) == (
        2021.0,
        2030.0,
        0.25,
        1.0,
    )
    w = info.variables["Weight"]
    assert w.dims == ("Group", "Cluster") and w.type == "constant" and w.shape == (3, 4)
    np.testing.assert_array_equal(w.default[1], [0.5, 0.6, 0.7, 0.8])
    assert info.variables["Growth"].default.tolist() == [0.05] * 4
    assert info.variables["Scalar input"].default.shape == ()
    assert info.variables["Output"].type == "stock"
    assert info.variables["Rate"].type == "auxiliary" and info.variables["Rate"].default is None
    assert info.variables["Sub value"].dims == ("Sub",)
    assert info.lookup("scalar_input") is info.variables["Scalar input"]
    assert model_info(MODELS / "subscripts.mdl") is info  # cached
    assert "INITIAL TIME" not in info.variables
    assert info.coords("Weight") == {
        "Group": ("g1", "g2", "g3"),
        "Cluster": ("nev", "steel", "chem", "bio"),
    }


def test_types():
    info = model_info(MODELS / "arith_logic.mdl")
    assert info.variables["Level"].type == "stock"
    assert info.variables["Inflow"].type == "flow"
    assert info.variables["Arith"].type == "auxiliary"
    assert model_info(MODELS / "lookups.mdl").variables["effect table"].type == "lookup"


def test_missing_file():
    with pytest.raises(ModelError, match="not found"):
        model_info(MODELS / "nope.mdl")


def test_a_files_hash_follows_its_content_even_when_rewritten_at_once(tmp_path):
    """The hash is reused only for a file left alone for a while with an unchanged stat: a
    same-size rewrite within the timestamp granularity is read again, and an old file that
    changes (new time, size or inode) is hashed anew."""
    import hashlib
    import importlib
    import os

    mi = importlib.import_module("czsim.engines.model_info")  # the module, not the function

    path = tmp_path / "m.mdl"
    for text in ("aaaa", "bbbb", "cccc"):  # same size, written back to back
        path.write_text(text, encoding="utf-8")
        assert mi.file_sha256(path) == hashlib.sha256(text.encode()).hexdigest()
    old = 1_000_000_000
    os.utime(path, (old, old))
    first = mi.file_sha256(path)
    assert str(path) in mi._HASHES  # settled: remembered
    path.write_text("dddd", encoding="utf-8")
    os.utime(path, (old + 1, old + 1))
    assert mi.file_sha256(path) == hashlib.sha256(b"dddd").hexdigest() != first
    path.write_text("eeeee", encoding="utf-8")  # other size, now
    assert mi.file_sha256(path) == hashlib.sha256(b"eeeee").hexdigest()
