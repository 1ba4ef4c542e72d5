"""Scenario files: loading, inheritance, and a clear one-line error for every kind of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import czsim
from czsim import paths
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
    base = load_scenario("baseline")
    changed = set(nec.values) - {k for k in nec.values if base.values.get(k) == nec.values[k]}
    assert set(nec.uncertain) == set(base.uncertain)
    for name, rng in base.uncertain.items():
        if name not in changed:  # changed ones follow the value (next tests)
            assert nec.uncertain[name] == rng, name


def test_time_series_values_are_sorted_points():
    slow = load_scenario("slowdown")
    assert slow.values["demand_growth_other_industry"] == ((2022.0, -0.03), (2026.0, 0.01))


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


def test_inherited_ranges_follow_the_values_a_child_changes(tmp_path):
    """A child that sets a parameter keeps the parent's range shifted by the change (bands are
    drawn around the child's own assumption), a time series drops it, and the child's own
    [uncertain] wins. Property over the shipped scenarios: every constant a scenario sets
    lies in its inherited range whenever the parent's value lay in the parent's."""
    from czsim.parameters import load_parameters

    table = load_parameters()
    base = czsim.load_scenario("baseline")
    slow = czsim.load_scenario("slowdown")
    lo, hi = base.uncertain["demand_growth_equipment"]
    shift = slow.values["demand_growth_equipment"] - base.values.get(
        "demand_growth_equipment", table["demand_growth_equipment"].default
    )
    assert slow.uncertain["demand_growth_equipment"] == pytest.approx((lo + shift, hi + shift))
    assert "demand_growth_other_industry" not in slow.uncertain  # a time series in slowdown
    (tmp_path / "child.toml").write_text(
        'name = "child"\nextends = "baseline"\n[parameters]\ndemand_growth_nev = 0.39\n'
        "capital_productivity = 1.3\n[uncertain]\ncapital_productivity = { low = 1.1, high = 1.5 }\n",
        encoding="utf-8",
    )
    child = czsim.load_scenario(tmp_path / "child.toml")
    nev_lo, nev_hi = base.uncertain["demand_growth_nev"]
    p = table["demand_growth_nev"]
    assert child.uncertain["demand_growth_nev"] == pytest.approx(
        (
            nev_lo + 0.39 - base.values.get("demand_growth_nev", p.default),
            min(p.high, nev_hi + 0.39 - 0.18),
        )
    )
    assert child.uncertain["capital_productivity"] == (1.1, 1.5)
    for path in sorted((paths.ROOT / "scenarios").glob("*.toml")):
        sc = czsim.load_scenario(path)
        if sc.parent is None:
            continue
        parent = czsim.load_scenario(sc.parent)
        for name, (low, high) in sc.uncertain.items():
            value = sc.values.get(name, table[name].default)
            before = parent.values.get(name, table[name].default)
            if name in parent.uncertain and isinstance(value, float | int):
                plo, phi = parent.uncertain[name]
                if plo <= before <= phi:
                    assert low - 1e-12 <= value <= high + 1e-12, (path.name, name)


def _settle(*files: Path) -> None:
    """Date files (and folders) a minute back, as if written long ago."""
    import os
    import time

    old = time.time() - 60
    for f in files:
        os.utime(f, (old, old))


def test_a_loaded_scenario_is_reused_until_a_file_of_its_chain_changes(tmp_path):
    parent = tmp_path / "mine.toml"
    child = tmp_path / "child.toml"
    parent.write_text('extends = "baseline"\n[parameters]\ndemand_growth_nev = 0.2\n')
    child.write_text('extends = "mine"\n[parameters]\nprice_growth = 0.02\n')
    _settle(parent, child, tmp_path)
    first = load_scenario(child)
    assert load_scenario(child) is first  # unchanged files: the same (frozen) object
    assert first.values["demand_growth_nev"] == 0.2
    parent.write_text('extends = "baseline"\n[parameters]\ndemand_growth_nev = 0.25\n')
    _settle(parent)  # an edit of the parent, even dated in the past, is seen
    again = load_scenario(child)
    assert again is not first and again.values["demand_growth_nev"] == 0.25
    assert again.values["price_growth"] == 0.02


def test_a_new_parent_beside_the_file_is_found_after_a_cached_load(tmp_path):
    child = tmp_path / "child.toml"
    child.write_text('extends = "plan"\n[parameters]\nprice_growth = 0.02\n')
    _settle(child, tmp_path)
    assert load_scenario(child).parent == "plan"
    (tmp_path / "plan.toml").write_text('name = "my plan"\n[parameters]\nprice_growth = 0.0\n')
    _settle(tmp_path / "plan.toml", tmp_path)
    assert load_scenario(child).parent == "my plan"  # the folder's entries changed


def test_files_written_just_now_are_read_again_every_time(tmp_path):
    child = tmp_path / "fresh.toml"
    child.write_text('extends = "baseline"\n[parameters]\nprice_growth = 0.02\n')
    first = load_scenario(child)
    assert load_scenario(child) is not first  # too recent for its stat to be trusted
    assert load_scenario(child) == first
