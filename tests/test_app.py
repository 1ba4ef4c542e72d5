"""The Streamlit app, driven headless with ``streamlit.testing.v1.AppTest``, and the pure
functions its pages are built from (:mod:`czsim.ui.logic`, :mod:`czsim.ui.charts`)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import czsim
from czsim.cli import main as cli_main
from czsim.parameters import load_parameters
from czsim.scenarios import load_scenario, load_scenario_text
from czsim.targets import load_targets, target_series
from czsim.ui import charts, exports, logic, units
from czsim.ui.i18n import STRINGS, t
from czsim.ui.sidebar import PAGE_NAMES

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app.py"
#: Seconds for one rerun; the first of a process compiles the model.
TIMEOUT = 120
BAD_TOML = b'extends = "baseline"\n[parameters]\nindustrial_investment_growht = 0.1\n'


@pytest.fixture
def app() -> AppTest:
    """A fresh session of the app, first run done."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _goto(at: AppTest, page: str) -> AppTest:
    return _ok(at.sidebar.radio(key="page").set_value(page).run())


def _key(at: AppTest, name: str) -> str:
    return f"p:{at.session_state['rev']}:{name}"


def _lever(at: AppTest, name: str):
    """The key lever's slider (overview page)."""
    return at.slider(key=_key(at, name))


def _assumption(at: AppTest, name: str):
    """Another parameter's number input, found with the assumptions' search."""
    box = at.sidebar.text_input(key="assume_query")
    if box.value != name:
        box.input(name).run()
    return at.sidebar.number_input(key=_key(at, name))


def _switch(at: AppTest, name: str) -> AppTest:
    return _ok(at.sidebar.selectbox(key=f"choice:{at.session_state['rev']}").set_value(name).run())


def _scale(at: AppTest) -> float:
    """The headline value the verdict shows (亿元)."""
    text = next(m.value for m in at.markdown if "亿元**" in m.value)
    return float(re.search(r"\*\*([\d,]+) 亿元\*\*", text).group(1).replace(",", ""))


def _expected_scale(scenario) -> float:
    card = czsim.scorecard(czsim.run(scenario))
    return float(f"{card.loc['industrial_scale', 'value']:.0f}")


def _count(at: AppTest) -> int:
    texts = [m.value for m in at.markdown]
    if t("untuned", "zh") in texts:
        return 0
    return int(next(re.search(r"已调整 (\d+) 个参数", v).group(1) for v in texts if "已调整" in v))


def _scorecard_row(at: AppTest, target_id: str) -> pd.Series:
    return at.dataframe[0].value.loc[target_id]


# --- the app -------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGE_NAMES)
def test_every_page_renders(app: AppTest, page: str, lang: str) -> None:
    app.sidebar.radio(key="lang").set_value(lang).run()
    _goto(app, page)
    assert app.title[0].value == t("title", lang)
    assert app.header[0].value  # every page says what it shows
    assert not app.error


def test_switch_then_nudge_keeps_the_new_scenario(app: AppTest) -> None:
    """Defect 1: after choosing plan the sliders showed the baseline's values and the next
    nudge silently reverted plan's settings."""
    _switch(app, "file:plan")
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(10.0)  # %/年
    assert _assumption(app, "investment_tilt_equipment").value == pytest.approx(1.2)
    assert _count(app) == 0 and app.session_state["edits"] == {}
    plan = load_scenario("plan")
    assert _scale(app) == _expected_scale(plan)
    _lever(app, "financing_intensity").set_value(26.0).run()
    _ok(app)
    assert app.session_state["edits"] == {"financing_intensity": pytest.approx(0.26)}
    assert _count(app) == 1
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(10.0)
    assert _scale(app) == _expected_scale(plan.with_values(financing_intensity=0.26))


def test_widgets_of_an_older_revision_record_no_edit(monkeypatch) -> None:
    """A quick switch on a busy server interrupts the rerun that replaces the old scenario's
    widgets; their callbacks then arrive with the old scenario's values (the browser test saw
    plan's 21 values applied as edits of slowdown). Only widgets of the current revision edit."""
    from types import SimpleNamespace

    from czsim.ui import state

    table = load_parameters()
    p = table["industrial_investment_growth"]
    ss = {"rev": 3, "edits": {}, "choice": "file:slowdown", "uploads": {}}
    monkeypatch.setattr(state, "st", SimpleNamespace(session_state=ss))
    stale, current = f"p:2:{p.name}", f"p:3:{p.name}"
    ss[stale] = ss[current] = units.to_display(p, 0.10)  # plan's value, not slowdown's
    state.on_widget(p.name, stale)
    assert ss["edits"] == {}
    ss["choice:2"] = "file:plan"
    state.on_choice("choice:2")  # a picker of the older revision: no switch
    assert ss["choice"] == "file:slowdown" and ss["rev"] == 3
    state.on_widget(p.name, current)  # the user's own move, on the widget drawn now
    assert ss["edits"] == {p.name: pytest.approx(0.10)}


