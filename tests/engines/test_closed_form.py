"""Exponential growth dS/dt = g*S: explicit Euler gives S0*(1+g*dt)^n exactly."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import MODELS

from czsim.engines import run


@pytest.mark.parametrize("engine", ["ensemble", "pysd"])
@pytest.mark.parametrize("dt", [0.25, 0.125, 1.0])
def test_euler_growth(engine, dt):
    ds = run(MODELS / "growth.mdl", engine=engine, time_step=dt)
    t = ds["time"].values
    n = np.round(t / dt)
    expected = 100.0 * (1 + 0.07 * dt) ** n
    np.testing.assert_allclose(ds["S"].values[0], expected, rtol=1e-12)


def test_euler_converges_to_exponential():
    err = []
    for dt in (0.5, 0.25, 0.125):
        s = run(MODELS / "growth.mdl", time_step=dt, times=[10.0])["S"].item()
        err.append(abs(s - 100.0 * np.exp(0.7)))
    # first-order method: halving dt roughly halves the error
    assert err[0] > err[1] > err[2]
    assert 1.8 < err[0] / err[1] < 2.2 and 1.8 < err[1] / err[2] < 2.2
