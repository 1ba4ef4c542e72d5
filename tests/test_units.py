"""Units: every equation's units agree with the units declared for it (pint arithmetic)."""

from __future__ import annotations

import pytest

import czsim
from czsim import paths, units
from czsim.engines import model_info


def test_every_equation_has_consistent_units():
    report = units.check_units()
    assert not report.mismatches, "\n".join(map(str, report.mismatches))
    assert len(report.checked) > 100
    # the counters carry one unit per element (model/counters.tsv); nothing else is skipped
    assert report.skipped == ["Counter initial", "Counter rate", "Policy counter"]


def test_parameter_table_units_are_the_model_units():
    info = model_info(paths.MODEL_FILE)
    for p in czsim.load_parameters().values():
        declared = info.lookup(p.variable).units
        if declared.startswith(units.SKIPPED_UNITS):
            continue
        assert units.same(units.parse(p.units), units.parse(declared)), p.name


MODEL = """{{UTF-8}}
g = 0.1
	~	1/Year
	~	|
dt years = 0.5
	~	Year
	~	|
S = INTEG({flow}, {init})
	~	亿元
	~	|
r = 3
	~	亿元/Year
	~	|
Out = {aux}
	~	Dmnl
	~	|
FINAL TIME = 2
	~	Year
	~	|
INITIAL TIME = 0
	~	Year
	~	|
SAVEPER = 1
	~	Year
	~	|
TIME STEP = 0.5
	~	Year
	~	|
"""


@pytest.mark.parametrize(
    "flow, init, aux, expected",
    [
        ("S * ((1 + g) ^ TIME STEP - 1) / TIME STEP", "10", "1", "exponent"),
        ("r", "r", "1", "INTEG initial value"),
        ("S", "10", "1", "INTEG flow"),
        ("r", "10", "g * TIME STEP + (Time - 2021)", "unlike units"),
        ("r", "10", "1 - EXP(-g)", "EXP"),
        ("r", "10", "S / r", "declared"),
    ],
)
def test_inconsistencies_are_caught(tmp_path, flow, init, aux, expected):
    path = tmp_path / "m.mdl"
    path.write_text(MODEL.format(flow=flow, init=init, aux=aux), encoding="utf-8")
    report = units.check_units(path)
    assert any(expected in m.message for m in report.mismatches), report.mismatches


def test_consistent_small_model_passes(tmp_path):
    path = tmp_path / "m.mdl"
    flow = "S * ((1 + g * dt years) ^ (TIME STEP / dt years) - 1) / TIME STEP"
    path.write_text(MODEL.format(flow=flow, init="r * dt years", aux="S / r / dt years"), "utf-8")
    assert units.check_units(path).mismatches == []
