"""Check the units of the model's equations.

Units check of the model: every equation's units, computed from its parts, must equal the
units declared for it (pint does the arithmetic of units).

Rules (those of Vensim's units check, with numbers handled as Vensim does by default):

- A number takes the units its context needs where quantities are added, subtracted,
  compared or chosen between (``x + 1``, ``MAX(0, x)``, ``Time < 2022``,
  ``IF THEN ELSE(c, x, 0)``); in a product, quotient or exponent it is dimensionless.
- ``a ^ b``: ``b`` must be dimensionless; a non-number exponent needs a dimensionless base.
- ``EXP``, ``LN``, ``LOG``: dimensionless argument. ``MIN``/``MAX``/``XIDZ`` alternatives and
  ``IF THEN ELSE`` branches have equal units; ``ZIDZ(a, b)`` is ``a / b``; ``SUM`` keeps its
  argument's units.
- ``INTEG(flow, initial)``: ``flow`` has the stock's units per Year, ``initial`` the stock's.
  ``SMOOTH*``/``DELAY*``: the delay time is in Years; the result has the input's units.
- ``Time`` and the control variables are in Years.

Variables declared in "target units" (the counters: their unit is per element, see
model/counters.tsv) are not checked; :data:`SKIPPED_UNITS` lists them.

``python -m czsim.units`` prints the mismatches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from czsim import paths
from czsim.engines.model_info import abstract_section, normalize

#: Unit strings of the model -> pint names (pint wants identifiers; Vensim writes Dmnl).
_NAMES = {"亿元": "yi", "Dmnl": "dimensionless"}
#: Units of the model's own vocabulary, each its own dimension (counts are not convertible).
_BASE = ("yi", "Year", "firm", "patent", "project", "factory", "workshop", "platform", "station")
#: Elements whose unit is per element (counters); not checked.
SKIPPED_UNITS = ("target units",)


class _Wild:
    """A number in an additive context: takes the other operand's units."""

    def __repr__(self) -> str:
        return "<number>"


WILD = _Wild()


@cache
def registry():
    """Return the pint unit registry with the model's own units, each its own dimension."""
    import pint

    ureg = pint.UnitRegistry(None)
    for base in _BASE:
        plural = {"factory": "factories"}.get(base, base + "s")
        ureg.define(f"{base} = [{base}] = _ = {plural}")
    return ureg


def parse(text: str):
    """Parse a Vensim unit string into pint units (``"亿元/Year"``, ``"Dmnl"``, ``"Year [0,?]"``)."""
    text = re.sub(r"\[.*\]", "", text).strip()
    for k, v in _NAMES.items():
        text = text.replace(k, v)
    return registry().parse_units(text or "dimensionless")


def same(a, b) -> bool:
    """Return whether units ``a`` and ``b`` are equal (a number matches any units)."""
    if a is WILD or b is WILD:
        return True
    q = (1 * a / b).to_base_units()
    return q.dimensionless and abs(q.magnitude - 1) < 1e-12


def _show(u) -> str:
    return "number" if u is WILD else (f"{u:~}" or "Dmnl")


@dataclass
class Mismatch:
    """A units problem found in one variable's equation."""

    variable: str
    message: str

    def __str__(self) -> str:
        """Return ``"variable: message"``."""
        return f"{self.variable}: {self.message}"