def test_reset_then_nudge_does_not_bring_back_the_old_edit(app: AppTest) -> None:
    """Defect 1: after Reset the slider stayed at −5% and came back at the next nudge."""
    _lever(app, "industrial_investment_growth").set_value(-5.0).run()
    assert _count(app) == 1
    app.button(key="reset").click().run()
    _ok(app)
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(9.0)
    assert _count(app) == 0
    _lever(app, "financing_intensity").set_value(21.0).run()
    assert app.session_state["edits"] == {"financing_intensity": pytest.approx(0.21)}
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(9.0)
    expected = load_scenario("baseline").with_values(financing_intensity=0.21)
    assert _scale(app) == _expected_scale(expected)


UPLOAD = load_scenario("baseline").with_values(name="mine", industrial_investment_growth=0.12)


def test_upload_then_nudge_uses_the_file(app: AppTest) -> None:
    """Defect 1: a file setting 0.12 left the slider at 0.090."""
    _lever(app, "rd_intensity").set_value(2.0).run()
    app.file_uploader(key="uploader").set_value(
        ("mine.toml", UPLOAD.to_toml().encode(), "application/toml")
    ).run()
    _ok(app)
    assert app.session_state["choice"] == "upload:mine"
    assert app.success and "mine" in app.success[0].value  # the upload is confirmed
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(12.0)
    assert _lever(app, "rd_intensity").value == pytest.approx(1.5)  # edits of before: gone
    assert _count(app) == 0 and _scale(app) == _expected_scale(UPLOAD)
    _lever(app, "financing_intensity").set_value(22.0).run()
    assert app.session_state["edits"] == {"financing_intensity": pytest.approx(0.22)}
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(12.0)
    assert _scale(app) == _expected_scale(UPLOAD.with_values(financing_intensity=0.22))


def test_bad_upload_after_good_changes_nothing(app: AppTest) -> None:
    """Defect 1: a malformed file after a valid one said "kept" yet changed the result."""
    app.file_uploader(key="uploader").set_value(
        ("mine.toml", UPLOAD.to_toml().encode(), "application/toml")
    ).run()
    before = _scale(app)
    rev = app.session_state["rev"]
    app.file_uploader(key="uploader").set_value(("bad.toml", BAD_TOML, "application/toml")).run()
    _ok(app)
    assert app.error and "bad.toml" in app.error[0].value
    assert app.session_state["choice"] == "upload:mine" and app.session_state["rev"] == rev
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(12.0)
    assert _count(app) == 0 and _scale(app) == before == _expected_scale(UPLOAD)
    _lever(app, "financing_intensity").set_value(22.0).run()
    assert _scale(app) == _expected_scale(UPLOAD.with_values(financing_intensity=0.22))


def test_baseline_plan_slowdown_and_reset_switch_do_not_crash(app: AppTest) -> None:
    """Defect 2: baseline → plan → slowdown, or edit → reset → switch, raised KeyError."""
    _switch(app, "file:plan")
    _switch(app, "file:slowdown")
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(3.0)
    assert _count(app) == 0
    assert _scale(app) == _expected_scale(load_scenario("slowdown"))
    _lever(app, "industrial_investment_growth").set_value(5.0).run()
    app.button(key="reset").click().run()
    _switch(app, "file:plan")
    _switch(app, "file:baseline")
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(9.0)
    _lever(app, "industrial_investment_growth").set_value(9.5).run()
    assert app.session_state["edits"] == {"industrial_investment_growth": pytest.approx(0.095)}


def test_moving_back_is_no_edit_and_scorecard_follows(app: AppTest) -> None:
    before = _scale(app)
    # NEV demand: investment growth does not move 2025 in the baseline (demand-limited)
    _lever(app, "demand_growth_nev").set_value(5.0).run()
    assert _scale(app) != before and _count(app) == 1
    moved = _scale(app)
    _goto(app, "scorecard")
    assert _scorecard_row(app, "industrial_scale")[t("col_value", "zh")] == f"{moved:,.0f}"
    _goto(app, "overview")
    _lever(app, "demand_growth_nev").set_value(17.0).run()
    assert app.session_state["edits"] == {} and _scale(app) == before


def test_verdict_first(app: AppTest) -> None:
    """Defect 4: the headline with target, margin, first year and probability; counts
    explained; a tolerance for ≈ targets."""
    text = next(m.value for m in app.markdown if "亿元**" in m.value)
    card = czsim.scorecard(czsim.run("baseline"))
    row = card.loc["industrial_scale"]
    assert "✓ 达成" in text and ":green[" in text
    assert "≥ 25,000" in text and f"{row['gap']:+,.0f}" in text
    assert f"{100 * row['gap'] / row['target']:+.1f}%" in text
    assert f"{int(row['first_year'])}年首次达到" in text
    assert re.search(r"达成概率 \d+%", text)
    counts = next(m.value for m in app.markdown if "模型计算" in m.value)
    assert "进度核对" in counts and "未建模" in counts
    clusters = app.dataframe[0].value
    assert len(clusters) == 10 and t("col_margin_pct", "zh") in clusters.columns
    assert clusters[t("probability", "zh")].between(0, 1).all()
    table = logic.scorecard_table(card, load_targets(), "zh")
    approx = [tg.id for tg in load_targets() if tg.comparator == "approx" and tg.tracked]
    assert approx and all("±" in table.loc[i, t("col_target", "zh")] for i in approx)


