"""The real model (model/changzhou.mdl): ensemble engine == PySD, defaults and 50 draws."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from engine_helpers import REAL_MODEL, REAL_PARAMETERS, assert_same

from czsim.engines import model_info, run

pytestmark = pytest.mark.skipif(
    not (REAL_MODEL.is_file() and REAL_PARAMETERS.is_file()),
    reason="model/changzhou.mdl or model/parameters.toml not written yet",
)

N_DRAWS = 50


def _parameters() -> list[dict]:
    return tomllib.loads(REAL_PARAMETERS.read_text(encoding="utf-8"))["parameter"]


def _draws(n: int, seed: int) -> dict[str, np.ndarray]:
    """Uniform draws between low and high for every parameter, as per-run constants."""
    rng = np.random.default_rng(seed)
    return {p["variable"]: rng.uniform(p["low"], p["high"], size=n) for p in _parameters()}


def test_defaults_match_pysd():
    assert_same(run(REAL_MODEL), run(REAL_MODEL, engine="pysd"))


def test_overriding_a_parameter_with_its_model_value_changes_nothing():
    # guards the "Name[element]" override path used by the draws below (whether
    # parameters.toml's defaults equal the model's is tests/test_parameters.py's job)
    info = model_info(REAL_MODEL)
    constants = {}
    for p in _parameters():
        name, _, elem = p["variable"].partition("[")
        var = info.lookup(name)
        if elem:
            pos = tuple(
                info.element_index(d, e)
                for d, e in zip(var.dims, elem.rstrip("]").split(","), strict=True)
            )
            constants[p["variable"]] = var.default[pos]
        else:
            constants[p["variable"]] = var.default
    assert_same(run(REAL_MODEL, constants=constants), run(REAL_MODEL), rtol=0, atol=0)


def test_random_draws_match_pysd():
    constants = _draws(N_DRAWS, seed=20240601)
    ens = run(REAL_MODEL, n_runs=N_DRAWS, constants=constants)  # one batch
    ref = run(REAL_MODEL, engine="pysd", n_runs=N_DRAWS, constants=constants)  # 50 runs
    assert_same(ens, ref)
    # the draws really moved the model
    assert float(ens["time"][-1]) == model_info(REAL_MODEL).final_time
    spread = {n: float(np.ptp(ens[n].isel(time=-1).values)) for n in ens.data_vars}
    assert sum(v > 0 for v in spread.values()) > len(spread) // 3
