"""Planner units for parameters: growth rates and shares as %, firms per year as 家/年.

The model keeps its own units (``1/Year``, ``Dmnl`` fractions); the app shows and takes
values scaled by :func:`display`. Every conversion goes through here so a widget and the
edits it records never disagree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from czsim.parameters import Parameter

#: Model unit -> (zh, en) planner unit, for the units that are not scaled.
_PER_YEAR = {
    "firms": ("家/年", "firms/yr"),
    "家": ("家/年", "firms/yr"),
    "factories": ("家/年", "factories/yr"),
    "个": ("个/年", "per yr"),
    "项": ("项/年", "projects/yr"),
    "名": ("名/年", "people/yr"),
    "件": ("件/年", "items/yr"),
    "万户": ("万户/年", "10k households/yr"),
    "platforms": ("个/年", "platforms/yr"),
    "stations": ("个/年", "stations/yr"),
    "projects": ("项/年", "projects/yr"),
}
_COUNTS = {"firms", "家", "factories", "个", "项", "名", "件", "platforms", "stations", "projects"}


def is_count(unit: str) -> bool:
    """Return whether ``unit`` counts whole things (firms, projects): shown without fractions."""
    return unit.strip() in _COUNTS


@dataclass(frozen=True)
class Display:
    """How one parameter is shown: ``shown = model value × scale`` in ``unit``."""

    scale: float
    unit_zh: str
    unit_en: str
    whole: bool = False  # counts of firms, projects: no fractions

    def unit(self, lang: str) -> str:
        """Return the unit in ``lang``: Chinese for ``"zh"``, English otherwise."""
        return self.unit_zh if lang == "zh" else self.unit_en


def display(p: Parameter) -> Display:
    """Return the planner display of parameter ``p``, derived from its units and range."""
    units = p.units
    if units in ("1/Year", "fraction/Year"):
        return Display(100.0, "%/年", "%/yr")
    if units == "Dmnl" and p.high <= 1.0 and "elasticity" not in p.name:
        return Display(100.0, "%", "%")
    if units == "Dmnl":
        return Display(1.0, "倍", "×")
    if units == "Year":
        return Display(1.0, "年", "years")
    head, _, tail = units.partition("/")
    if tail == "Year" and head in _PER_YEAR:
        zh, en = _PER_YEAR[head]
        return Display(1.0, zh, en, whole=head in _COUNTS)
    return Display(1.0, units, units)


def to_display(p: Parameter, value: float) -> float:
    """``value`` (model units) as shown."""
    return round(float(value) * display(p).scale, 10)


def from_display(p: Parameter, shown: float) -> float:
    """Convert a shown value back to model units (rounded so 12.0 % is exactly 0.12)."""
    return round(float(shown) / display(p).scale, 10)


def decimals(x: float) -> int:
    """Decimals needed to write ``x`` exactly (up to 6)."""
    for d in range(7):
        if math.isclose(round(x, d), x, rel_tol=0, abs_tol=1e-9 * max(1.0, abs(x))):
            return d
    return 6


def widget_step(p: Parameter, *values: float) -> float:
    """Return the step of ``p``'s widget in display units.

    The table's step, made finer when a value shown (a calibrated 13.175 %) is not on its grid,
    so nothing snaps.
    """
    scale = display(p).scale
    step = round(p.step * scale, 10)
    low = p.low * scale
    for v in values:
        if not math.isclose((v - low) / step, round((v - low) / step), abs_tol=1e-6):
            step = min(step, 10.0 ** -decimals(v))
    return step


def widget_format(step: float, *values: float) -> str:
    """Return a printf format with as many decimals as the step or the values need."""
    d = max([decimals(step), *(decimals(v) for v in values)])
    return f"%.{d}f"


def shown_text(p: Parameter, value: float, lang: str) -> str:
    """Write a model value in planner units: ``12 %/年``."""
    v = to_display(p, value)
    unit = display(p).unit(lang)
    return f"{v:,.{decimals(v)}f}{'' if unit.startswith('%') else ' '}{unit}"