def test_main_chart_shows_the_p10_p90_band_on_request(app: AppTest) -> None:
    """Verdict first: the P10–P90 band of the headline is available on the main chart (off by
    default), from the runs behind the probabilities, and it brackets the median run."""
    import json

    import pyarrow as pa

    def chart() -> tuple[list[dict], dict[str, pd.DataFrame]]:
        proto = app.get("vega_lite_chart")[0].proto
        data = {d.name: pa.ipc.open_stream(d.data.data).read_pandas() for d in proto.datasets}
        return json.loads(proto.spec)["layer"], data

    layer, _ = chart()
    assert not any(lay.get("encoding", {}).get("y2") for lay in layer)
    app.toggle(key="main_band").set_value(True).run()
    _ok(app)
    layer, data = chart()
    area = next(lay for lay in layer if lay.get("encoding", {}).get("y2"))
    assert area["encoding"]["y"]["field"] == "p10" and area["encoding"]["y2"]["field"] == "p90"
    band = data[area["data"]["name"]]
    assert len(band) == 10 and (band["p10"] <= band["p50"]).all()
    assert (band["p50"] <= band["p90"]).all()
    assert band["p90"].iloc[-1] > band["p10"].iloc[-1]  # the scenario's ranges spread the runs
    assert app.toggle(key="main_band").label == t("band_toggle", "zh")


def test_lever_panel_in_planner_units_with_marks(app: AppTest) -> None:
    """Defect 5: the key levers beside the chart, in %/年 and 家/年, with the baseline's and
    plan's values, not snapped to the step."""
    table = load_parameters()
    keys = {_key(app, p.name) for p in table.key_levers()}
    assert {s.key for s in app.main.slider} == keys
    growth = _lever(app, "industrial_investment_growth")
    assert "%/年" in growth.label and growth.value == pytest.approx(9.0)
    assert (growth.min, growth.max) == (-5.0, 25.0)
    assert "家/年" in _lever(app, "new_above_scale_firm_rate").label
    assert any("基准 9%/年 · 规划 10%/年" in c.value for c in app.main.caption)
    assert table["industrial_investment_growth"].source_zh in growth.help  # zh: the source in zh
    assert table["industrial_investment_growth"].label_en in growth.help  # both languages
    # A calibrated value is shown and kept as it is.
    _lever(app, "industrial_investment_growth").set_value(13.175).run()
    assert _lever(app, "industrial_investment_growth").value == pytest.approx(13.175)
    assert app.session_state["edits"] == {"industrial_investment_growth": pytest.approx(0.13175)}


def _reach_chart(at: AppTest) -> pd.DataFrame:
    """The rows of the overview's lever-reach chart (the one with a bar from low to high)."""
    import json

    import pyarrow as pa

    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        for lay in spec.get("layer", []):
            if lay.get("encoding", {}).get("x2", {}).get("field") == "high":
                data = {d.name: d.data.data for d in element.proto.datasets}
                name = lay["data"]["name"]
                if name in data:
                    return pa.ipc.open_stream(data[name]).read_pandas()
                return pd.DataFrame(spec["datasets"][name])
    raise AssertionError("no lever-reach chart")


def test_each_lever_shows_how_far_it_alone_moves_the_headline(app: AppTest) -> None:
    """Beside the levers: the 2025 scale with each key lever at either end of its range, the
    others as they are now, largest first; a lever that cannot move it says so."""
    table = load_parameters()
    base = czsim.load_scenario("baseline")
    names = [p.name for p in table.key_levers()]
    _, rows = logic.reach_rows(base, names, table)
    ds = czsim.run_many(base, rows, variables=["Industrial scale"], times=[2025])
    scale = ds["Industrial scale"].values.reshape(-1)
    shown = _reach_chart(app).set_index("label")
    flat_line = next(c.value for c in app.main.caption if "几乎不改变2025年规模" in c.value)
    n_flat = 0
    for i, name in enumerate(names):
        low, high = sorted(scale[2 * i : 2 * i + 2])
        label = table[name].label("zh")
        if high - low <= 5e-4 * high:  # listed under the chart, not drawn
            assert label not in shown.index and label in flat_line, name
            n_flat += 1
            continue
        got = shown.loc[label]
        assert (got["low"], got["high"]) == pytest.approx((low, high)), name
        assert got["current"] == pytest.approx(_scale(app), abs=0.5)
    assert len(shown) + n_flat == len(names)
    assert "工业投资增速" in flat_line  # demand-limited in the baseline: see the help text
    spans = (shown.sort_values("rank")["high"] - shown.sort_values("rank")["low"]).to_numpy()
    assert (spans[:-1] >= spans[1:]).all() and spans[0] > 1000  # largest on top
    # the reach follows the other levers' values in effect
    _lever(app, "demand_growth_equipment").set_value(20.0).run()
    assert not _reach_chart(app)[["low", "high"]].equals(shown.reset_index()[["low", "high"]])
    _ok(app.sidebar.radio(key="lang").set_value("en").run())
    english = _reach_chart(app)
    assert table["demand_growth_nev"].label("en") in set(english["label"])


