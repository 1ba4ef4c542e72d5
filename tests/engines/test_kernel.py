"""The compiled kernel (``czsim.engines.kernel``) is the numpy time loop, in C.

Every scenario, random draws over the parameter box and every model of the corpus give
the same results with the kernel as with numpy (to 1e-12 of each variable's scale in each
run); the models the kernel leaves to numpy are exactly the ones listed; without a
compiler, or when it fails, the engine runs numpy and says so.
"""

from __future__ import annotations

import os
import tomllib
import warnings

import numpy as np
import pytest
from engine_helpers import MODELS, REAL_MODEL, REAL_PARAMETERS

import czsim
from czsim.engines import ensemble, kernel, run
from czsim.scenarios import list_scenarios

#: corpus models whose time loop the kernel does not translate (numpy runs them)
NUMPY_ONLY = {
    "statefuls.mdl": "index q8",  # DELAY FIXED: a ring buffer with a moving index
    "sub_lookups.mdl": "name K12",  # lookups per element (tables as a list)
}


def assert_equal_to_scale(a, b, tol: float = 1e-12) -> None:
    """Every variable of ``a`` and ``b`` agrees to ``tol`` of its largest value per run."""
    assert list(a.data_vars) == list(b.data_vars)
    for name in a.data_vars:
        x, y = np.asarray(a[name].values, float), np.asarray(b[name].values, float)
        assert x.shape == y.shape, name
        if x.size == 0:
            continue
        flat_x = x.reshape(x.shape[0], -1)
        flat_y = y.reshape(y.shape[0], -1)
        nan_x, nan_y = np.isnan(flat_x), np.isnan(flat_y)
        assert (nan_x == nan_y).all(), f"{name}: NaN in one path only"
        with np.errstate(invalid="ignore"):
            finite = np.where(np.isfinite(flat_x), np.abs(flat_x), 0.0)
            scale = np.maximum(finite.max(axis=1, keepdims=True), 1e-300)
            same = (flat_x == flat_y) | (nan_x & nan_y)
            err = np.where(same, 0.0, np.abs(flat_x - flat_y) / scale)
        worst = float(err.max())
        assert worst <= tol, f"{name}: kernel differs from numpy by {worst:.2e} of its scale"


def both(monkeypatch, fn):
    monkeypatch.setenv("CZSIM_KERNEL", "numpy")
    reference = fn()
    monkeypatch.delenv("CZSIM_KERNEL")
    return reference, fn()


if kernel.compiler() is None and os.environ.get("CZSIM_REQUIRE_CC"):  # CI must test the kernel
    raise RuntimeError("CZSIM_REQUIRE_CC is set but there is no C compiler (cc or gcc)")
needs_cc = pytest.mark.skipif(kernel.compiler() is None, reason="no C compiler on this machine")


@needs_cc
@pytest.mark.parametrize("name", list_scenarios())
def test_every_scenario_runs_the_same_in_the_kernel(monkeypatch, name):
    reference, compiled = both(monkeypatch, lambda: czsim.run(name))
    assert reference.attrs["time_loop"] == "numpy"
    assert compiled.attrs["time_loop"] == "C"
    assert_equal_to_scale(reference, compiled)


def draws(n: int, seed: int) -> dict[str, np.ndarray]:
    table = tomllib.loads(REAL_PARAMETERS.read_text(encoding="utf-8"))["parameter"]
    rng = np.random.default_rng(seed)
    return {p["variable"]: rng.uniform(p["low"], p["high"], n) for p in table}