class _Checker:
    def __init__(self, units: dict[str, object], name: str, problems: list[Mismatch]):
        self.units = units
        self.name = name
        self.problems = problems
        self.year = registry().parse_units("Year")
        self.one = registry().parse_units("dimensionless")

    def fail(self, message: str) -> None:
        self.problems.append(Mismatch(self.name, message))

    def agree(self, a, b, what: str):
        if not same(a, b):
            self.fail(f"{what}: {_show(a)} vs {_show(b)}")
            return a if b is WILD else b
        return b if a is WILD else a

    def dimless(self, u, what: str) -> None:
        if u is not WILD and not same(u, self.one):
            self.fail(f"{what} must be dimensionless, is {_show(u)}")

    def mul(self, u):
        return self.one if u is WILD else u

    def of(self, ast):
        from pysd.translators.structures import abstract_expressions as ae

        if isinstance(ast, bool):
            return WILD
        if isinstance(ast, (int, float)):
            return WILD
        if isinstance(ast, ae.ReferenceStructure):
            key = ast.reference
            if key in ("time", "time_step", "initial_time", "final_time", "saveper"):
                return self.year
            return self.units[key]
        if isinstance(ast, ae.ArithmeticStructure):
            args = [self.of(a) for a in ast.arguments]
            if len(args) == 1:  # negative
                return args[0]
            acc = args[0]
            for op, (arg_ast, u) in zip(
                ast.operators, list(zip(ast.arguments, args, strict=True))[1:], strict=True
            ):
                if op in "+-":
                    acc = self.agree(acc, u, f"'{op}' of unlike units")
                elif op == "*":
                    acc = self.mul(acc) * self.mul(u)
                elif op == "/":
                    acc = self.mul(acc) / self.mul(u)
                elif op == "^":
                    self.dimless(u, "an exponent")
                    if isinstance(arg_ast, (int, float)):
                        acc = self.mul(acc) ** float(arg_ast)
                    else:
                        self.dimless(acc, "the base of a non-number exponent")
                        acc = self.one
            return acc
        if isinstance(ast, ae.LogicStructure):
            args = [self.of(a) for a in ast.arguments]
            for op, u in zip(ast.operators, args[1:], strict=True):
                if op not in (":AND:", ":OR:", ":NOT:"):
                    self.agree(args[0], u, f"comparison '{op}' of unlike units")
            return WILD
        if isinstance(ast, ae.CallStructure):
            return self.call(ast.function.reference, ast.arguments)
        if isinstance(ast, ae.IntegStructure):
            return self.of(ast.initial)
        if isinstance(ast, ae.SmoothStructure):
            self.agree(self.of(ast.smooth_time), self.year, "a smoothing time")
            return self.agree(self.of(ast.input), self.of(ast.initial), "SMOOTH initial value")
        if isinstance(ast, (ae.DelayStructure, ae.DelayFixedStructure)):
            self.agree(self.of(ast.delay_time), self.year, "a delay time")
            return self.agree(self.of(ast.input), self.of(ast.initial), "DELAY initial value")
        if isinstance(ast, ae.InitialStructure):
            return self.of(ast.initial)
        raise NotImplementedError(f"units of {type(ast).__name__} in {self.name}")

    def call(self, fname: str, arguments):
        u = [self.of(a) for a in arguments]
        if fname in ("exp", "ln", "log", "sin", "cos", "tan"):
            for x in u:
                self.dimless(x, f"the argument of {fname.upper()}")
            return self.one
        if fname in ("min", "max", "vmin", "vmax"):
            return self.agree(u[0], u[-1], f"{fname.upper()} of unlike units")
        if fname in ("abs", "integer", "sum"):
            return u[0]
        if fname == "if_then_else":
            return self.agree(u[1], u[2], "IF THEN ELSE branches of unlike units")
        if fname == "zidz":
            return self.mul(u[0]) / self.mul(u[1])
        if fname == "xidz":
            return self.agree(self.mul(u[0]) / self.mul(u[1]), u[2], "XIDZ alternative")
        if fname == "step":
            self.agree(u[1], self.year, "the time of STEP")
            return u[0]
        raise NotImplementedError(f"units of function {fname} in {self.name}")


@dataclass
class UnitsReport:
    """The result of a units check: the mismatches and the checked and skipped variables."""

    mismatches: list[Mismatch]
    checked: list[str]
    skipped: list[str]


def check_units(model: str | Path = paths.MODEL_FILE) -> UnitsReport:
    """Compute every equation's units and compare them with the declared units."""
    from pysd.translators.structures import abstract_expressions as ae
    from pysd.translators.structures import abstract_model as am

    section, _ = abstract_section(model)
    declared: dict[str, object] = {}
    skipped: list[str] = []
    problems: list[Mismatch] = []
    elements = [e for e in section.elements if not isinstance(e, am.AbstractControlElement)]
    for el in elements:
        text = (el.units or "").strip()
        if any(text.startswith(s) for s in SKIPPED_UNITS):
            skipped.append(el.name)
            continue
        try:
            declared[normalize(el.name)] = parse(text)
        except Exception as err:  # pint raises several types for unknown names
            problems.append(Mismatch(el.name, f"cannot read units '{text}': {err}"))
    checked = []
    for el in elements:
        key = normalize(el.name)
        if key not in declared or el.name.upper() in ("INITIAL TIME", "FINAL TIME"):
            continue
        checker = _Checker(declared, el.name, problems)
        want = declared[key]
        for comp in el.components:
            ast = comp.ast
            if isinstance(ast, (int, float)) or not hasattr(ast, "__dict__"):
                continue  # a number or a list of numbers: its units are the declared ones
            try:
                if isinstance(ast, ae.IntegStructure):
                    checker.agree(checker.of(ast.flow), want / checker.year, "INTEG flow")
                    checker.agree(checker.of(ast.initial), want, "INTEG initial value")
                else:
                    checker.agree(checker.of(ast), want, "equation vs declared units")
            except KeyError as err:  # a reference to an unchecked (skipped) variable
                problems.append(
                    Mismatch(el.name, f"uses {err.args[0]}, whose units are not checked")
                )
        checked.append(el.name)
    return UnitsReport(problems, checked, skipped)


if __name__ == "__main__":
    rep = check_units()
    print(f"{len(rep.checked)} elements checked, {len(rep.skipped)} skipped: {rep.skipped}")
    for m in rep.mismatches:
        print(m)