def test_reach_rows_move_one_lever_at_a_time_and_leave_series_alone() -> None:
    table = load_parameters()
    base = czsim.load_scenario("baseline").with_values(demand_growth_nev=((2023, 0.1), (2025, 0.2)))
    names = ["industrial_investment_growth", "demand_growth_nev", "rd_intensity"]
    moved, rows = logic.reach_rows(base, names, table)
    assert moved == ["industrial_investment_growth", "rd_intensity"]  # the series is left out
    assert list(rows.columns) == moved and len(rows) == 4
    growth = table["industrial_investment_growth"]
    assert rows["industrial_investment_growth"].tolist()[:2] == [growth.low, growth.high]
    held = logic.effective_value(base, "rd_intensity", table)
    assert rows["rd_intensity"].tolist()[:2] == [held, held]


def test_assumptions_search_and_groups(app: AppTest) -> None:
    table = load_parameters()
    keys = {p.name for p in table.key_levers()}
    app.sidebar.text_input(key="assume_query").input("倾斜").run()
    shown = {n.key.split(":")[-1] for n in app.sidebar.number_input}
    assert shown and shown <= set(table) - keys
    assert all("investment_tilt" in n for n in shown)
    app.sidebar.text_input(key="assume_query").input("tilt").run()
    assert {n.key.split(":")[-1] for n in app.sidebar.number_input} == shown  # English too
    app.sidebar.text_input(key="assume_query").input("").run()
    group = app.sidebar.selectbox(key="assume_group")
    group.set_value("finance").run()
    first = app.sidebar.number_input[0]
    first.set_value(first.value + (first.step or 1)).run()
    _ok(app)
    assert app.sidebar.selectbox(key="assume_group").value == "finance"  # stays open
    assert _count(app) == 1


def test_uncertainty_follows_the_user(app: AppTest) -> None:
    """Defect 3: the band ignored the sliders of the parameters it samples."""
    _goto(app, "uncertainty")
    spec_before = app.get("vega_lite_chart")[0].proto.spec
    base = load_scenario("baseline")
    # the last two tables: the ranges drawn, then the posterior's jointly drawn parameters
    ranges, joint = app.dataframe[-2].value, app.dataframe[-1].value
    assert len(ranges) == len(base.uncertain)
    assert list(joint.index) == list(base.posterior.parameters)
    _lever(app, "industrial_investment_growth").set_value(25.0).run()
    _ok(app)
    assert app.get("vega_lite_chart")[0].proto.spec != spec_before
    assert any("保持在用户设定值" in i.value and "25%/年" in i.value for i in app.info)
    sampled = app.dataframe[-2].value
    assert len(sampled) == len(ranges) - 1


def test_compare_defaults_and_differences(app: AppTest) -> None:
    """Defect 7: the default comparison pitted baseline against itself, with no difference."""
    _goto(app, "compare")
    assert app.multiselect(key="compare_pick").value == [
        "file:baseline",
        "file:plan",
        "file:slowdown",
    ]
    table = app.dataframe[0].value
    assert {"基准情景", "规划情景", "放缓情景"} <= set(table.columns)
    assert any(c.startswith("较基准情景差异") for c in table.columns)
    spec = app.get("vega_lite_chart")[0].proto.spec
    assert charts.TARGET in spec and charts.PALETTE[0] in spec
    assert charts.TARGET not in charts.PALETTE
    assert "industrial_investment_growth" in app.dataframe[1].value.index


def test_share_link_reproduces_the_scenario() -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update({"s": "plan", "financing_intensity": "0.3", "lang": "en"})
    _ok(at.run())
    assert at.session_state["choice"] == "file:plan" and at.session_state["lang"] == "en"
    assert at.session_state["edits"] == {"financing_intensity": 0.3}
    assert _lever(at, "financing_intensity").value == pytest.approx(30.0)
    code = at.code[0].value
    assert "s=plan" in code and "financing_intensity=0.3" in code
    bad = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    bad.query_params.update({"nope": "1", "financing_intensity": "9"})
    _ok(bad.run())
    assert bad.session_state["edits"] == {} and bad.warning


def test_language_switch_changes_everything_and_keeps_edits(app: AppTest) -> None:
    """Defect 6: units, scenario names, the uploader and errors in the chosen language."""
    _lever(app, "industrial_investment_growth").set_value(12.0).run()
    app.sidebar.radio(key="lang").set_value("en").run()
    _ok(app)
    growth = _lever(app, "industrial_investment_growth")
    assert growth.label.startswith("Industrial investment") and "%/yr" in growth.label
    assert growth.value == pytest.approx(12.0)  # the edit survives the switch
    assert app.header[0].value.startswith("Baseline (adjusted)")
    assert (
        app.sidebar.selectbox(key=f"choice:{app.session_state['rev']}").format_func("file:slowdown")
        == "Slowdown"
    )
    app.file_uploader(key="uploader").set_value(("x.toml", b"", "application/toml")).run()
    assert "empty" in app.error[0].value and "Upload rejected" in app.error[0].value


