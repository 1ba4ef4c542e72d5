"""The targets table covers the policy, names real model variables, and the scorecard scores."""

from __future__ import annotations

import csv

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import czsim
from czsim import paths
from czsim.engines import model_info
from czsim.targets import Target, load_targets, scorecard

CLUSTERS = (
    "equipment",
    "new_energy",
    "new_materials",
    "nev",
    "steel",
    "textiles",
    "electronics",
    "biomedicine",
    "building_materials",
    "environmental",
)


def test_about_ninety_targets_with_unique_ids_and_both_languages():
    targets = load_targets()
    assert len(targets) >= 90
    for t in targets:
        assert t.label_zh and t.label_en and t.section, t.id
        assert t.tracked or t.reason, f"{t.id}: untracked without a reason"


def test_every_tracked_target_names_a_model_variable_and_element():
    info = model_info(paths.MODEL_FILE)
    for t in load_targets():
        if not t.tracked:
            continue
        var = info.lookup(t.variable)
        if t.element is not None:
            info.element_index(var.dims[0], t.element)
        else:
            assert var.dims == (), f"{t.id}: {t.variable} is subscripted; name an element"


def test_headline_and_all_ten_cluster_targets_are_modelled():
    by_variable = {t.full_variable: t for t in load_targets() if t.tracked}
    assert by_variable["Industrial scale"].value == 25000
    for c in CLUSTERS:
        assert by_variable[f"Cluster output[{c}]"].basis == "model"


