"""The Streamlit app, driven headless with ``streamlit.testing.v1.AppTest``, and the pure
functions its pages are built from (:mod:`czsim.ui.logic`, :mod:`czsim.ui.charts`)."""

from __future__ import annotations

import io
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import czsim
from czsim.cli import main as cli_main
from czsim.parameters import load_parameters
from czsim.scenarios import load_scenario
from czsim.targets import load_targets, target_series
from czsim.ui import charts, logic
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


def _goto(at: AppTest, page: str) -> AppTest:
    at.sidebar.radio(key="page").set_value(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _open(at: AppTest, *groups: str) -> AppTest:
    """Open parameter groups (their sliders are drawn only while open), as a click would.

    AppTest does not send an expander's state back with other widgets' changes, so a group
    other than the first closes again after any interaction: reopen it before reading it.
    """
    for group in groups:
        at.session_state[f"grp:{group}"] = True
    return at.run()


def _summary(at: AppTest) -> str:
    return next(
        m.value
        for m in at.markdown
        if m.value.startswith(("共 ", "There are")) or " targets: " in m.value
    )


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


def test_moving_a_slider_changes_the_scorecard(app: AppTest) -> None:
    _goto(app, "scorecard")
    before_row, before_summary = _scorecard_row(app, "industrial_scale"), _summary(app)
    app.slider(key="p:industrial_investment_growth").set_value(-0.05).run()
    assert not app.exception
    after_row = _scorecard_row(app, "industrial_scale")
    assert after_row[t("col_value", "zh")] != before_row[t("col_value", "zh")]
    assert _summary(app) != before_summary
    assert app.session_state["edits"] == {"industrial_investment_growth": -0.05}
    # Moving it back to the scenario's value is no edit; reset goes back to the scenario file.
    app.slider(key="p:industrial_investment_growth").set_value(0.09).run()
    assert app.session_state["edits"] == {}
    assert _scorecard_row(app, "industrial_scale").equals(before_row)
    app.slider(key="p:industrial_investment_growth").set_value(0.2).run()
    app.sidebar.button(key="reset").click().run()
    assert app.session_state["edits"] == {}
    assert _scorecard_row(app, "industrial_scale").equals(before_row)
    assert app.slider(key="p:industrial_investment_growth").value == pytest.approx(0.09)


def test_overview_shows_scale_against_target_and_baseline(app: AppTest) -> None:
    first = app.metric[0].value
    app.slider(key="p:industrial_investment_growth").set_value(0.2).run()
    assert app.metric[0].value != first
    assert "较基准" in app.metric[0].delta
    spec = app.get("vega_lite_chart")[0].proto.spec
    assert "Noto Sans CJK SC" in spec and "strokeDash" in spec  # CJK font, dashed baseline


def test_every_parameter_has_a_slider_with_units_and_help(app: AppTest) -> None:
    table = load_parameters()
    assert {s.key for s in app.sidebar.slider} == {
        f"p:{p.name}" for p in table.groups()["investment"]
    }  # the first group starts open
    _open(app, *table.groups())
    sliders = {s.key: s for s in app.sidebar.slider}
    assert set(sliders) == {f"p:{name}" for name in table}
    p = table["industrial_investment_growth"]
    slider = sliders["p:industrial_investment_growth"]
    assert f"[{p.units}]" in slider.label and p.source in slider.help
    assert (slider.min, slider.max) == (p.low, p.high)


def test_time_series_value_shown_and_replaced(app: AppTest) -> None:
    app.sidebar.selectbox(key="base_choice").set_value("file:plan").run()
    note = "2022: 0.6 → 2025: 0.62"
    assert any(note in c.value for c in app.sidebar.caption)
    assert app.slider(key="p:desired_tech_retrofit_share").value == pytest.approx(0.62)
    app.slider(key="p:desired_tech_retrofit_share").set_value(0.7).run()
    assert not any(note in c.value for c in app.sidebar.caption)
    assert app.session_state["edits"] == {"desired_tech_retrofit_share": 0.7}


def test_switching_scenario_drops_edits(app: AppTest) -> None:
    _open(app, "finance")
    app.slider(key="p:financing_intensity").set_value(0.4).run()
    app.sidebar.selectbox(key="base_choice").set_value("file:slowdown").run()
    assert app.session_state["edits"] == {}
    assert app.slider(key="p:industrial_investment_growth").value == pytest.approx(0.03)
    assert app.header[0].value == "slowdown"


def test_compare_two_scenarios(app: AppTest) -> None:
    app.slider(key="p:industrial_investment_growth").set_value(0.15).run()
    _goto(app, "compare")
    app.multiselect(key="compare_pick").set_value(["file:plan", "file:slowdown", "current"]).run()
    assert not app.exception
    table = app.dataframe[0].value
    for label in ("文件：plan", "文件：slowdown", "当前（调整中）：baseline_tuned"):
        assert label in table.columns
    assert "✓" in table.loc["reached", "文件：plan"]
    diff = app.dataframe[1].value
    assert diff.loc["industrial_investment_growth", "文件：slowdown"] == "0.03"
    assert diff.loc["industrial_investment_growth", "当前（调整中）：baseline_tuned"] == "0.15"
    assert "new_above_scale_firm_rate" in diff.index
    assert len(app.get("vega_lite_chart")) == 2
    # One scenario is not a comparison.
    app.multiselect(key="compare_pick").set_value(["current"]).run()
    assert app.info[0].value == t("compare_need_two", "zh")


def test_bad_upload_shows_the_cli_error_and_keeps_state(
    app: AppTest, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _open(app, "finance")
    app.slider(key="p:financing_intensity").set_value(0.3).run()
    app.file_uploader(key="uploader").set_value(("bad.toml", BAD_TOML, "application/toml")).run()
    assert not app.exception
    # The same line the CLI prints for the same file, with the uploaded name for the path.
    path = tmp_path / "bad.toml"
    path.write_bytes(BAD_TOML)
    assert cli_main(["run", str(path)]) == 2
    cli_line = capsys.readouterr().err.strip().removeprefix("czsim: error: ")
    expected = cli_line.replace(str(path), "bad.toml")
    assert app.session_state["upload_error"] == expected
    assert any(expected in e.value for e in app.error)
    assert app.session_state["base_choice"] == "file:baseline"
    assert app.session_state["edits"] == {"financing_intensity": 0.3}
    assert _open(app, "finance").slider(key="p:financing_intensity").value == pytest.approx(0.3)


def test_good_upload_becomes_the_scenario(app: AppTest) -> None:
    text = load_scenario("slowdown").with_values(name="mine", financing_intensity=0.33).to_toml()
    app.file_uploader(key="uploader").set_value(("mine.toml", text.encode(), "application/toml"))
    app.run()
    assert not app.exception and not app.error
    assert app.session_state["base_choice"] == "upload:mine"
    _open(app, "finance")
    assert app.slider(key="p:financing_intensity").value == pytest.approx(0.33)
    assert app.header[0].value == "mine"


def test_language_switch_changes_labels(app: AppTest) -> None:
    zh_slider = app.slider(key="p:industrial_investment_growth").label
    app.slider(key="p:industrial_investment_growth").set_value(0.12).run()
    app.sidebar.radio(key="lang").set_value("en").run()
    assert app.title[0].value == t("title", "en")
    en_slider = app.slider(key="p:industrial_investment_growth")
    assert en_slider.label != zh_slider and en_slider.label.startswith("Industrial investment")
    assert en_slider.value == pytest.approx(0.12)  # the edit survives the switch
    assert app.metric[0].label == t("scale_metric", "en")
    assert any(e.label.startswith("Investment (") for e in app.sidebar.expander)
    _goto(app, "scorecard")
    table = app.dataframe[0].value
    assert "Status" in table.columns
    assert table.loc["industrial_scale", "Target"] == "Industrial scale (invoiced sales)"


def test_uncertainty_bands_and_probabilities(app: AppTest) -> None:
    _goto(app, "uncertainty")
    assert t("unc_runs_done", "zh", n=300, seed=2022) in [c.value for c in app.caption]
    band_spec = app.get("vega_lite_chart")[0].proto.spec
    assert "p10" in band_spec and "p90" in band_spec
    chances, ranges = app.dataframe[0].value, app.dataframe[1].value
    assert "industrial_scale" in chances.index and chances.iloc[:, 2].between(0, 1).all()
    assert set(ranges.index) == set(load_scenario("baseline").uncertain)
    app.select_slider(key="unc_runs").set_value(100).run()
    assert t("unc_runs_done", "zh", n=100, seed=2022) in [c.value for c in app.caption]


def test_sessions_do_not_share_state() -> None:
    one = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    two = AppTest.from_file(str(APP), default_timeout=TIMEOUT).run()
    one.slider(key="p:industrial_investment_growth").set_value(0.2).run()
    two.run()
    assert two.session_state["edits"] == {}
    assert two.slider(key="p:industrial_investment_growth").value == pytest.approx(0.09)
    assert one.metric[0].value != two.metric[0].value


def test_model_page_search(app: AppTest) -> None:
    _goto(app, "model")
    assert app.get("graphviz_chart")
    total = len(app.dataframe[0].value)
    app.text_input(key="model_query").input("Cluster output").run()
    shown = app.dataframe[0].value
    assert 0 < len(shown) < total
    assert "Cluster output" in set(shown["name"])
    sector = shown.loc[shown["name"] == "Cluster output", "sector"].iloc[0]
    app.selectbox(key="model_sector").set_value(sector).run()
    in_sector = app.dataframe[0].value
    assert set(in_sector["sector"]) == {sector} and "Cluster output" in set(in_sector["name"])


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


def test_exports_read_back() -> None:
    result = czsim.run("plan")
    frame = pd.read_csv(io.BytesIO(logic.results_csv(result)))
    assert "Industrial scale" in frame.columns and len(frame) == result.sizes["time"]
    sheets = pd.read_excel(
        io.BytesIO(logic.results_xlsx(result, czsim.scorecard(result))),
        sheet_name=None,
        engine="openpyxl",
    )
    assert set(sheets) == {"results", "scorecard"}


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
    assert statuses <= {"✓ reached", "✗ missed", "– untracked"}
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