def test_sessions_do_not_share_state() -> None:
    one = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    two = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    # a lever that moves the 2025 total (in the baseline investment is demand-limited from
    # 2023, so more investment growth alone changes little)
    _lever(one, "demand_growth_nev").set_value(30.0).run()
    two.run()
    assert two.session_state["edits"] == {}
    assert _lever(two, "demand_growth_nev").value == pytest.approx(17.0)
    assert _scale(one) != _scale(two)


def test_model_page_search(app: AppTest) -> None:
    _goto(app, "model")
    total = len(app.dataframe[0].value)
    app.text_input(key="model_query").input("集群").run()
    shown = app.dataframe[0].value
    assert 0 < len(shown) < total
    assert "Cluster output" in set(shown[t("el_name", "zh")])
    app.text_input(key="model_query").input("Cluster output").run()
    assert "Cluster output" in set(app.dataframe[0].value[t("el_name", "zh")])


def _svg_width(html: str) -> str:
    return re.search(r'<svg[^>]*\bwidth="([^"]+)"', html)[1]


def test_model_diagram_zooms(app: AppTest) -> None:
    _goto(app, "model")
    zoom = app.segmented_control(key="model_zoom")
    assert zoom.value == 100
    natural = _svg_width(app.get("html")[0].proto.body)
    assert natural.endswith("pt")
    zoom.set_value(200).run()
    doubled = _svg_width(app.get("html")[0].proto.body)
    assert float(doubled[:-2]) == pytest.approx(2 * float(natural[:-2]), abs=0.2)
    app.segmented_control(key="model_zoom").set_value("fit").run()
    assert _svg_width(app.get("html")[0].proto.body) == "100%"
    app.segmented_control(key="model_zoom").set_value(None).run()  # unselected: natural size
    assert _svg_width(app.get("html")[0].proto.body) == natural


# --- upload handling, exports and page data (no Streamlit) -----------------------------------


def test_handle_upload() -> None:
    good = load_scenario("plan").to_toml().encode()
    scenario, error = logic.handle_upload("plan_copy.toml", good)
    assert error is None and scenario.values == load_scenario("plan").values
    scenario, error = logic.handle_upload("bad.toml", BAD_TOML)
    assert scenario is None
    assert error.startswith("bad.toml")
    assert "did you mean 'industrial_investment_growth'" in error and "\n" not in error
    assert logic.handle_upload("x.toml", b"a = [")[1].startswith("x.toml: malformed TOML")
    assert "too large" in logic.handle_upload("x.toml", b"#" * 70_000)[1]
    assert ".toml" in logic.handle_upload("x.py", good)[1]
    assert "UTF-8" in logic.handle_upload("x.toml", b"\xff\xfe")[1]
    assert "上限" in logic.handle_upload("x.toml", b"#" * 70_000, lang="zh")[1]


def test_tuned_scenario_round_trips_through_the_cli(tmp_path: Path) -> None:
    table = load_parameters()
    base = load_scenario("plan")
    assert logic.tuned(base, {"financing_intensity": 0.25}, table) is base  # plan's own value
    tuned = logic.tuned(base, {"financing_intensity": 0.4, "rd_intensity": 0.02}, table)
    assert tuned.name == "plan_tuned"
    path = tmp_path / "plan_tuned.toml"
    path.write_text(tuned.to_toml(), encoding="utf-8")
    assert load_scenario(path).values == tuned.values
    assert cli_main(["run", str(path)]) == 0


def test_exports_for_people() -> None:
    """Defect 8: labels in the reader's language, units, the scorecard; frozen headers; a
    TOML that describes its changes."""
    import openpyxl

    result = czsim.run("plan")
    card = czsim.scorecard(result)
    frame = pd.read_csv(io.BytesIO(exports.csv_text(result, card, "zh")), encoding="utf-8-sig")
    for column in ("目标", "单位", "状态", "余量", "2025"):
        assert column in frame.columns
    assert len(frame) == len(card) and "工业规模" in frame["目标"].iloc[0]
    assert set(frame["单位"].dropna()) >= {"亿元", "家"}
    english = pd.read_csv(io.BytesIO(exports.csv_text(result, card, "en")))
    assert "Status" in english.columns and "100M yuan" in set(english["Unit"])
    book = openpyxl.load_workbook(io.BytesIO(exports.xlsx(result, card, "zh")))
    assert book.sheetnames == [t("sheet_targets", "zh"), t("sheet_variables", "zh")]
    assert all(sheet.freeze_panes == "B2" for sheet in book.worksheets)
    table = load_parameters()
    tuned = logic.tuned(load_scenario("plan"), {"industrial_investment_growth": 0.12}, table)
    assert "工业投资增速 10%/年 → 12%/年" in tuned.description_zh
    assert "Industrial investment growth 10%/yr → 12%/yr" in tuned.description_en
    assert "industrial_investment_growth" not in tuned.uncertain  # held at the user's value
    assert load_scenario_text(tuned.to_toml(), filename="x.toml").description_zh == (
        tuned.description_zh
    )