@needs_cc
@pytest.mark.parametrize("n", [1, 40, kernel.OPTIMISE_RUNS + 1])
def test_random_draws_in_the_parameter_box_run_the_same(monkeypatch, n):
    # 1 run: everything shared; 40: per-run inputs, -O0; more than OPTIMISE_RUNS: -O1
    constants = draws(n, seed=n)
    if n == 1:
        constants = {k: v[0] for k, v in constants.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference, compiled = both(
            monkeypatch, lambda: run(REAL_MODEL, n_runs=n, constants=constants)
        )
    assert compiled.attrs["time_loop"] == "C"
    assert_equal_to_scale(reference, compiled)


@needs_cc
def test_a_run_alone_and_within_a_batch_agree(monkeypatch):
    constants = draws(30, seed=3)
    batch = run(REAL_MODEL, n_runs=30, constants=constants)
    alone = run(REAL_MODEL, constants={k: v[7] for k, v in constants.items()})
    assert batch.attrs["time_loop"] == alone.attrs["time_loop"] == "C"
    assert_equal_to_scale(batch.isel(run=[7]), alone)


@needs_cc
def test_optimised_and_fast_builds_give_the_same_bits(monkeypatch):
    # the engine picks -O0 or -O1 by batch size; that must not change a single bit
    constants = draws(8, seed=5)
    fast = run(REAL_MODEL, n_runs=8, constants=constants)
    monkeypatch.setattr(kernel, "OPTIMISE_RUNS", 1)
    optimised = run(REAL_MODEL, n_runs=8, constants=constants)
    for name in fast.data_vars:
        np.testing.assert_array_equal(fast[name].values, optimised[name].values, err_msg=name)


CORPUS = sorted(p.name for p in MODELS.glob("*.mdl") if not p.name.startswith("refuse"))


@needs_cc
@pytest.mark.parametrize("name", CORPUS)
def test_corpus_models_run_the_same_or_say_why_not(monkeypatch, name):
    path = MODELS / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reference, compiled = both(monkeypatch, lambda: run(path))
        except czsim.ModelError:
            pytest.skip("a model the engine refuses (tested elsewhere)")
    assert_equal_to_scale(reference, compiled)
    expected = "numpy" if name in NUMPY_ONLY else "C"
    assert compiled.attrs["time_loop"] == expected
    if name in NUMPY_ONLY:
        info = ensemble.model_info(path)
        model = ensemble.compiled(
            str(info.path), info.sha256, frozenset(), frozenset(), tuple(compiled.data_vars)
        )
        assert kernel.reason(model) == NUMPY_ONLY[name]


@pytest.mark.parametrize("cc", ["no-such-compiler-czsim", "false"])
def test_without_a_working_compiler_numpy_runs_it(monkeypatch, tmp_path, cc):
    # "false" exists and fails: the compile error is caught, numpy runs the model
    monkeypatch.setenv("CZSIM_CC", cc)
    monkeypatch.setenv("CZSIM_CACHE", str(tmp_path))
    ensemble.compiled.cache_clear()
    kernel._LIBRARIES.clear()
    try:
        result = run(MODELS / "growth.mdl")
        monkeypatch.setenv("CZSIM_KERNEL", "numpy")
        reference = run(MODELS / "growth.mdl")
    finally:
        ensemble.compiled.cache_clear()
    assert result.attrs["time_loop"] == "numpy"
    assert_equal_to_scale(reference, result, tol=0.0)


@needs_cc
def test_the_kernel_is_cached_on_disk(monkeypatch, tmp_path):
    monkeypatch.setenv("CZSIM_CACHE", str(tmp_path))
    ensemble.compiled.cache_clear()
    kernel._LIBRARIES.clear()
    try:
        first = run(MODELS / "growth.mdl")
        libraries = sorted((tmp_path / "kernels").glob("*.so"))
        assert len(libraries) == 1
        stamp = libraries[0].stat().st_mtime_ns
        ensemble.compiled.cache_clear()
        kernel._LIBRARIES.clear()
        again = run(MODELS / "growth.mdl")  # a new process would do the same: load, no cc
    finally:
        ensemble.compiled.cache_clear()
    assert libraries[0].stat().st_mtime_ns == stamp
    assert first.attrs["time_loop"] == again.attrs["time_loop"] == "C"
    assert_equal_to_scale(first, again, tol=0.0)


@needs_cc
def test_a_small_batch_runs_in_threads_with_the_kernel(monkeypatch):
    # the kernel has no per-call cost to spread: 200 runs already go in two threads
    monkeypatch.setenv("CZSIM_THREADS", "2")
    assert ensemble._blocks(200, 2, ensemble.KERNEL_MIN_BLOCK) == [(0, 100), (100, 200)]
    assert ensemble._blocks(200, 2) == [(0, 200)]  # numpy: one block below 2 x MIN_BLOCK
    constants = draws(200, seed=9)
    threaded = run(REAL_MODEL, n_runs=200, constants=constants)
    monkeypatch.setenv("CZSIM_THREADS", "1")
    single = run(REAL_MODEL, n_runs=200, constants=constants)
    assert threaded.attrs["time_loop"] == single.attrs["time_loop"] == "C"
    assert_equal_to_scale(single, threaded)
