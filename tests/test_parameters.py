"""The parameter table agrees with the model and is usable as slider/sweep specs."""

from __future__ import annotations

import numpy as np
import pytest

from czsim import paths
from czsim.engines import model_info
from czsim.errors import ParameterError
from czsim.groups import load_groups
from czsim.parameters import load_parameters


@pytest.fixture(scope="module")
def table():
    return load_parameters()


def test_every_parameter_names_a_model_constant_and_its_default(table):
    info = model_info(paths.MODEL_FILE)
    for p in table.values():
        var = info.lookup(p.variable)
        assert var.type == "constant", f"{p.name}: {p.variable} is a {var.type}, not a constant"
        default = var.default
        if p.element is not None:
            assert len(var.dims) == 1, p.name
            default = default[info.element_index(var.dims[0], p.element)]
        assert float(default) == pytest.approx(p.default, rel=1e-12), (
            f"{p.name}: parameters.toml default {p.default} != model {float(default)}"
        )


def test_bounds_steps_labels_and_groups(table):
    assert len(table) > 100
    for p in table.values():
        assert p.low < p.high and p.low <= p.default <= p.high, p.name
        assert 0 < p.step <= p.high - p.low, p.name
        assert p.label_zh and p.label_en and p.units and p.source, p.name
        assert p.group in load_groups(), p.name
        assert p.kind in ("lever", "assumption"), p.name
        assert p.name.isidentifier(), p.name


def test_names_and_variables_are_unique(table):
    variables = [p.full_variable for p in table.values()]
    assert len(set(variables)) == len(variables)


def test_resolve_by_name_or_variable_and_suggest(table):
    assert table.resolve("Industrial investment growth").name == "industrial_investment_growth"
    assert table.resolve("Cluster demand growth[nev]").name == "demand_growth_nev"
    with pytest.raises(ParameterError, match="did you mean 'rd_intensity'"):
        table.resolve("rd_intensty")


@pytest.mark.parametrize(
    "value, message",
    [
        (True, "expected a number"),
        ("0.1", "expected a number"),
        (9.0, "outside the allowed range"),
        (float("nan"), "not a finite number"),
    ],
)
def test_check_refuses_bad_values(table, value, message):
    with pytest.raises(ParameterError, match=message):
        table["industrial_investment_growth"].check(value)


def test_check_accepts_ints_and_bounds(table):
    p = table["cloud_adoption_rate"]
    assert p.check(3000) == 3000.0
    assert p.check(p.low) == p.low and p.check(p.high) == p.high
    assert np.isfinite(p.check(p.default))


def test_counter_files_are_generated_from_counters_tsv():
    """The counters' numbers exist once (model/counters.tsv); the .mdl and plan are generated."""
    from czsim.counters import generated

    for path, text in generated().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run czsim counters"


def test_counter_parameters_have_whole_source_text(table):
    counters = [p for p in table.values() if p.group == "counters"]
    assert len(counters) == 49
    for p in counters:
        assert p.source.startswith("assumption: ") and "assumption: assumption" not in p.source
        assert p.label_en.startswith("Per year: ") and p.units.endswith("/Year")


def test_calibrated_parameters_are_flagged_in_the_table(table):
    from czsim.experiments.calibration import DEFAULT_PARAMETERS

    assert set(DEFAULT_PARAMETERS) == {p.name for p in table.values() if p.calibrate}
    assert len(DEFAULT_PARAMETERS) == 8


def test_every_source_reads_in_chinese_and_the_tooltip_uses_it(table):
    """Issue 15 (language): in Chinese mode a slider's tooltip gave its source in English. Every
    parameter now has a Chinese source text (counters: a Chinese line and the English
    reasoning of model/counters.tsv), and the tooltip shows the one of the chosen language."""
    import re

    from czsim.ui.levers import help_text

    cjk = re.compile(r"[\u4e00-\u9fff]")
    missing = [p.name for p in table.values() if not cjk.search(p.source_zh)]
    assert not missing, f"no Chinese source: {missing}"
    for p in list(table.values())[:3]:
        assert p.source_zh in help_text(p, "zh") and p.source not in help_text(p, "zh")
        assert p.source in help_text(p, "en")
        assert p.source_text("en") == p.source and p.source_text("zh") == p.source_zh
    counter = table["counter_new_national_clusters"]
    zh = help_text(counter, "zh")
    assert zh.count("假设") >= 1 and counter.source in zh  # Chinese line, English reasoning kept
