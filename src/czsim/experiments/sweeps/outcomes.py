"""Sweep outcomes: what each needs from the model, and how a batch of runs reduces to them.

Each outcome names the model variables and years it needs; a batch of runs reduces to one
number per run (pure computation on the engine's ``xarray.Dataset``).

Outcome names
-------------
``industrial_scale_2025``
    ``Industrial scale`` in 2025 (亿元).
``cluster_<element>_2025``
    ``Cluster output[<element>]`` in 2025 (亿元), one per element of the ``Cluster`` range.
``scale_target_year``
    First simulated year (2022–2030) in which ``Industrial scale`` reaches the
    ``industrial_scale`` target (25000 亿元); runs that never do get ``2031`` (final year + 1).
``reached_<target id>``
    1.0 if the run meets that tracked target in its year, else 0.0.

Besides these scalars every sweep keeps the *main outcome* ``industrial_scale``: the
``Industrial scale`` series over :data:`MAIN_YEARS`, shape ``(runs, years)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import xarray as xr

from czsim import paths
from czsim.engines import model_info
from czsim.errors import CzsimError, closest
from czsim.names import join_variable
from czsim.targets import Target, headline, load_targets, variable_series, year_index

CLUSTER_VARIABLE = "Cluster output"


@dataclass(frozen=True)
class Main:
    """The main outcome, read from ``[headline]`` of ``model/targets.toml``.

    Attributes: ``name`` (the headline target's id, also the main outcome's name),
    ``variable``, ``years`` (of the series kept), ``scalar_year`` (the target's year: the
    year of the scalar outcomes), ``unit`` (display unit of the headline and cluster
    outcomes) and ``threshold`` (the target's value, used by ``scale_target_year``).
    """

    name: str
    variable: str
    years: tuple[int, ...]
    scalar_year: int
    unit: str
    threshold: float


@lru_cache(maxsize=1)
def main_outcome() -> Main:
    """Return the main outcome (the file is read on first use, never at import)."""
    h = headline()
    t = h.target
    return Main(t.id, t.variable, tuple(h.years), int(t.year), t.unit, float(t.value))


_LAZY = {
    "MAIN": "name",
    "SCALE_TARGET": "name",
    "MAIN_VARIABLE": "variable",
    "MAIN_YEARS": "years",
    "SCALAR_YEAR": "scalar_year",
    "UNIT": "unit",
}


def __getattr__(name: str):
    """Return ``MAIN``, ``MAIN_VARIABLE``, ``MAIN_YEARS``, ``SCALAR_YEAR`` or ``UNIT``.

    They are the fields of :func:`main_outcome`, computed on first access, so importing this module (as every Dask worker does to run a
    chunk) reads no project file: a worker needs nothing but the package.
    """
    if name in _LAZY:
        return getattr(main_outcome(), _LAZY[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class OutcomeSpec:
    """How one scalar outcome is read from a batch of runs.

    ``kind`` is ``"value"`` (the variable in ``year``), ``"reached"`` (the target met, 0/1)
    or ``"first_year"`` (first of the main years meeting ``target``, else last + 1).
    """

    name: str
    kind: str
    variable: str
    year: int
    element: str | None = None
    target: Target | None = None


@dataclass(frozen=True)
class OutcomePlan:
    """Everything a batch evaluation needs (plain data: it travels with Dask tasks).

    It holds the scalar outcomes to compute, the model variables and save times to request
    from the engine, and the main outcome.
    """

    specs: tuple[OutcomeSpec, ...]
    variables: tuple[str, ...]
    times: tuple[int, ...]
    main: Main


def _cluster_elements(model: str | Path | None) -> tuple[str, ...]:
    info = model_info(model or paths.MODEL_FILE)
    return info.ranges[info.lookup(CLUSTER_VARIABLE).dims[0]]


def _all_specs(model: str | Path | None = None) -> dict[str, OutcomeSpec]:
    m = main_outcome()
    targets = {t.id: t for t in load_targets()}
    scale = targets[m.name]
    year = m.scalar_year
    specs = [OutcomeSpec(f"{m.name}_{year}", "value", m.variable, year)]
    specs += [
        OutcomeSpec(f"cluster_{e}_{year}", "value", CLUSTER_VARIABLE, year, e)
        for e in _cluster_elements(model)
    ]
    specs.append(OutcomeSpec("scale_target_year", "first_year", m.variable, year, target=scale))
    specs += [
        OutcomeSpec(f"reached_{t.id}", "reached", t.variable, t.year, t.element, t)
        for t in targets.values()
        if t.tracked
    ]
    return {s.name: s for s in specs}


def list_outcomes(model: str | Path | None = None) -> list[str]:
    """Names of every scalar outcome a sweep can compute, in display order."""
    return list(_all_specs(model))


def scale_threshold() -> float:
    """Return the headline target's value (in :data:`UNIT`) used by ``scale_target_year``."""
    return main_outcome().threshold


def plan_outcomes(
    outcomes: Sequence[str] | None, model: str | Path | None = None
) -> tuple[list[str], OutcomePlan]:
    """Resolve requested outcome names and plan the engine request.

    Every ``reached_*`` outcome is always computed (target probabilities cover every
    tracked target), whatever ``outcomes`` selects for the sensitivity indices.

    Parameters
    ----------
    outcomes : sequence of str, optional
        Outcomes to analyse; default all of :func:`list_outcomes`.

    Returns
    -------
    analysed : list of str
        The outcomes to compute indices for, in the order given.
    plan : OutcomePlan

    Raises
    ------
    CzsimError
        An unknown outcome name (with the closest known name) or an empty list.
    """
    specs = _all_specs(model)
    if outcomes is None:
        analysed = list(specs)
    else:
        analysed = list(dict.fromkeys(outcomes))
        if not analysed:
            raise CzsimError("no outcomes given", key="outcomes")
        for name in analysed:
            if name not in specs:
                raise CzsimError(
                    f"unknown outcome '{name}'{closest(name, specs)}; "
                    "see czsim.experiments.sweeps.list_outcomes()",
                    key=name,
                )
    chosen = [specs[n] for n in analysed]
    chosen += [s for s in specs.values() if s.kind == "reached" and s.name not in analysed]
    m = main_outcome()
    variables = dict.fromkeys([m.variable, *(s.variable for s in chosen)])
    times = sorted({*m.years, *(s.year for s in chosen)})
    return analysed, OutcomePlan(tuple(chosen), tuple(variables), tuple(times), m)


def outcome_attrs(plan: OutcomePlan) -> dict[str, dict[str, str]]:
    """Dataset attributes (description, units) of the main outcome and each planned one."""
    m = plan.main
    out = {m.name: {"description": f"{m.variable} each year", "units": m.unit}}
    for spec in plan.specs:
        variable = join_variable(spec.variable, spec.element)
        if spec.kind == "value":
            out[spec.name] = {"description": f"{variable} in {spec.year}", "units": m.unit}
        elif spec.kind == "first_year":
            out[spec.name] = {
                "description": f"first year with {variable} >= {spec.target.value:g}; "
                f"{m.years[-1] + 1} = not reached by {m.years[-1]}",
                "units": "year",
            }
        else:
            out[spec.name] = {
                "description": f"1 if target '{spec.target.id}' "
                f"({spec.target.label_en}) is reached in "
                f"{spec.year}, else 0",
                "units": "1",
            }
    return out


def reduce_outcomes(result: xr.Dataset, plan: OutcomePlan) -> dict[str, np.ndarray]:
    """Reduce a batch of runs to outcome arrays.

    Parameters
    ----------
    result : xarray.Dataset
        Engine output with dims ``(run, time, ...)`` holding ``plan.variables`` at
        ``plan.times``.

    Returns
    -------
    dict of str to numpy.ndarray
        :data:`MAIN` -> ``(R, len(MAIN_YEARS))`` float64 (亿元) and each scalar outcome of
        ``plan.specs`` -> ``(R,)`` float64.
    """
    m = plan.main
    times = result["time"].values
    main = result[m.variable].sel(time=list(m.years)).values.astype(float)
    out: dict[str, np.ndarray] = {m.name: main}
    for spec in plan.specs:
        if spec.kind == "first_year":
            ok = spec.target.reached(main)
            first = np.asarray(m.years, dtype=float)[ok.argmax(axis=1)]
            out[spec.name] = np.where(ok.any(axis=1), first, m.years[-1] + 1.0)
            continue
        at = year_index(times, spec.year)
        if at is None:
            raise CzsimError(f"year {spec.year} not among the simulated times", key=spec.name)
        values = variable_series(result, spec.variable, spec.element).values[:, at].astype(float)
        out[spec.name] = (
            spec.target.reached(values).astype(float) if spec.kind == "reached" else values
        )
    return out
