"""The policy's targets (``model/targets.toml``) and the scorecard that evaluates them on results.

Pure computation: takes a results ``xarray.Dataset`` and returns a ``pandas.DataFrame``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from czsim import paths
from czsim.counters import pace
from czsim.engines.model_info import model_info
from czsim.errors import CzsimError, closest
from czsim.groups import check_group
from czsim.names import join_variable, split_variable
from czsim.tomlfile import key_lines, read_toml

COMPARATORS = (">=", ">", "<=", "approx")


@dataclass(frozen=True)
class Target:
    """One quantitative target of the policy.

    ``value`` is in the model variable's units (shares as fractions); ``unit`` is the display
    unit (``"%"`` means the value is shown times 100). ``tracked`` is false for targets no
    model variable carries (``reason`` says why); ``basis`` is ``"model"`` or ``"counter"``.
    """

    id: str
    label_zh: str
    label_en: str
    section: str
    group: str
    comparator: str
    value: float | None
    unit: str
    year: int
    tracked: bool = True
    variable: str | None = None
    element: str | None = None
    basis: str = "model"
    tolerance: float = 0.0
    reason: str = ""
    quote: str = ""
    note: str = ""

    def label(self, lang: str = "en") -> str:
        """Return the target's label in ``lang`` (``"zh"``: Chinese, otherwise English)."""
        return self.label_zh if lang == "zh" else self.label_en

    @property
    def full_variable(self) -> str | None:
        """The variable with its element, ``"Variable[element]"`` (``None`` without a variable)."""
        if self.variable is None:
            return None
        return join_variable(self.variable, self.element)

    @property
    def display_scale(self) -> float:
        """Factor from model units to display units: 100 for a share shown in %, else 1."""
        return 100.0 if self.unit == "%" else 1.0

    def reached(self, value: np.ndarray | float) -> np.ndarray:
        """Whether ``value`` (any shape) meets the target."""
        v = np.asarray(value, dtype=float)
        # Counters that land exactly on a target must not miss it by a rounding error of the
        # time integration: compare with a relative slack of 1e-9.
        slack = 1e-9 * max(1.0, abs(self.value))
        if self.comparator == ">=":
            return v >= self.value - slack
        if self.comparator == ">":
            return v > self.value + slack
        if self.comparator == "<=":
            return v <= self.value + slack
        return np.abs(v - self.value) <= self.tolerance + slack

    def gap(self, value: np.ndarray | float) -> np.ndarray:
        """Distance to the target, positive when it is met with room to spare (model units)."""
        v = np.asarray(value, dtype=float)
        if self.comparator in (">=", ">"):
            return v - self.value
        if self.comparator == "<=":
            return self.value - v
        return self.tolerance - np.abs(v - self.value)


def _parse(entry: dict, index: int, path: Path, lines: dict) -> Target:
    tid = entry.get("id")
    if not tid:
        raise CzsimError("a target without id", file=path, line=lines.get(("target", index)))
    check_group(
        entry.get("group", ""),
        file=path,
        line=lines.get(("target", index, "group")),
        key=f"{tid}.group",
    )
    comparator = entry.get("comparator", ">=")
    if comparator not in COMPARATORS:
        raise CzsimError(f"comparator must be one of {', '.join(COMPARATORS)}", file=path, key=tid)
    tracked = entry.get("tracked", True)
    variable = element = None
    if tracked:
        split = split_variable(entry.get("variable", ""))
        if split is None:
            raise CzsimError("a tracked target needs a variable", file=path, key=tid)
        variable, element = split
    return Target(
        id=tid,
        label_zh=entry["label_zh"],
        label_en=entry["label_en"],
        section=str(entry.get("section", "")),
        group=entry.get("group", ""),
        comparator=comparator,
        value=entry.get("value"),
        unit=entry.get("unit", ""),
        year=int(entry.get("year", 2025)),
        tracked=bool(tracked),
        variable=variable,
        element=element,
        basis=entry.get("basis", "model") if tracked else "untracked",
        tolerance=float(entry.get("tolerance", 0.0)),
        reason=entry.get("reason", ""),
        quote=entry.get("quote", ""),
        note=entry.get("note", ""),
    )


@cache
def _load(path: Path, mtime: float) -> tuple[Target, ...]:
    data = read_toml(path)
    lines = key_lines(path.read_text(encoding="utf-8"))
    targets = tuple(_parse(e, i, path, lines) for i, e in enumerate(data.get("target", [])))
    ids = [t.id for t in targets]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise CzsimError(f"duplicate target ids: {', '.join(dupes)}", file=path)
    _check_against_model(targets, path, lines)
    return targets