def test_upload_messages() -> None:
    assert "empty" in logic.handle_upload("x.toml", b"  \n")[1]
    _, error = logic.handle_upload("x.toml", b'extends = "nowhere"\n')
    assert error and "/work" not in error and str(ROOT) not in error


@pytest.mark.parametrize(
    ("name", "shown", "unit"),
    [
        ("industrial_investment_growth", 9.0, "%/年"),
        ("financing_intensity", 20.0, "%"),
        ("new_above_scale_firm_rate", 550.0, "家/年"),
        ("investment_tilt_equipment", 1.0, "倍"),
    ],
)
def test_planner_units(name: str, shown: float, unit: str) -> None:
    p = load_parameters()[name]
    assert units.to_display(p, p.default) == pytest.approx(shown)
    assert units.display(p).unit("zh") == unit
    assert units.from_display(p, units.to_display(p, 0.13175 if unit != "家/年" else 555)) == (
        pytest.approx(0.13175 if unit != "家/年" else 555)
    )


def test_widget_step_does_not_snap() -> None:
    p = load_parameters()["industrial_investment_growth"]
    assert units.widget_step(p, 9.0) == pytest.approx(0.5)
    step = units.widget_step(p, 13.175)
    assert step == pytest.approx(0.001)
    assert units.widget_format(step, 13.175) == "%.3f"


def test_target_frame_matches_target_series() -> None:
    result = czsim.run("plan")
    frame = logic.target_frame(result, load_targets())
    for target in load_targets():
        if not target.tracked:
            continue
        scale = 100.0 if target.unit == "%" else 1.0
        expected = target_series(result, target).isel(run=0).values * scale
        got = frame.loc[frame["id"] == target.id, "value"].to_numpy()
        np.testing.assert_allclose(got, expected)


def test_band_frame_quantiles() -> None:
    scenario = load_scenario("baseline")
    draws = logic.draw_samples(scenario.uncertain, 50, seed=1, method="lhs")
    result = czsim.run_many(scenario, draws)
    bands = logic.band_frame(result, load_targets())
    scale = bands[bands["id"] == "industrial_scale"]
    assert (scale["p10"] <= scale["p50"]).all() and (scale["p50"] <= scale["p90"]).all()
    values = result["Industrial scale"].sel(time=2025).values
    assert scale.loc[scale["year"] == 2025, "p50"].item() == pytest.approx(np.median(values))


@pytest.mark.parametrize("method", ["lhs", "uniform"])
def test_draw_samples(method: str) -> None:
    ranges = {"a": (0.0, 1.0), "b": (-2.0, 2.0)}
    draws = logic.draw_samples(ranges, 200, seed=7, method=method)
    assert list(draws.columns) == ["a", "b"] and len(draws) == 200
    assert draws["a"].between(0, 1).all() and draws["b"].between(-2, 2).all()
    pd.testing.assert_frame_equal(draws, logic.draw_samples(ranges, 200, seed=7, method=method))
    if method == "lhs":  # one draw in each of the 200 strata
        strata = np.floor(draws["a"].to_numpy() * 200).astype(int)
        assert sorted(strata) == list(range(200))


def test_scorecard_table_has_status_in_words() -> None:
    card = czsim.scorecard(czsim.run("baseline"))
    table = logic.scorecard_table(card, load_targets(), "en")
    statuses = set(table["Status"])
    assert statuses <= {"✓ reached", "✗ missed", "– untracked", "◷ pace check"}
    paces = table[table["Status"] == "◷ pace check"]
    assert len(paces) == (card["basis"] == "counter").sum()  # counters are never "reached"
    untracked = table[table["Status"] == "– untracked"]
    assert len(untracked) == (card["basis"] == "untracked").sum()
    assert (untracked["Note"] != "").all()
    assert set(table["Basis"]) == {"model", "counter", "untracked"}


def test_every_string_has_both_languages() -> None:
    for key, (zh, en) in STRINGS.items():
        assert zh and en, key


def test_charts_are_pure_altair() -> None:
    frame = pd.DataFrame(
        {
            "year": [2021, 2022] * 2,
            "value": [1.0, 2.0, 1.5, 2.5],
            "series": ["当前", "当前", "基准", "基准"],
        }
    )
    chart = charts.scenario_lines(
        frame,
        x_title="年份",
        y_title="亿元",
        series_title="情景",
        dashed=["基准"],
        target=2.0,
        target_label="目标",
    )
    assert isinstance(chart, alt.TopLevelMixin)
    spec = chart.to_dict()
    assert spec["config"]["font"] == charts.FONT and "Noto Sans CJK SC" in charts.FONT
    rows = [r for values in spec["datasets"].values() for r in values]
    assert {"target": 2.0, "label": "目标"} in rows  # the target line and its label


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0.005, "%.3f"), (0.25, "%.2f"), (250, "%.0f"), (0.07, "%.2f"), (1.0, "%.0f")],
)
def test_slider_format_follows_step(step: float, expected: str) -> None:
    assert logic.step_format(step) == expected


