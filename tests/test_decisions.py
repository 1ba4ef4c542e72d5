"""Decision tools (czsim.decisions): break-even, what it takes, attribution.

Known answers come from tiny models in tests/decisions_models/; one test uses the real model.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import czsim
from czsim.decisions import attribute, break_even, what_it_takes
from czsim.decisions.batch import draws
from czsim.parameters import Parameter, ParameterTable, load_parameters
from czsim.scenarios import Scenario
from czsim.targets import Target


def test_key_levers_are_flagged():
    keys = load_parameters().key_levers()
    assert 8 <= len(keys) <= 16
    names = {p.name for p in keys}
    assert "industrial_investment_growth" in names
    assert all(p.key for p in keys)
    assert not load_parameters()["depreciation_rate"].key
    assert czsim.load_parameters()["rd_intensity"].key


# --- a tiny model with known answers (tests/decisions_models/known.mdl) ----------------------
#   Y = 3a + 5b + 10c + W[k1] + 2 W[k2] - 5     linear
#   P = a b                                     product
#   Q = (a - 5)^2                               not monotone
#   R = a / (a + b)                             a share
#   Z = S + 4a, S = INTEG(g, 0) from 2020        a stock fed by a (time-series) parameter


KNOWN = Path(__file__).parent / "decisions_models" / "known.mdl"


def _param(name, variable, default, low, high, key=False, group="g1"):
    return Parameter(
        name=name,
        variable=variable.split("[")[0],
        element=variable[variable.index("[") + 1 : -1] if "[" in variable else None,
        default=default,
        low=low,
        high=high,
        step=0.01,
        units="Dmnl",
        group=group,
        kind="lever",
        label_zh=name,
        label_en=name,
        source="test",
        key=key,
    )


TABLE = ParameterTable(
    [
        _param("a", "a", 1.0, 0.0, 10.0, key=True),
        _param("b", "b", 2.0, 0.0, 10.0, key=True),
        _param("c", "c", 0.0, 0.0, 1.0, group="g2"),
        _param("g", "g", 1.0, 0.0, 5.0, group="g2"),
        _param("w1", "W[k1]", 1.0, 0.0, 10.0, group="g3"),
        _param("w2", "W[k2]", 2.0, 0.0, 10.0, group="g3"),
    ]
)


def _target(tid, variable, comparator, value, unit="", tolerance=0.0):
    return Target(
        id=tid,
        label_zh=tid,
        label_en=tid,
        section="",
        group="",
        comparator=comparator,
        value=value,
        unit=unit,
        year=2025,
        variable=variable,
        tolerance=tolerance,
    )


TARGETS = (
    _target("y30", "Y", ">=", 30.0),
    _target("y_far", "Y", ">=", 1000.0),
    _target("q4", "Q", "<=", 4.0),
    _target("p", "P", ">=", 10.0),
    _target("share", "R", ">=", 0.5, unit="%"),
    _target("y_about_20", "Y", "approx", 20.0, tolerance=1.0),
    _target("z20", "Z", ">=", 20.0),
)
SETUP = {"model": KNOWN, "table": TABLE, "targets": TARGETS}
DEFAULTS = Scenario(name="defaults", table=TABLE)


def _y(a=1.0, b=2.0, c=0.0, w1=1.0, w2=2.0):
    return 3 * a + 5 * b + 10 * c + w1 + 2 * w2 - 5


def test_break_even_linear_closed_form():
    table = break_even("y30", DEFAULTS, ["a", "b"], **SETUP).set_index("lever")
    # 3a + 5*2 + 1 + 4 - 5 = 30  ->  a = 20/3;  3 + 5b = 30  ->  b = 27/5
    assert table.loc["a", "status"] == "break-even"
    assert table.loc["a", "break_even"] == pytest.approx(20 / 3, abs=1e-9)
    assert table.loc["b", "break_even"] == pytest.approx(27 / 5, abs=1e-9)
    assert table.loc["a", "value_at_break_even"] == pytest.approx(30, abs=1e-8)
    assert table.loc["a", "distance"] == pytest.approx((20 / 3 - 1) / 10, abs=1e-9)
    assert table.loc["a", "direction"] == 1
    assert table.loc["a", "current_value"] == pytest.approx(_y())


def test_break_even_unreachable_is_reported_with_the_best_value():
    row = break_even("y_far", DEFAULTS, ["a"], **SETUP).iloc[0]
    assert row["status"] == "unreachable"
    assert math.isnan(row["break_even"])
    assert row["best_value"] == pytest.approx(_y(a=10))
    assert row["best_at"] == 10


def test_break_even_not_monotone_lists_every_crossing():
    row = break_even("q4", DEFAULTS, ["a", "b"], **SETUP).set_index("lever")
    a = row.loc["a"]
    assert a["n_crossings"] == 2
    assert a["crossings"] == pytest.approx((3.0, 7.0), abs=1e-7)
    assert a["break_even"] == pytest.approx(3.0, abs=1e-7)  # nearest to the current a = 1
    assert a["direction"] == -1
    # from a = 9 the nearest crossing is 7
    row9 = break_even("q4", Scenario(name="a9", values={"a": 9.0}, table=TABLE), ["a"], **SETUP)
    assert row9.iloc[0]["break_even"] == pytest.approx(7.0, abs=1e-7)
    # Q does not depend on b and is not met: unreachable
    assert row.loc["b", "status"] == "unreachable"


def test_break_even_table_covers_every_target_and_key_lever_in_few_calls():
    table = break_even(None, DEFAULTS, None, **SETUP)
    assert len(table) == len(TARGETS) * 2
    assert set(table["lever"]) == {"a", "b"}
    assert table.attrs["n_calls"] <= 5  # grid, 3 refinements, verification
    share = table.set_index(["target", "lever"]).loc[("share", "a")]
    # a / (a + 2) = 0.5 -> a = 2; display units: percent
    assert share["break_even"] == pytest.approx(2.0, abs=1e-6)
    assert share["target_value"] == pytest.approx(50.0)


def test_break_even_applied_meets_the_target():
    table = break_even(["y30", "p", "share"], DEFAULTS, ["a", "b"], **SETUP)
    for row in table.itertuples():
        if row.status != "break-even":
            continue
        target = next(t for t in TARGETS if t.id == row.target)
        sc = Scenario(name="x", values={row.lever: row.break_even}, table=TABLE)
        value = _value(sc, target.variable)
        assert target.reached(value) or abs(value - target.value) < 1e-9


def _value(scenario, variable):
    from czsim.decisions.batch import Batch, context, variable_outcome

    ctx = context(KNOWN, TABLE, TARGETS)
    batch = Batch(ctx, scenario, [variable_outcome(variable, 2025)])
    return float(batch.run({}, 1)[variable][0])


def test_attribution_linear_is_coefficient_times_change():
    base = Scenario(name="base", values={"a": 1.0, "b": 2.0, "w2": 2.0}, table=TABLE)
    other = Scenario(name="other", values={"a": 4.0, "b": 1.0, "w2": 5.0, "c": 0.5}, table=TABLE)
    res = attribute(base, other, "y30", **SETUP)
    parts = res.table["shapley"]
    assert res.method == "exact"
    assert parts["a"] == pytest.approx(3 * 3.0, abs=1e-12)
    assert parts["b"] == pytest.approx(5 * -1.0, abs=1e-12)
    assert parts["w2"] == pytest.approx(2 * 3.0, abs=1e-12)
    assert parts["c"] == pytest.approx(10 * 0.5, abs=1e-12)
    assert res.difference == pytest.approx(_y(4, 1, 0.5, 1, 5) - _y(1, 2, 0, 1, 2))
    assert abs(parts.sum() - res.difference) < 1e-9
    assert np.allclose(res.table["interaction"], 0, atol=1e-12)
    assert res.interaction_total == pytest.approx(0, abs=1e-12)


def test_attribution_product_interaction_known():
    # P = a b from (1, 2) to (4, 5): phi_a = 3 (2 + 5) / 2, one-at-a-time 3 * 2, interaction 4.5
    base = Scenario(name="base", values={"a": 1.0, "b": 2.0}, table=TABLE)
    other = Scenario(name="other", values={"a": 4.0, "b": 5.0}, table=TABLE)
    res = attribute(base, other, "p", **SETUP)
    t = res.table
    assert t.loc["a", "shapley"] == pytest.approx(10.5, abs=1e-12)
    assert t.loc["b", "shapley"] == pytest.approx(3 * (1 + 4) / 2, abs=1e-12)
    assert t.loc["a", "one_at_a_time"] == pytest.approx(6.0, abs=1e-12)
    assert t.loc["a", "interaction"] == pytest.approx(4.5, abs=1e-12)
    assert t.loc["b", "interaction"] == pytest.approx(4.5, abs=1e-12)
    assert res.interaction_total == pytest.approx(9.0, abs=1e-12)  # (4-1)(5-2)
    assert abs(t["shapley"].sum() - res.difference) < 1e-9


def test_attribution_of_a_share_and_of_a_time_series():
    base = Scenario(name="base", values={"a": 1.0, "b": 2.0}, table=TABLE)
    other = Scenario(
        name="other", values={"a": 3.0, "b": 1.0, "g": ((2020.0, 1.0), (2025.0, 3.0))}, table=TABLE
    )
    res = attribute(base, other, "share", **SETUP)  # R = a / (a + b), in percent
    assert res.base_value == pytest.approx(100 / 3)
    assert res.other_value == pytest.approx(75.0)
    assert abs(res.table["shapley"].sum() - res.difference) < 1e-9
    assert res.table.loc["g", "shapley"] == pytest.approx(0, abs=1e-12)
    # Z = S + 4a: additive, so the series (one player) gets exactly its own effect on S
    res = attribute(base, other, "Z", year=2025, **SETUP)
    s_base = _value(base, "S")
    s_other = _value(other, "S")
    # extra growth 0.4 (t - 2020), Euler with dt = 0.25: 0.4 * 0.25**2 * (0 + 1 + ... + 19)
    assert s_other - s_base == pytest.approx(4.75, abs=1e-9)
    assert res.table.loc["g", "shapley"] == pytest.approx(s_other - s_base, abs=1e-12)
    assert res.table.loc["a", "shapley"] == pytest.approx(8.0, abs=1e-12)
    assert abs(res.table["shapley"].sum() - res.difference) < 1e-9


def test_attribution_permutation_and_groups_sum_exactly():
    base = Scenario(name="base", values={"a": 1.0, "b": 2.0}, table=TABLE)
    other = Scenario(name="other", values={"a": 4.0, "b": 5.0, "w1": 3.0, "w2": 4.0}, table=TABLE)
    exact = attribute(base, other, "p", **SETUP)
    perm = attribute(base, other, "p", method="permutation", n_permutations=400, seed=1, **SETUP)
    again = attribute(base, other, "p", method="permutation", n_permutations=400, seed=1, **SETUP)
    assert perm.method == "permutation"
    assert abs(perm.table["shapley"].sum() - perm.difference) < 1e-9
    assert perm.table["shapley"].equals(again.table["shapley"])  # seeded
    err = (perm.table["shapley"] - exact.table["shapley"]).abs()
    assert (err <= 4 * perm.table["stderr"] + 1e-12).all()
    groups = attribute(base, other, "y30", players="groups", **SETUP)
    assert list(groups.table.index) == ["g1", "g3"]
    assert groups.table.loc["g3", "shapley"] == pytest.approx(2.0 + 2 * 2.0, abs=1e-12)
    custom = attribute(base, other, "y30", players={"both_w": ["w1", "w2"]}, **SETUP)
    assert set(custom.table.index) == {"both_w", "a", "b"}


def test_attribution_of_a_probability():
    base = Scenario(
        name="base", values={"a": 1.0, "b": 2.0}, uncertain={"c": (0.0, 1.0)}, table=TABLE
    )
    other = Scenario(name="other", values={"a": 4.0, "b": 4.0}, table=TABLE)
    res = attribute(base, other, "y30", statistic="probability", n_draws=200, seed=3, **SETUP)
    c = draws(base, 200, 3)["c"]
    assert res.base_value == pytest.approx(np.mean(_y(1, 2, c) >= 30))
    assert res.other_value == pytest.approx(np.mean(_y(4, 4, c) >= 30))
    assert abs(res.table["shapley"].sum() - res.difference) < 1e-9


def test_what_it_takes_linear_l2_and_l1():
    sol = what_it_takes("y30", DEFAULTS, ["a", "b"], **SETUP)
    # z = x / 10: Y = 30 za + 50 zb + 3 + ...; a 17-point rise, least L2: along (30, 50)
    dz = 17 * np.array([30.0, 50.0]) / 3400
    assert sol.status == "reached"
    assert sol.levers["change_fraction"].to_numpy() == pytest.approx(dz, abs=2e-3)
    assert sol.distance == pytest.approx(17 / math.sqrt(3400), rel=1e-3)
    assert sol.value >= 30 - 1e-9
    assert sol.value == pytest.approx(30, abs=0.05)
    assert _value(sol.scenario, "Y") == pytest.approx(sol.value)
    l1 = what_it_takes("y30", DEFAULTS, ["a", "b"], norm="l1", **SETUP)
    assert l1.settings["b"] == pytest.approx(5.4, abs=0.02)  # b does more per range fraction
    assert l1.settings["a"] == pytest.approx(1.0, abs=0.02)


def test_what_it_takes_with_probability_and_cost():
    sc = Scenario(name="u", uncertain={"c": (0.0, 1.0)}, table=TABLE)
    sol = what_it_takes(
        "y30", sc, ["a", "b"], probability=0.8, n_draws=100, seed=7, cost="P", **SETUP
    )
    c = np.sort(draws(sc, 100, 7)["c"])
    need = 17 - 10 * c[100 - 80]  # the 21st smallest draw must meet it
    assert sol.status == "reached"
    assert sol.probability >= 0.8
    assert sol.distance == pytest.approx(need / math.sqrt(3400), rel=2e-3)
    assert sol.cost == pytest.approx(sol.settings["a"] * sol.settings["b"])
    assert sol.cost_at_current == pytest.approx(2.0)
    again = what_it_takes(
        "y30", sc, ["a", "b"], probability=0.8, n_draws=100, seed=7, cost="P", **SETUP
    )
    assert again.settings == sol.settings
    # ranges given explicitly replace the scenario's: c in [0.5, 1] needs less
    kinder = what_it_takes(
        "y30", sc, ["a", "b"], probability=0.8, seed=7, uncertain={"c": (0.5, 1.0)}, **SETUP
    )
    assert kinder.distance < sol.distance


def test_what_it_takes_unreachable_and_already_met():
    far = what_it_takes("y_far", DEFAULTS, ["a", "b"], **SETUP)
    assert far.status == "not reachable"
    assert far.settings == pytest.approx({"a": 10.0, "b": 10.0})
    assert far.value == pytest.approx(_y(10, 10))
    met = what_it_takes(
        "y30", Scenario(name="hi", values={"b": 9.0}, table=TABLE), ["a", "b"], **SETUP
    )
    assert met.status == "already met"
    assert met.distance == 0


def test_real_model_break_even_meets_the_scale_target_exactly():
    """On the real model, a key lever's break-even value gives exactly 25000 in 2025 (the
    first key lever that has one: which levers can flip the verdict depends on the model)."""
    table = czsim.break_even("industrial_scale", "baseline")
    found = table[table["status"] == "break-even"]
    assert len(found) >= 1, table[["lever", "status"]]
    assert set(table["status"]) <= {"break-even", "always met", "unreachable"}
    row = found.iloc[0]
    p = load_parameters()[row["lever"]]
    assert p.low < row["break_even"] < p.high
    scenario = czsim.load_scenario("baseline").with_values(**{row["lever"]: row["break_even"]})
    card = czsim.scorecard(czsim.run(scenario))
    assert card.loc["industrial_scale", "value"] == pytest.approx(25000, abs=1e-3)
    assert bool(card.loc["industrial_scale", "reached"])


def test_figures_are_matplotlib_figures():
    from matplotlib.figure import Figure

    from czsim.decisions.figures import break_even_bars, waterfall

    base = Scenario(name="base", values={"a": 1.0, "b": 2.0}, table=TABLE)
    other = Scenario(name="other", values={"a": 4.0, "b": 5.0, "w1": 3.0}, table=TABLE)
    fig = waterfall(attribute(base, other, "p", **SETUP), top=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].get_yticklabels()) == 4  # base, top player, "others", other
    table = break_even(None, DEFAULTS, None, **SETUP)
    fig = break_even_bars(table, "q4")
    assert isinstance(fig, Figure)
    # a reaches Q <= 4 at 3 (distance 0.2); b cannot (listed last)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "b"]


def test_break_even_of_subscripted_series_and_approx():
    table = break_even(["y30", "y_about_20"], DEFAULTS, ["w2", "w1"], **SETUP)
    table = table.set_index(["target", "lever"])
    # 3 + 10 + w1 + 4 - 5 = 30 -> w1 = 18 > 10: unreachable; 3 + 10 + 1 + 2 w2 - 5 = 30 -> 10.5
    assert table.loc[("y30", "w1"), "status"] == "unreachable"
    assert table.loc[("y30", "w2"), "status"] == "unreachable"
    assert table.loc[("y30", "w2"), "best_value"] == pytest.approx(29.0)
    # approx: the crossing of the central value, 9 + 2 w2 = 20 -> w2 = 5.5
    assert table.loc[("y_about_20", "w2"), "break_even"] == pytest.approx(5.5, abs=1e-9)
    # a lever the scenario gives as a time series is set to a constant: Z = 5 g + 4 a = 20
    series = Scenario(name="s", values={"g": ((2020.0, 1.0), (2030.0, 2.0))}, table=TABLE)
    row = break_even("z20", series, ["g"], **SETUP).iloc[0]
    assert row["current"] == pytest.approx(1.5)  # the series at the target year
    assert row["break_even"] == pytest.approx(16 / 5, abs=1e-9)


def test_attribution_refuses_too_many_players_for_exact():
    from czsim.errors import ParameterError

    base = Scenario(name="base", table=TABLE)
    other = Scenario(name="other", values={"a": 2.0, "b": 3.0}, table=TABLE)
    with pytest.raises(ParameterError, match="year="):
        attribute(base, other, "Y", **SETUP)
    import czsim.decisions.attribution as attribution

    limit = attribution.MAX_EXACT
    try:
        attribution.MAX_EXACT = 1
        with pytest.raises(ParameterError, match="exact Shapley"):
            attribute(base, other, "y30", method="exact", players="parameters", **SETUP)
        auto = attribute(base, other, "y30", players="parameters", **SETUP)
        assert auto.method == "permutation"
        assert abs(auto.table["shapley"].sum() - auto.difference) < 1e-9
    finally:
        attribution.MAX_EXACT = limit


def test_what_it_takes_applied_settings_reach_the_target_on_a_product():
    # P = a b >= 10 from (1, 2): least L2 change on the hyperbola, then verified
    sol = what_it_takes("p", DEFAULTS, ["a", "b"], **SETUP)
    assert sol.status == "reached"
    a, b = sol.settings["a"], sol.settings["b"]
    assert TARGETS[3].reached(a * b)  # within the targets' relative slack of 1e-9
    assert a * b == pytest.approx(10, rel=1e-3)
    assert _value(sol.scenario, "P") == pytest.approx(a * b)
    # on the hyperbola the least change from (1, 2) has (a - 1) / b == (b - 2) / a
    assert (a - 1) * a == pytest.approx((b - 2) * b, rel=2e-2)


# --- the command line ------------------------------------------------------------------------


def test_cli_break_even_and_attribute_write_tables(tmp_path, capsys):
    import openpyxl

    from czsim.cli import main

    out = tmp_path / "be.xlsx"
    assert main(["break-even", "baseline", "--target", "industrial_scale", "--out", str(out)]) == 0
    sheet = openpyxl.load_workbook(out).active
    assert sheet.max_row == len(load_parameters().key_levers()) + 1
    assert "Break-even" in capsys.readouterr().out
    assert main(["attribute", "baseline", "plan", "--out", str(tmp_path / "a.csv")]) == 0
    shown = capsys.readouterr().out
    assert "sum of the parts" in shown and (tmp_path / "a.csv").stat().st_size > 0


def test_cli_what_it_takes_reports_a_setting_that_meets_the_target(capsys):
    from czsim.cli import main

    args = ["what-it-takes", "slowdown", "--levers", "industrial_investment_growth,rd_intensity"]
    assert main(args) == 0
    shown = capsys.readouterr().out
    assert "industrial_investment_growth" in shown
    assert shown.count("reached") + shown.count("not reachable") >= 1