def _check_against_model(targets: tuple[Target, ...], path: Path, lines: dict) -> None:
    """Raise naming ``targets.toml``, line and key if a target names no model variable."""
    info = model_info(paths.MODEL_FILE)
    for index, target in enumerate(targets):
        if not target.tracked:
            continue
        line = lines.get(("target", index, "variable"))
        where = {"file": path, "line": line, "key": f"{target.id}.variable"}
        try:
            var = info.lookup(target.variable)
        except CzsimError:
            raise CzsimError(
                f"unknown model variable '{target.variable}'"
                f"{closest(target.variable, info.variables)}",
                **where,
            ) from None
        if target.element is not None:
            elements = [e for d in var.dims for e in info.ranges[d]]
            if len(var.dims) != 1 or target.element not in elements:
                raise CzsimError(
                    f"'{target.element}' is not an element of '{target.variable}'"
                    f"{closest(target.element, elements)}",
                    **where,
                )
        elif var.dims:
            raise CzsimError(
                f"'{target.variable}' is subscripted; name one element as "
                f"'{target.variable}[{info.ranges[var.dims[0]][0]}]'",
                **where,
            )


@dataclass(frozen=True)
class Headline:
    """The target a summary leads with, and the years over which sweeps follow it."""

    target: Target
    years: tuple[int, ...]


def headline(path: str | Path | None = None) -> Headline:
    """Return the ``[headline]`` of ``targets.toml``: its target and the years (inclusive)."""
    file = Path(path) if path else paths.TARGETS_FILE
    return _headline(file.resolve(), file.stat().st_mtime)


@cache
def _headline(file: Path, mtime: float) -> Headline:
    data = read_toml(file).get("headline", {})
    lines = key_lines(file.read_text(encoding="utf-8"))
    by_id = {t.id: t for t in load_targets(file)}
    if data.get("target") not in by_id:
        raise CzsimError(
            f"[headline] target must be a target id, got {data.get('target')!r}",
            file=file,
            line=lines.get(("headline", "target")),
            key="headline.target",
        )
    years = data.get("years", [])
    if not (isinstance(years, list) and len(years) == 2 and all(isinstance(y, int) for y in years)):
        raise CzsimError(
            "[headline] years must be [first, last]",
            file=file,
            line=lines.get(("headline", "years")),
            key="headline.years",
        )
    return Headline(by_id[data["target"]], tuple(range(years[0], years[1] + 1)))


def load_targets(path: str | Path | None = None) -> tuple[Target, ...]:
    """Read ``model/targets.toml`` (cached until the file changes)."""
    path = Path(path) if path else paths.TARGETS_FILE
    return _load(path.resolve(), path.stat().st_mtime)


def variable_series(result: xr.Dataset, variable: str, element: str | None) -> xr.DataArray:
    """Return ``variable`` (or one ``element`` of it) over time, dims ``(run, time)``."""
    da = result[variable]
    if element is not None:
        dim = next(d for d in da.dims if d not in ("run", "time"))
        da = da.sel({dim: element})
    return da


def target_series(result: xr.Dataset, target: Target) -> xr.DataArray:
    """Return the target's variable over time, dims ``(run, time)``."""
    return variable_series(result, target.variable, target.element)


def year_index(times: np.ndarray, year: float) -> int | None:
    """Return the position of ``year`` among the saved ``times``, or ``None`` if not saved."""
    at = np.flatnonzero(np.isclose(times, year))
    return int(at[0]) if at.size else None


def target_values(
    result: xr.Dataset, targets: Sequence[Target], *, run: int | None = None
) -> np.ndarray:
    """Gather every target's variable from ``result`` in one pass, in model units.

    Each variable's array is read once as a numpy view and indexed directly: selecting by
    label per target costs more than the simulation itself where the app and the uncertainty
    bands call this on every change.

    Parameters
    ----------
    result : xarray.Dataset
        Engine output, dims ``(run, time, ...)``.
    targets : sequence of Target
        Untracked targets and targets whose variable is not in ``result`` get NaN.
    run : int, optional
        Only this run (the leading axis is dropped).

    Returns
    -------
    numpy.ndarray
        ``(run, target, time)``, or ``(target, time)`` when ``run`` is given.
    """
    n_runs, n_times = result.sizes["run"], result.sizes["time"]
    arrays: dict[str, tuple[np.ndarray, xr.Variable]] = {}
    positions: dict[str, dict[str, int]] = {}
    out = np.full((n_runs if run is None else 1, len(targets), n_times), np.nan)
    pick = slice(None) if run is None else slice(run, run + 1)
    for k, target in enumerate(targets):
        if not target.tracked or target.variable not in result:
            continue
        if target.variable not in arrays:
            variable = result.variables[target.variable]  # a plain Variable: cheap to get
            arrays[target.variable] = (variable.transpose("run", "time", ...).values, variable)
        values, variable = arrays[target.variable]
        values = values[pick]
        if target.element is not None:
            dim = next(d for d in variable.dims if d not in ("run", "time"))
            if dim not in positions:
                elements = result.variables[dim].values.tolist()
                positions[dim] = {e: i for i, e in enumerate(elements)}
            values = values[:, :, positions[dim][target.element]]
        out[:, k, :] = values
    return out[0] if run is not None else out


def _first_year(times: np.ndarray, ok: np.ndarray) -> float:
    hits = np.flatnonzero(ok)
    return float(times[hits[0]]) if hits.size else math.nan


