"""Run behaviour checks kept as data (``model/checks.toml``).

The checks are in the spirit of SDEverywhere's ``checks.yaml`` and Vensim's reality checks.

A check is a condition (a scenario, plus optional overrides of model variables, each from a
year on) and assertions on the result::

    [[check]]
    name = "zero_investment_from_2023"
    scenario = "baseline"
    set = [{ variable = "Industrial investment", value = 0, from = 2023 }]
    assert = [{ variable = "Capital", falls = true, from = 2024, to = 2030 }]

Every check also asserts that every variable stays finite. ``set`` entries either give a
``value`` or ``multiply`` the variable's path in the scenario run; before ``from`` the
variable follows its own equation exactly (the override is the scenario's own path on the
step grid). Overrides act on model variables directly, so a check may go outside the
parameter box (R&D x10). A check with ``sample`` runs an ensemble over the parameter box
instead (``"corners"``: all lows, all highs and each parameter alone at its low and its high;
``"uniform"``: ``n`` uniform draws over every parameter's full range).

Assertions (each on ``variable``, optionally one ``element``, over years ``from``..``to``):
``">=" / "<="`` a number or another variable (element by element), ``falls`` / ``rises``
(every year strictly below / above the year before), ``below_scenario`` / ``above_scenario``
(strictly below / above the same variable in a plain run of the named scenario), ``sum_of`` (the variable equals the sum
of another over its subscript), ``finite``. ``variable = "stocks"`` means every stock.
``expect = "fail"`` with a ``reason`` records a known weakness of the model: the test then
requires that the check still fails, so fixing the model forces the record to be updated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from czsim import engines, paths
from czsim.api import as_scenario, engine_inputs, run_many
from czsim.engines import TimeSeries, model_info
from czsim.errors import CzsimError
from czsim.parameters import load_parameters
from czsim.tomlfile import read_toml

CHECKS_FILE = paths.ROOT / "model" / "checks.toml"
_COMPARATORS = (
    ">=",
    "<=",
    "falls",
    "rises",
    "sum_of",
    "finite",
    "below_scenario",
    "above_scenario",
)
#: Relative slack of comparisons (floating-point noise of MIN and sums).
RTOL = 1e-9


class CheckError(CzsimError):
    """A malformed entry in checks.toml."""


@dataclass(frozen=True)
class Check:
    """One behaviour check of ``checks.toml``: its condition, assertions and expected outcome."""

    name: str
    description: str
    scenario: str
    sets: tuple[dict, ...]
    asserts: tuple[dict, ...]
    expect: str = "pass"
    reason: str = ""
    sample: str | None = None
    n: int = 0
    seed: int = 0


@dataclass
class CheckResult:
    """The result of one check: its failures and the number of runs it took."""

    check: Check
    failures: list[str] = field(default_factory=list)
    runs: int = 1

    @property
    def passed(self) -> bool:
        """Whether every assertion held (no failures)."""
        return not self.failures

    @property
    def as_expected(self) -> bool:
        """Whether the check passed or failed as its ``expect`` says."""
        return self.passed == (self.check.expect == "pass")


def load_checks(path: str | Path = CHECKS_FILE) -> list[Check]:
    """Read and validate the checks file."""
    raw = read_toml(path, error=CheckError)
    out = []
    for i, c in enumerate(raw.get("check", [])):
        name = c.get("name") or f"check {i + 1}"
        expect = c.get("expect", "pass")
        if expect not in ("pass", "fail"):
            raise CheckError(f"{name}: expect must be 'pass' or 'fail'", file=path)
        if expect == "fail" and not c.get("reason"):
            raise CheckError(f"{name}: an expected failure needs a reason", file=path)
        for a in c.get("assert", []):
            if "variable" not in a or not any(k in a for k in _COMPARATORS):
                raise CheckError(f"{name}: each assert needs variable and one of {_COMPARATORS}")
        for s in c.get("set", []):
            if "variable" not in s or ("value" in s) == ("multiply" in s):
                raise CheckError(f"{name}: each set needs variable and one of value/multiply")
        if c.get("sample") not in (None, "corners", "uniform"):
            raise CheckError(f"{name}: sample must be 'corners' or 'uniform'", file=path)
        out.append(
            Check(
                name=name,
                description=c.get("description", ""),
                scenario=c.get("scenario", "baseline"),
                sets=tuple(c.get("set", [])),
                asserts=tuple(c.get("assert", [])),
                expect=expect,
                reason=c.get("reason", ""),
                sample=c.get("sample"),
                n=int(c.get("n", 0)),
                seed=int(c.get("seed", 0)),
            )
        )
    return out


def stock_names(model: str | Path = paths.MODEL_FILE) -> list[str]:
    """Return the names of the model's stocks."""
    info = model_info(model)
    return [n for n, v in info.variables.items() if v.type == "stock"]


def _conditioned_run(check: Check, model: Path) -> xr.Dataset:
    """Run the check's scenario with its ``set`` overrides applied from their years."""
    info = model_info(model)
    scenario = as_scenario(check.scenario)
    constants, series = engine_inputs(scenario, model=model)
    dt = info.time_step
    grid = np.round(np.arange(info.initial_time, info.final_time + dt / 2, dt), 10)
    if check.sets:
        base = engines.run(
            model,
            constants=constants,
            series=series,
            variables=[s["variable"] for s in check.sets],
            times=grid,
        )
        for s in check.sets:
            var = info.lookup(s["variable"])
            if var.type == "stock":
                raise CheckError(f"{check.name}: cannot set a stock ({var.name})")
            path = base[var.name].isel(run=0).values  # (T, *dims)
            after = (grid >= float(s.get("from", info.initial_time)) - 1e-9).reshape(
                (-1,) + (1,) * (path.ndim - 1)
            )
            new = s["value"] if "value" in s else path * float(s["multiply"])
            values = np.where(after, new, path)
            constants.pop(var.name, None)
            series[var.name] = TimeSeries(times=grid, values=values)
    return engines.run(model, constants=constants, series=series)


