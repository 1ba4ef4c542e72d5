"""ModelInfo agrees with PySD's own description of the model."""

from __future__ import annotations

import importlib

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


def _no_parse(*args, **kwargs):
    raise AssertionError("parsed again")


def test_a_parse_is_kept_on_disk_and_reused_by_a_new_process(tmp_path, monkeypatch):
    """A new process (here: the in-memory caches cleared) reads PySD's parse from
    ``$CZSIM_CACHE/parsed`` instead of parsing the file again (~2 s for the real model)."""
    from pysd.translators.vensim.vensim_file import VensimFile

    mi = importlib.import_module("czsim.engines.model_info")  # the module, not the function

    monkeypatch.setenv("CZSIM_CACHE", str(tmp_path / "cache"))
    source = MODELS / "subscripts.mdl"
    first = tmp_path / "first.mdl"
    first.write_bytes(source.read_bytes())
    mi._abstract_section_cached.cache_clear()
    mi._model_info_cached.cache_clear()
    parsed = mi.model_info(first)
    assert len(list((tmp_path / "cache" / "parsed").glob("*.pickle"))) == 1
    mi._abstract_section_cached.cache_clear()
    mi._model_info_cached.cache_clear()
    monkeypatch.setattr(VensimFile, "parse", _no_parse)
    again = mi.model_info(first)
    assert list(again.variables) == list(parsed.variables) and again.ranges == parsed.ranges
    for name, var in parsed.variables.items():
        assert (again.variables[name].type, again.variables[name].dims) == (var.type, var.dims)
    # the same bytes under another name: the cached parse, with this file's paths
    other = tmp_path / "elsewhere" / "other.mdl"
    other.parent.mkdir()
    other.write_bytes(source.read_bytes())
    section, _ = mi.abstract_section(other)
    assert section.path == other.resolve().with_suffix(".py")


def test_a_broken_parse_cache_entry_is_parsed_again(tmp_path, monkeypatch):
    mi = importlib.import_module("czsim.engines.model_info")  # the module, not the function

    monkeypatch.setenv("CZSIM_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "m.mdl"
    path.write_bytes((MODELS / "lookups.mdl").read_bytes())
    sha = mi.file_sha256(path)
    entry = mi._parse_cache(sha)
    entry.parent.mkdir(parents=True)
    entry.write_bytes(b"not a pickle")
    mi._abstract_section_cached.cache_clear()
    mi._model_info_cached.cache_clear()
    assert mi.model_info(path).variables  # parsed again, and the entry rewritten
    mi._abstract_section_cached.cache_clear()
    assert mi._parsed(str(path), sha).sections  # now a good entry


def test_a_file_that_does_not_parse_leaves_no_cache_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("CZSIM_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "bad.mdl"
    path.write_text("x = (((\n~ ~ |\n", encoding="utf-8")
    with pytest.raises(ModelError, match="cannot parse"):
        model_info(path)
    assert not list((tmp_path / "cache").rglob("*.pickle"))