def test_format_number() -> None:
    assert [logic.format_number(v) for v in (25101.4, 47.23, 2.481, float("nan"), None)] == [
        "25,101",
        "47.2",
        "2.48",
        "",
        "",
    ]


def test_what_it_takes_page_break_even_solution_and_waterfall(app: AppTest) -> None:
    """The decision tools in the app: break-even of every key lever, a combined solution on
    request, and the plan-vs-scenario waterfall whose parts sum to the difference."""
    app.sidebar.radio(key="lang").set_value("en").run()
    _goto(app, "what_it_takes")
    assert not app.error
    table = app.dataframe[0].value
    assert len(table) == len(czsim.load_parameters().key_levers())
    assert "◎ break-even" in set(table["Result"])
    app.button(key="wit_solve").click().run(timeout=TIMEOUT)
    shown = " ".join(m.value for m in app.markdown)
    assert "reachable" in shown or "already met" in shown
    assert len(app.dataframe) == 2  # the break-even table and the solution's lever settings


def _inline(spec: dict) -> dict:
    """``spec`` with every named dataset written into the layer that uses it."""
    datasets = spec.pop("datasets", {})

    def walk(node):
        if isinstance(node, dict):
            if set(node) == {"name"} and node["name"] in datasets:
                return {"values": datasets[node["name"]]}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(spec)


@pytest.mark.parametrize("counts", [True, False])
def test_panels_written_directly_are_altairs_spec(counts) -> None:
    years = np.arange(2021, 2026)
    frame = pd.concat(
        pd.DataFrame(
            {
                "label": label,
                "year": years,
                "value": np.linspace(1.5, 9.25, len(years)) * (i + 1),
                "series": series,
                "target": 7.0 + i,
                "count": counts and i == 0,
            }
        )
        for i, label in enumerate(["专精特新企业 (家)", "R&D intensity (%)", "第三"])
        for series in ["当前", "基准"]
    )
    frame.loc[frame.index[3], "value"] = np.nan  # a gap is drawn as one (null), both ways
    kwargs = dict(x_title="年份", series_title="情景", dashed=["基准"], columns=2)
    direct = charts.target_panels(frame, **kwargs)
    reference = charts.spec(charts.target_panels_altair(frame, **kwargs))
    assert _inline(direct) == _inline(reference)


def _lines(shift: float = 0.0) -> pd.DataFrame:
    years = np.arange(2021, 2031)
    return pd.concat(
        pd.DataFrame(
            {"year": years, "value": 17000.0 + 900 * np.arange(10) + k + shift, "series": s}
        )
        for k, s in enumerate(["当前情景", "基准"])
    )


def _band(shift: float = 0.0) -> pd.DataFrame:
    years = np.arange(2021, 2031)
    low = 16000.0 + 800 * np.arange(10) + shift
    return pd.DataFrame({"year": years, "p10": low, "p90": low + 3000.5})


def _clusters(shift: float = 0.0, missed: int = 1) -> pd.DataFrame:
    value = np.arange(5) * 310.0 + 1000 + shift
    status = ["✗ 未达成" if i < missed else "✓ 达成" for i in range(5)]
    return pd.DataFrame(
        {
            "cluster": [f"集群{i}" for i in range(5)],
            "series": "当前",
            "value": value,
            "target": np.arange(5) * 300.0 + 1100,
            "status": status,
            "mark": [s[0] for s in status],
            "mark_x": value + 50,
        }
    )


LINE_ARGS = dict(
    x_title="年份",
    y_title="亿元",
    series_title="情景",
    dashed=["基准"],
    target=25000.0,
    target_label="目标",
    band_label="P10-P90",
)


def _reach(shift: float = 0.0) -> pd.DataFrame:
    low = np.array([24000.0, 25500.0, 25700.0]) + shift
    return pd.DataFrame(
        {
            "label": ["需求", "投资", "研发"],
            "low": low,
            "high": low + np.array([3000.0, 10.0, 400.0]),
            "current": 25800.0 + shift,
            "rank": [0.0, 2.0, 1.0] if shift == 0 else [1.0, 0.0, 2.0],  # reordered bars
        }
    )


REACH_ARGS = dict(
    lever_title="杠杆",
    value_title="亿元",
    low_title="下限",
    high_title="上限",
    target=25000.0,
    target_label="目标",
)
BAR_ARGS = dict(
    cluster_title="集群",
    value_title="2025",
    target_title="目标",
    series_title="情景",
    status_title="状态",
    status_domain=["✓ 达成", "✗ 未达成"],
)