def _sample_frame(check: Check) -> pd.DataFrame:
    table = load_parameters()
    params = list(table.values())
    lows = {p.name: p.low for p in params}
    highs = {p.name: p.high for p in params}
    if check.sample == "uniform":
        rng = np.random.default_rng(check.seed)
        return pd.DataFrame({p.name: rng.uniform(p.low, p.high, check.n) for p in params})
    defaults = {p.name: p.default for p in params}
    rows = [lows, highs]
    for p in params:
        rows.append({**defaults, p.name: p.low})
        rows.append({**defaults, p.name: p.high})
    return pd.DataFrame(rows)


def _select(da: xr.DataArray, spec: dict) -> xr.DataArray:
    if "element" in spec:
        da = da.sel({da.dims[-1]: spec["element"]})
    t0, t1 = spec.get("from"), spec.get("to")
    if t0 is not None or t1 is not None:
        da = da.sel(time=slice(t0, t1))
    return da


def _assert(result: xr.Dataset, spec: dict, stocks: Sequence[str], model: Path) -> list[str]:
    names = list(stocks) if spec["variable"] == "stocks" else [spec["variable"]]
    problems = []
    for name in names:
        da = _select(result[name], spec)
        v = da.values
        label = name + (f"[{spec['element']}]" if "element" in spec else "")
        if spec.get("finite") and not np.isfinite(v).all():
            problems.append(f"{label} not finite")
        for op in (">=", "<="):
            if op not in spec:
                continue
            bound = spec[op]
            if isinstance(bound, str):
                other = _select(result[bound], spec)
                b = other.values
            else:
                b = float(bound)
            slack = RTOL * np.maximum(np.abs(v), np.abs(b))
            bad = v < b - slack if op == ">=" else v > b + slack
            if np.any(bad):
                worst = float(v[bad].min() if op == ">=" else v[bad].max())
                problems.append(
                    f"{label} {op} {bound} violated ({int(bad.sum())} values, {worst:g})"
                )
        if "sum_of" in spec:
            other = _select(result[spec["sum_of"]], spec)
            total = other.sum(dim=other.dims[-1]).values
            if not np.allclose(v, total, rtol=1e-9, atol=0):
                problems.append(f"{label} != sum of {spec['sum_of']}")
        for key, word, sign in (("below_scenario", "below", 1), ("above_scenario", "above", -1)):
            if key in spec:
                ref = _select(czsim_run(spec[key], model, name), spec).values
                if not np.all(sign * v < sign * ref):
                    gap = float(np.max(sign * (v - ref)))
                    problems.append(f"{label} not {word} {spec[key]} (by {gap:.6g} at worst)")
        for op, sign in (("falls", -1), ("rises", 1)):
            if spec.get(op):
                yearly = da.sel(time=da.time[np.isclose(da.time % 1, 0)])
                diff = np.diff(yearly.values, axis=list(yearly.dims).index("time"))
                if not np.all(sign * diff > 0):
                    total = yearly.sum([d for d in yearly.dims if d != "time"])
                    pairs = zip(total.time.values, total.values.ravel(), strict=True)
                    series = ", ".join(f"{y:g}: {x:.4g}" for y, x in pairs)
                    problems.append(f"{label} does not {op[:-1]} every year ({series})")
    return problems


def czsim_run(scenario: str, model: Path, variable: str) -> xr.DataArray:
    """``variable`` in a plain run of ``scenario``."""
    constants, series = engine_inputs(as_scenario(scenario), model=model)
    return engines.run(model, constants=constants, series=series, variables=[variable])[variable]


def run_check(check: Check, model: str | Path = paths.MODEL_FILE) -> CheckResult:
    """Run one check and return its failures (an empty list: the check passed)."""
    model = Path(model)
    stocks = stock_names(model)
    if check.sample:
        frame = _sample_frame(check)
        result = run_many(check.scenario, frame, model=model)
        out = CheckResult(check, runs=len(frame))
    else:
        result = _conditioned_run(check, model)
        out = CheckResult(check)
    for name in result.data_vars:
        v = result[name].values
        if not np.isfinite(v).all():
            runs = np.unique(np.nonzero(~np.isfinite(v))[0])
            out.failures.append(f"{name} not finite in {runs.size} run(s), e.g. run {runs[0]}")
    for spec in check.asserts:
        out.failures.extend(_assert(result, spec, stocks, model))
    return out


def run_checks(
    names: Sequence[str] | None = None, path: str | Path = CHECKS_FILE
) -> list[CheckResult]:
    """Run every check (or those named) and return their results."""
    checks = load_checks(path)
    if names:
        checks = [c for c in checks if c.name in names]
    return [run_check(c) for c in checks]


def report(results: Sequence[CheckResult]) -> str:
    """One line per check: PASS / FAIL / XFAIL (known, with reason) / XPASS."""
    lines = []
    for r in results:
        tag = {
            (True, "pass"): "PASS",
            (False, "pass"): "FAIL",
            (False, "fail"): "XFAIL",
            (True, "fail"): "XPASS",
        }[(r.passed, r.check.expect)]
        lines.append(f"{tag:5} {r.check.name} ({r.runs} run(s))")
        lines += [f"      {f}" for f in r.failures]
        if r.check.expect == "fail":
            lines.append(f"      reason: {r.check.reason}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run_checks()))
