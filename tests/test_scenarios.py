"""Scenario files: loading, inheritance, and a clear one-line error for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import czsim
from czsim.cli import main
from czsim.errors import CzsimError, ParameterError, ScenarioError
from czsim.scenarios import load_scenario, load_scenario_text


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_scenario_files_load_and_name_their_parents():
    names = czsim.list_scenarios()
    assert {"baseline", "plan", "slowdown", "new_energy_capital"} <= set(names)
    assert load_scenario("calibrated").parent is None
    assert load_scenario("baseline").parent == "calibrated"
    assert load_scenario("plan").parent == "baseline"
    assert load_scenario("new_energy_capital").parent == "plan"
    for name in names:
        s = load_scenario(name)
        assert s.description("en") and s.description("zh"), name


def test_child_lists_only_changes_and_inherits_the_rest():
    plan, nec = load_scenario("plan"), load_scenario("new_energy_capital")
    assert nec.values["cloud_adoption_rate"] == plan.values["cloud_adoption_rate"]
    assert nec.values["demand_growth_nev"] == 0.30
    assert "demand_growth_nev" not in plan.values
    assert nec.uncertain == load_scenario("baseline").uncertain


def test_time_series_values_are_sorted_points():
    slow = load_scenario("slowdown")
    assert slow.values["demand_growth_other_industry"] == ((2022.0, -0.02), (2026.0, 0.02))


def test_to_toml_round_trips(tmp_path):
    plan = load_scenario("plan").with_values(rd_intensity=0.02, name="tuned")
    path = tmp_path / "tuned.toml"
    path.write_text(plan.to_toml(), encoding="utf-8")
    back = load_scenario(path)
    assert dict(back.values) == dict(plan.values)
    assert dict(back.uncertain) == dict(plan.uncertain)
    assert back.name == "tuned"


BAD = [
    (
        "unknown parameter",
        'extends = "baseline"\n[parameters]\nrd_intensty = 0.02\n',
        ParameterError,
        r"\[rd_intensty\]: unknown parameter 'rd_intensty' \(did you mean 'rd_intensity'\?\)",
    ),
    (
        "out of bounds",
        "[parameters]\nrd_intensity = 0.5\n",
        ParameterError,
        r"\[rd_intensity\]: 0.5 is outside the allowed range \[0.005, 0.04\]",
    ),
    (
        "wrong type",
        '[parameters]\nrd_intensity = "high"\n',
        ParameterError,
        r"expected a number for rd_intensity, got str 'high'",
    ),
    ("boolean", "[parameters]\nrd_intensity = true\n", ParameterError, "got bool"),
    (
        "malformed",
        "[parameters]\nrd_intensity = = 0.02\n",
        ScenarioError,
        r"bad\.toml:2: malformed TOML",
    ),
    (
        "missing parent",
        'extends = "nosuch"\n',
        ScenarioError,
        r"\[extends\]: parent scenario 'nosuch' not found",
    ),
    (
        "series key",
        "[parameters]\nrd_intensity = { soon = 0.02 }\n",
        ScenarioError,
        r"\[rd_intensity.soon\]: time series keys must be years",
    ),
    (
        "series value",
        "[parameters]\nrd_intensity = { 2024 = 0.9 }\n",
        ParameterError,
        r"\[rd_intensity.2024\]: 0.9 is outside",
    ),
    (
        "inverted range",
        "[uncertain]\nrd_intensity = { low = 0.03, high = 0.01 }\n",
        ScenarioError,
        "empty or inverted range",
    ),
    (
        "range shape",
        "[uncertain]\nrd_intensity = 0.02\n",
        ScenarioError,
        r"an uncertainty range is \{ low = \.\.\., high = \.\.\. \}",
    ),
    (
        "unknown key",
        'extend = "baseline"\n',
        ScenarioError,
        r"unknown key 'extend' \(did you mean 'extends'\?\)",
    ),
]


@pytest.mark.parametrize("case, text, error, message", BAD, ids=[b[0] for b in BAD])
def test_bad_scenario_raises_one_clear_line(tmp_path, case, text, error, message):
    path = write(tmp_path, "bad", text)
    with pytest.raises(error, match=message) as info:
        load_scenario(path)
    assert "\n" not in str(info.value)
    assert "bad.toml" in str(info.value)


@pytest.mark.parametrize("case, text, error, message", BAD, ids=[b[0] for b in BAD])
def test_bad_scenario_cli_exit_2_without_traceback(tmp_path, capsys, case, text, error, message):
    path = write(tmp_path, "bad", text)
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("czsim: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_cyclic_parents(tmp_path):
    write(tmp_path, "a", 'extends = "b"\n')
    write(tmp_path, "b", 'extends = "a"\n')
    with pytest.raises(ScenarioError, match=r"cyclic extends: a -> b -> a"):
        load_scenario(tmp_path / "a.toml")


def test_missing_file_and_unknown_name():
    with pytest.raises(CzsimError, match="file not found"):
        load_scenario("/nonexistent/x.toml")
    with pytest.raises(ScenarioError, match=r"no scenario named 'plann' \(did you mean 'plan'\?\)"):
        load_scenario("plann")


def test_upload_text_resolves_parents_in_scenarios_and_names_the_upload():
    s = load_scenario_text(
        'extends = "plan"\n[parameters]\nrd_intensity = 0.02\n', filename="mine.toml"
    )
    assert s.parent == "plan" and s.values["rd_intensity"] == 0.02 and s.path is None
    with pytest.raises(ScenarioError, match=r"^mine.toml:1: malformed TOML"):
        load_scenario_text("x = = 1", filename="mine.toml")


def test_with_values_validates():
    base = load_scenario("baseline")
    with pytest.raises(ParameterError, match="outside the allowed range"):
        base.with_values(rd_intensity=1.0)
    assert base.with_values(rd_intensity=0.02).values["rd_intensity"] == 0.02
    assert "rd_intensity" not in base.values  # frozen: the original is unchanged