@pytest.mark.parametrize(
    ("build", "frames", "kwargs"),
    [
        (charts.scenario_lines, lambda s: {"frame": _lines(s), "band": _band(s)}, LINE_ARGS),
        (charts.scenario_lines, lambda s: {"frame": _lines(s), "band": None}, LINE_ARGS),
        (charts.cluster_bars, lambda s: {"frame": _clusters(s)}, BAR_ARGS),
        (charts.lever_reach, lambda s: {"frame": _reach(s)}, REACH_ARGS),
        (
            charts.band_chart,
            lambda s: {"bands": _band(s).assign(p50=lambda b: b.p10 + 1000)},
            dict(x_title="年", y_title="亿元", band_label="b", median_label="m", target=9.0),
        ),
    ],
)
def test_specs_from_templates_equal_altairs(build, frames, kwargs) -> None:
    charts._TEMPLATES.clear()
    first = charts.cached_spec(build, frames(0.0), **kwargs)  # builds, keeps a template
    assert _inline(first) == _inline(charts.spec(build(**frames(0.0), **kwargs)))
    assert len(charts._TEMPLATES) == 1 and next(iter(charts._TEMPLATES.values())) is not None
    for shift in (12.5, -300.25):  # new numbers, same structure: from the template
        again = charts.cached_spec(build, frames(shift), **kwargs)
        assert _inline(again) == _inline(charts.spec(build(**frames(shift), **kwargs)))
    assert len(charts._TEMPLATES) == 1


def test_a_new_structure_or_numbers_that_shape_the_chart_are_not_templated() -> None:
    charts._TEMPLATES.clear()
    # a status that changes (a non-numeric value) is a new structure: built again, right
    one = charts.cached_spec(charts.cluster_bars, {"frame": _clusters(0, missed=1)}, **BAR_ARGS)
    two = charts.cached_spec(charts.cluster_bars, {"frame": _clusters(0, missed=3)}, **BAR_ARGS)
    assert len(charts._TEMPLATES) == 2
    assert _inline(two) == _inline(
        charts.spec(charts.cluster_bars(_clusters(0, missed=3), **BAR_ARGS))
    )
    assert _inline(one) != _inline(two)

    def domain_from_data(frame):  # the numbers set the scale: never a template
        top = float(frame["value"].max())
        return (
            alt.Chart(frame)
            .mark_line()
            .encode(x="year:Q", y=alt.Y("value:Q", scale=alt.Scale(domain=[0, top])))
        )

    for shift in (0.0, 50.0):
        got = charts.cached_spec(domain_from_data, {"frame": _lines(shift)})
        assert _inline(got) == _inline(charts.spec(domain_from_data(_lines(shift))))
    assert (
        charts._TEMPLATES[next(k for k in charts._TEMPLATES if "domain_from_data" in k[0])] is None
    )

    def derived(frame):  # a dataset computed from the frame (its first rows): never a template
        return alt.layer(
            alt.Chart(frame).mark_line().encode(x="year:Q", y="value:Q"),
            alt.Chart(frame.head(2)).mark_point().encode(x="year:Q", y="value:Q"),
        )

    for shift in (0.0, 50.0):
        got = charts.cached_spec(derived, {"frame": _lines(shift)})
        assert _inline(got) == _inline(charts.spec(derived(_lines(shift))))


def test_small_panels_show_counts_as_whole_numbers(app: AppTest) -> None:
    """Defect 7: a firm-count panel had fractional ticks (2.3 firms). Each panel now has its own
    axis: counts (家, 个, 项, ...) in whole numbers, other quantities in up to four digits."""
    import json

    app.radio(key="panel_group").set_value("firms").run()
    _ok(app)
    specs = [json.loads(c.proto.spec) for c in app.get("vega_lite_chart")]
    panels = next(s for s in specs if "concat" in s)
    assert len(panels["concat"]) >= 2
    from czsim.ui.units import is_count

    for panel in panels["concat"]:
        title = panel["title"]["text"]
        y = panel["layer"][0]["encoding"]["y"]
        unit = title.rpartition("(")[2].rstrip(")") if title.endswith(")") else ""
        if is_count(unit):
            assert y["axis"]["format"] == ",d" and y["axis"]["tickMinStep"] == 1, title
        else:
            assert y["axis"]["format"] == ",.4~g", title
    assert any(p["title"]["text"].endswith("(家)") for p in panels["concat"])


def test_table_styles_colour_exactly_the_rows_they_name() -> None:
    """The verdict colours each row's status cell by its own status; compare highlights the
    changed rows whole, in any order of the index."""
    from czsim.ui import pages, verdict

    table = pd.DataFrame(
        {"Status": ["a", "b", "c"], "Value": [1.0, 2.0, 3.0]}, index=["x", "y", "z"]
    )
    status = pd.Series(["missed", "reached", "untracked"], index=["z", "x", "y"])
    styles = pages._verdict_style(table, status)
    assert styles.loc["x", "Status"] == f"color: {verdict.COLOURS['reached']}; font-weight: bold"
    assert styles.loc["z", "Status"] == f"color: {verdict.COLOURS['missed']}; font-weight: bold"
    assert styles.loc["y", "Status"] == "" and (styles["Value"] == "").all()

    changed = pd.Series([True, False, True], index=["z", "y", "x"])
    styles = pages._changed_style(table, changed)
    assert (styles.loc[["x", "z"]] == "background-color: #fff4ce").all(axis=None)
    assert (styles.loc["y"] == "").all()