def scorecard(
    result: xr.Dataset, targets: Sequence[Target] | None = None, *, run: int = 0
) -> pd.DataFrame:
    """Evaluate every target on one run of ``result``.

    Parameters
    ----------
    result : xarray.Dataset
        Output of :func:`czsim.run` holding (at least) the targets' variables at their years.
    targets : sequence of Target, optional
        Defaults to all targets of ``model/targets.toml``.
    run : int
        Which run of ``result`` to score.

    Returns
    -------
    pandas.DataFrame
        One row per target (index ``id``) with its labels, ``basis`` (model / counter /
        untracked), ``target`` and ``value`` in display units (percent for shares), ``reached``
        (True/False; NA when untracked, not simulated or invalid), ``gap`` (display units,
        positive = met with room), ``first_year`` reached within the simulated years, and
        ``status``: ``reached``, ``missed``, ``untracked``, ``not in results`` (the variable
        or the target's year was not simulated: never "missed") or ``invalid`` (the model
        gave NaN or infinity: never reached or missed) or ``pace check`` (a counter target: the
        model does not explain it, so it is never "reached"; ``required_pace`` is the additions
        per year its target needs from the 2021 level, ``history_pace`` those seen in the data
        — NaN where there are none — and ``pace_ratio`` the one over the other).
    """
    targets = load_targets() if targets is None else tuple(targets)
    times = result["time"].values
    values = target_values(result, targets, run=run)
    at_year = {y: year_index(times, y) for y in {t.year for t in targets}}
    rows = []
    for k, t in enumerate(targets):
        scale = t.display_scale
        row = {
            "id": t.id,
            "group": t.group,
            "section": t.section,
            "label_zh": t.label_zh,
            "label_en": t.label_en,
            "basis": t.basis,
            "variable": t.full_variable,
            "comparator": t.comparator,
            "year": t.year,
            "unit": t.unit,
            "target": t.value * scale if t.value is not None else math.nan,
        }
        at = at_year[t.year]
        missing = dict(value=math.nan, reached=pd.NA, gap=math.nan, first_year=math.nan)
        if t.basis == "counter" and t.tracked and t.value is not None:
            check = pace(t.element, t.value, t.year)
            row.update(
                required_pace=check.required * scale,
                history_pace=math.nan if check.history is None else check.history * scale,
                pace_ratio=check.ratio,
            )
        if not t.tracked:
            row.update(missing, status="untracked")
        elif t.variable not in result or at is None:
            row.update(missing, status="not in results")
        elif not np.isfinite(values[k, at]):
            row.update(missing, status="invalid")
        elif t.basis == "counter":
            # A counter's level is whatever rate the scenario assumes: a pace check, never a verdict.
            row.update(missing, value=float(values[k, at]) * scale, status="pace check")
        else:
            series = values[k]
            value = float(series[at])
            ok = bool(t.reached(value))
            row.update(
                value=value * scale,
                reached=ok,
                gap=float(t.gap(value)) * scale,
                first_year=_first_year(times, t.reached(series)),
                status="reached" if ok else "missed",
            )
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("id")
    frame["reached"] = frame["reached"].astype("boolean")
    for column in ("required_pace", "history_pace", "pace_ratio"):
        if column not in frame:
            frame[column] = math.nan
    return frame


def probability_table(hits: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Share of runs that reach each target, with its binomial standard error.

    Parameters
    ----------
    hits : mapping of target id to array
        Per run, 1 (or True) where the target is reached, 0 where it is not.

    Returns
    -------
    pandas.DataFrame
        Index ``id``; columns ``probability``, ``stderr``, ``n_runs``.
    """
    rows = []
    for tid, values in hits.items():
        hit = np.asarray(values, dtype=float)
        p = float(hit.mean())
        rows.append(
            {
                "id": tid,
                "probability": p,
                "stderr": float(np.sqrt(p * (1.0 - p) / hit.size)),
                "n_runs": hit.size,
            }
        )
    return pd.DataFrame(rows, columns=["id", "probability", "stderr", "n_runs"]).set_index("id")


def probabilities(result: xr.Dataset, targets: Sequence[Target] | None = None) -> pd.DataFrame:
    """Share of runs in ``result`` that reach each tracked target in its year.

    Targets not in the results (or whose year was not simulated) are left out, and so are
    runs whose value is NaN or infinite (invalid: neither reached nor missed). Index ``id``;
    columns ``probability``, ``stderr`` (binomial), ``n_runs`` (the valid runs).
    """
    targets = load_targets() if targets is None else tuple(targets)
    times = result["time"].values
    values = target_values(result, targets)
    hits = {}
    for k, t in enumerate(targets):
        at = year_index(times, t.year)
        if t.tracked and t.variable in result and at is not None:
            finite = values[:, k, at][np.isfinite(values[:, k, at])]  # NaN runs are invalid
            if finite.size:
                hits[t.id] = t.reached(finite)
    return probability_table(hits)
