"""A run's result does not depend on the batch it is computed in."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from engine_helpers import MODELS, REAL_MODEL
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from czsim.engines import model_info, run

BIG = 10_000


def _model_and_params():
    """The real model with its parameter table when present, else the subscripts model."""
    if REAL_MODEL.is_file():
        import tomllib

        from engine_helpers import REAL_PARAMETERS

        params = tomllib.loads(REAL_PARAMETERS.read_text(encoding="utf-8"))["parameter"]
        return REAL_MODEL, [(p["variable"], p["low"], p["high"]) for p in params]
    return MODELS / "subscripts.mdl", [
        ("Growth[nev]", 0.0, 0.2),
        ("Scalar input", 0.0, 5.0),
        ("Base[chem]", 1.0, 9.0),
    ]


PATH, PARAMS = _model_and_params()


def _draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {v: rng.uniform(lo, hi, size=n) for v, lo, hi in PARAMS}


@pytest.fixture(scope="module")
def big_batch():
    constants = _draw(np.random.default_rng(7), BIG)
    return constants, run(PATH, n_runs=BIG, constants=constants)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(i=st.integers(min_value=0, max_value=BIG - 1))
def test_run_alone_equals_run_in_big_batch(big_batch, i):
    constants, ds = big_batch
    alone = run(PATH, n_runs=1, constants={k: v[i : i + 1] for k, v in constants.items()})
    # to 1e-12 of each variable's largest value in the run: an element that is a difference
    # of near-equal numbers (a growth rate near zero) keeps the absolute rounding of its
    # terms, so a relative tolerance per element fails on the last bit of an operation
    # upstream (numpy may compute a power or a sum with other instructions for 10,000 values
    # than for one); seen: Perceived demand growth 3.9e-4, off by 5.7e-16
    for name in ds.data_vars:
        a, b = alone[name].values[0], ds[name].values[i]
        scale = float(np.nanmax(np.abs(b))) if np.size(b) and np.isfinite(b).any() else 0.0
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * scale, err_msg=name)


def test_uniform_and_per_run_constants_agree():
    # a value given once (shape dims) equals the same value repeated per run
    constants = _draw(np.random.default_rng(3), 1)
    once = run(PATH, constants={k: v[0] for k, v in constants.items()})
    per_run = run(PATH, n_runs=4, constants={k: np.repeat(v, 4) for k, v in constants.items()})
    for name in once.data_vars:
        for r in range(4):
            np.testing.assert_array_equal(per_run[name].values[r], once[name].values[0])
    assert model_info(PATH).sha256 == once.attrs["model_sha256"]


@pytest.mark.parametrize("n_runs", [7, 1100])
def test_threads_over_blocks_of_runs_equal_one_thread(monkeypatch, n_runs):
    """Blocks of runs advance in threads; every output (time-invariant ones included, shared
    or per run) equals the one-thread result to the last bits (numpy may sum a reduction in
    another order for another array size)."""
    from czsim.engines import ensemble

    constants = _draw(np.random.default_rng(11), n_runs)
    constants[PARAMS[0][0]] = np.asarray(PARAMS[0][1])  # one value shared by all runs
    monkeypatch.setenv("CZSIM_THREADS", "1")
    one = run(PATH, n_runs=n_runs, constants=constants)
    monkeypatch.setenv("CZSIM_THREADS", "3")
    monkeypatch.setattr(ensemble, "MIN_BLOCK", 2)
    monkeypatch.setattr(ensemble, "MAX_BLOCK", max(3, n_runs // 5))  # more blocks than threads
    assert len(ensemble._blocks(n_runs, ensemble.threads())) >= 3
    split = run(PATH, n_runs=n_runs, constants=constants)
    assert list(split.data_vars) == list(one.data_vars)
    for name in one.data_vars:
        assert split[name].shape == one[name].shape, name
        np.testing.assert_allclose(
            split[name].values, one[name].values, rtol=1e-13, atol=0, err_msg=name
        )


def test_threads_setting_is_checked(monkeypatch):
    from czsim.engines import ensemble
    from czsim.errors import ModelError

    monkeypatch.setenv("CZSIM_THREADS", "two")
    with pytest.raises(ModelError, match="CZSIM_THREADS must be a whole number"):
        ensemble.threads()
    monkeypatch.setenv("CZSIM_THREADS", "0")
    assert ensemble.threads() == 1
    assert ensemble._blocks(1100, 2) == [(0, 550), (550, 1100)]
    assert ensemble._blocks(1000, 4) == [(0, 1000)]  # a second block would be < MIN_BLOCK
    big = ensemble._blocks(100_000, 1)  # one thread: still blocks, so working arrays stay bounded
    assert len(big) == 4 and big[0][0] == 0 and big[-1][1] == 100_000
    assert all(hi - lo <= ensemble.MAX_BLOCK for lo, hi in big)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(big))
