"""Tiny models, one per construct or operator case, against hand-written values.

Each expected value is worked out by hand from the definitions in Vensim's manual (the
comment next to it says how), not copied from either engine; both engines must give it
to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from engine_helpers import MODELS

from czsim.engines import NonFiniteWarning, run

TOL = 1e-12
ENGINES = ["ensemble", "pysd"]


def check(name: str, expected: dict, engine: str, **kwargs) -> None:
    """``expected``: variable -> value at every saved time (a number), or the list of
    values at the first saved times (numbers or per-element lists)."""
    ds = run(MODELS / f"{name}.mdl", engine=engine, variables=list(expected), **kwargs)
    for var, want in expected.items():
        got = ds[var].values[0]
        if isinstance(want, list):
            got = got[: len(want)]
        want = np.broadcast_to(np.asarray(want, dtype=float), got.shape)
        np.testing.assert_allclose(got, want, rtol=TOL, atol=TOL, err_msg=f"{engine}: {var}")


@pytest.mark.parametrize("engine", ENGINES)
def test_issue_reproduction(engine):
    check(
        "issue11_repro",
        {
            "neg sum": -3.0,  # -(1 + 2)
            "neg diff": 1.0,  # -(1 - 2)
            "neg pow": -4.0,  # ^ binds tighter than unary minus: -(2^2)
            "stock": [0.0, 1.0, 2.0, 3.0],  # flow -(1 - 2) = +1 per time unit
        },
        engine,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_operator_precedence(engine):
    check(
        "operators",
        {
            "tower": 30 ** (-(30 ** (-0.5))),  # right-assoc; "-" covers the power after it
            "pow right assoc": 512.0,  # 2^(3^2)
            "pow paren left": 64.0,  # (2^3)^2
            "neg ref pow": -4.0,  # -(b^2)
            "pow neg exponent": 0.5,  # 2^(-1)
            "neg pow literal in product": -12.0,  # 3 * -(2^2)
            "neg quotient": -1.5,  # -(3/2)
            "sub left assoc": -3.0,  # (3-2)-4
            "div left assoc": 1.0,  # (4/2)/2
            "mul before add": 11.0,  # 3 + (2*4)
            "pow before mul": 18.0,  # 2 * (3^2)
            "pow before neg before mul": -18.0,  # (-(3^2)) * 2
            "minus minus": 5.0,  # 3 - (-2)
            "neg paren sum times": -20.0,  # -(3+2) * 4
            "compare after add": 1.0,  # (3+2) > 4
            "compare after mul": 1.0,  # (3*2) = 6
            "not compare": 0.0,  # :NOT: (3 > 2)
        },
        engine,
    )
    assert math.isfinite(30 ** (-(30 ** (-0.5))))


@pytest.mark.parametrize("engine", ENGINES)
def test_control_expressions_and_spellings(engine):
    # FINAL_TIME = IF THEN ELSE(4 > 3, 0 + 4, 10) = 4, SAVEPER = TIME_STEP * 2 = 1
    check(
        "controls",
        {"Stock": [0.0, 1.0, 2.0, 3.0, 4.0], "Step used": 0.5, "Final used": 4.0},
        engine,
    )
    ds = run(MODELS / "controls.mdl", engine=engine)
    assert list(ds["time"].values) == [0.0, 1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("engine", ENGINES)
def test_saveper_equal_to_time_step(engine):
    # Vensim's default template: SAVEPER = TIME STEP (0.5); stock 1 + 2 t
    check("controls_template", {"Stock": [1.0, 2.0, 3.0, 4.0, 5.0]}, engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_except(engine):
    # a component applies to its subscripts minus the :EXCEPT: ones; the others come
    # from the components that name them
    check(
        "except",
        {
            "Ex": [1.0, 3.0, 3.0],
            "Dyn": [[1.0, -1.0, 3.0], [11.0, -1.0, 13.0], [21.0, -1.0, 23.0]],  # 10t + Ex
            # [one,x] = 1; [Sub,y] = Ex[Sub] = 3; the rest 7
            "Mat": [[1.0, 7.0], [7.0, 3.0], [7.0, 3.0]],
        },
        engine,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_elmcount_ranges_as_values_get_time_value(engine):
    check(
        "range_values",
        {
            "Count": 3.0,  # ELMCOUNT: number of elements
            "Index": [1.0, 2.0, 3.0],  # a range as a value: element position from 1
            "Sub index": [20.0, 30.0],  # a subrange counts positions in its parent
            "Clock": [2.0, 3.0, 4.0],  # GET TIME VALUE(0, offset, 0) = Time + offset
        },
        engine,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_na(engine):
    # :NA: is Vensim's missing value; PySD (the reference here) represents it as NaN,
    # and NaN = NaN is false, so Filled takes Present
    with pytest.warns(NonFiniteWarning, match="'Missing' = nan"):
        check("na", {"Missing": float("nan"), "Filled": 2.0}, engine)


def _trend_values():
    # TREND(2, 2, 0.1), dt 1: AV0 = 2 / (1 + 0.1 * 2) = 5/3, so the gap g = 2 - AV starts
    # at 1/3 and halves every step (dAV/dt = g / 2); TREND = g / (2 * AV)
    gaps = [(1 / 3) / 2**k for k in range(6)]
    return [g / (2 * (2 - g)) for g in gaps]


@pytest.mark.parametrize("engine", ENGINES)
def test_trend_forecast_sample_if_true_smooth_n_delay_n(engine):
    check(
        "statefuls_n",
        {
            "Trendy": _trend_values(),  # starts at the initial trend, 0.1
            # FORECAST(1 + t, 2, 3): AV0 = input / (1 + 0) = 1; AV += (input - AV) / 2;
            # value = input * (1 + (input - AV) / (2 * AV) * 3): t1 2 * 2.5, t2 3 * 2.5
            # t3: AV = 1.5 + (3 - 1.5) / 2 = 2.25, value = 4 * (1 + 1.75 / 4.5 * 3)
            "Forecasted": [1.0, 5.0, 7.5, 4 * (1 + 1.75 / 4.5 * 3)],
            # input while Time in [2, 4), else the last sample (or the initial -1)
            "Sampled": [-1.0, -1.0, 20.0, 30.0, 30.0, 30.0],
            # SMOOTH N order 1 = SMOOTH: 2 - (2 - 1) * (2/3)^k
            "Smooth one": [2 - (2 / 3) ** k for k in range(6)],
            # order 2, stages a, b from 1: a1 = 1 + (2-1)*2/3, b1 = 1, b2 = 1 + (5/3-1)*2/3
            "Smooth two": [1.0, 1.0, 13 / 9],
            # DELAY N order 2, time 2: two stages of time constant 1 from 1; input 3
            "Delayed": [1.0, 1.0, 3.0, 3.0, 3.0, 3.0],
            "Sampled sub": [[0, 0], [1, 5], [2, 10], [3, 15], [4, 20], [5, 25]],
            "Delayed sub": [[0, 0], [0, 0], [1, 5], [1, 5], [1, 5], [1, 5]],
        },
        engine,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_active_initial(engine):
    # while initialising Ai is 5, so S starts at 5; from the first saved time on Ai is
    # S * 2, and Rate = Ai / 10 grows S by 10 % a step: S = 5 * 1.2^t
    check(
        "active_initial",
        {
            "S": [5.0, 6.0, 7.2],
            "Ai": [10.0, 12.0, 14.4],
            "Rate": [1.0, 1.2, 1.44],
            "Twice": [20.0, 24.0, 28.8],
            # Sub s starts at 1 * 10 and grows 1 a step; Sub ai = Sub s + 3 * 2
            "Sub s": [[10.0, 10.0], [11.0, 11.0], [12.0, 12.0]],
            "Sub ai": [[16.0, 16.0], [17.0, 17.0], [18.0, 18.0]],
        },
        engine,
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_subscript_mapping(engine):
    # "Dim B: b1, b2, b3 -> Dim A": in an equation over Dim A, b_i stands for a_i
    check(
        "mapping",
        {
            "Var a": [10.0, 20.0, 30.0],
            # Grid a[o, a_i] = Grid b[b_i, o] + Var a[a_i]
            "Grid a": [[11.0, 23.0, 35.0], [12.0, 24.0, 36.0]],
            "Stock a": [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]],
        },
        engine,
    )