def test_counters_table_matches_model_and_no_scenario_sets_a_counter_to_its_target():
    with open(paths.ROOT / "model" / "counters.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    info = model_info(paths.MODEL_FILE)
    elements = info.ranges["Counter"]
    assert tuple(r["element"] for r in rows) == elements
    initial = info.lookup("Counter initial").default
    rate = info.lookup("Counter rate").default
    for i, r in enumerate(rows):
        assert initial[i] == pytest.approx(float(r["initial_2021"]))
        assert rate[i] == pytest.approx(float(r["baseline_rate"]))
    for name in czsim.list_scenarios():  # a lever equal to its target's pace says nothing
        assert not any(k.startswith("counter_") for k in czsim.load_scenario(name).values), name
    counter_targets = {t.element for t in load_targets() if t.basis == "counter"}
    assert counter_targets == set(elements)


def _toy_result(values):
    times = np.arange(2021.0, 2031.0)
    return xr.Dataset(
        {"X": (("run", "time"), np.asarray(values, dtype=float)[None, :])},
        coords={"run": [0], "time": times},
    )


@pytest.mark.parametrize(
    "comparator, target, reached, gap, first",
    [
        (">=", 15.0, True, 0.0, 2025),
        (">", 15.0, False, 0.0, 2026),
        ("<=", 12.0, False, -3.0, 2021),
        ("approx", 14.0, True, 0.0, 2023),
    ],
)
def test_scorecard_semantics(comparator, target, reached, gap, first):
    values = np.arange(11.0, 21.0)  # 2021 -> 11, 2025 -> 15
    t = Target(
        id="x",
        label_zh="x",
        label_en="x",
        section="",
        group="scale",
        comparator=comparator,
        value=target,
        unit="",
        year=2025,
        variable="X",
        tolerance=1.0 if comparator == "approx" else 0.0,
    )
    card = scorecard(_toy_result(values), (t,))
    row = card.loc["x"]
    assert bool(row["reached"]) is reached
    assert row["gap"] == pytest.approx(gap)
    assert row["first_year"] == first
    assert row["status"] == ("reached" if reached else "missed")


def test_share_targets_are_shown_in_percent_and_untracked_listed(scenario_results):
    card = scorecard(scenario_results["baseline"])
    share = card.loc["tech_retrofit_share"]
    assert share["target"] == pytest.approx(60.0)
    assert 40 < share["value"] < 80
    untracked = card[card["status"] == "untracked"]
    assert len(untracked) >= 1 and untracked["reached"].isna().all()
    assert set(card["basis"]) == {"model", "counter", "untracked"}


def test_probabilities_count_runs():
    times = np.arange(2021.0, 2031.0)
    data = np.tile(np.arange(10.0, 20.0), (4, 1)) + np.array([[1.0], [2.0], [-1.0], [0.0]])
    ds = xr.Dataset({"X": (("run", "time"), data)}, coords={"run": range(4), "time": times})
    t = Target(
        id="x",
        label_zh="x",
        label_en="x",
        section="",
        group="scale",
        comparator=">=",
        value=15.0,
        unit="",
        year=2025,
        variable="X",
    )
    probs = czsim.probabilities(ds, (t,))
    assert probs.loc["x", "probability"] == 0.5
    assert probs.loc["x", "stderr"] == pytest.approx(0.25)
    assert isinstance(probs, pd.DataFrame)


def test_targets_module_is_importable_as_a_module():
    import czsim.targets as T

    assert T.load_targets() and callable(czsim.target_table)


def _edited_targets(tmp_path, old: str, new: str):
    text = paths.TARGETS_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "targets.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path, text[: text.index(old)].count("\n") + 1


def test_unknown_target_variable_names_file_line_and_key(tmp_path):
    path, line = _edited_targets(
        tmp_path, 'variable = "Industrial scale"', 'variable = "Industrial scal"'
    )
    with pytest.raises(czsim.CzsimError) as err:
        load_targets(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line} [industrial_scale.variable]")
    assert "did you mean 'Industrial scale'" in message


def test_unknown_target_element_and_group_are_refused(tmp_path):
    path, line = _edited_targets(
        tmp_path, 'variable = "Cluster output[nev]"', 'variable = "Cluster output[nevv]"'
    )
    with pytest.raises(czsim.CzsimError, match=rf":{line} .*'nevv' is not an element"):
        load_targets(path)
    path, line = _edited_targets(tmp_path, 'group = "scale"', 'group = "scales"')
    with pytest.raises(czsim.CzsimError, match=rf":{line} .*unknown group 'scales'"):
        load_targets(path)


def test_headline_comes_from_targets_toml():
    from czsim.targets import headline

    head = headline()
    assert head.target.id == "industrial_scale" and head.years[0] == 2022
    assert head.years[-1] == 2030


def test_targets_of_years_not_simulated_are_not_in_results_never_missed():
    card = scorecard(czsim.run("plan", times=[2021, 2022]))
    tracked_2025 = card[(card["year"] == 2025) & (card["basis"] != "untracked")]
    assert len(tracked_2025) > 10
    assert set(tracked_2025["status"]) == {"not in results"}
    assert tracked_2025["reached"].isna().all()


def test_a_nan_result_is_invalid_never_reached_or_missed():
    result = czsim.run("baseline").copy(deep=True)
    result["Industrial scale"].loc[{"time": 2025}] = np.nan
    card = scorecard(result)
    assert card.loc["industrial_scale", "status"] == "invalid"
    assert pd.isna(card.loc["industrial_scale", "reached"])
    assert "industrial_scale" not in czsim.probabilities(result).index


def test_counter_targets_are_pace_checks_never_reached():
    for name in ("baseline", "plan"):
        card = scorecard(czsim.run(name))
        counters = card[card["basis"] == "counter"]
        assert len(counters) == 49
        assert set(counters["status"]) == {"pace check"} and counters["reached"].isna().all()
        assert counters["required_pace"].notna().all()
        model = card[card["basis"] == "model"]
        assert model["required_pace"].isna().all()
    with_data = counters[counters["history_pace"].notna()]
    assert set(with_data.index) == {"gazelle_firms", "unicorn_firms"}
    # unicorns: 31 at end-2021 (data), target 50 by 2025 -> 4.75 a year; 13 a year in 2022
    assert counters.loc["unicorn_firms", "required_pace"] == pytest.approx((50 - 31) / 4)
    assert counters.loc["unicorn_firms", "pace_ratio"] == pytest.approx(4.75 / 13)
