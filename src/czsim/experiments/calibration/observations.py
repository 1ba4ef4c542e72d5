"""The observed history and the observation operator that maps model results onto it.

See :mod:`czsim.experiments.calibration` for the columns and the observation kinds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from czsim import paths
from czsim.engines import model_info
from czsim.errors import CzsimError, DataError, ModelError, closest
from czsim.io import read_csv
from czsim.names import join_variable, split_variable
from czsim.parameters import load_parameters

DATA_DIR = paths.ROOT / "model" / "data"
OBSERVATIONS_FILE = DATA_DIR / "observations.csv"
SOURCES_FILE = DATA_DIR / "sources.csv"
CALIBRATED_FILE = paths.SCENARIO_DIR / "calibrated.toml"

KINDS = ("level", "share", "growth", "partial_level")
COLUMNS = ("id", "variable", "year", "value", "kind", "months", "bound", "sigma", "source", "note")

#: Parameters fitted by default: those marked ``calibrate = true`` in ``model/parameters.toml``
#: (see the package docstring for the reasons).
DEFAULT_PARAMETERS: tuple[str, ...] = tuple(
    p.name for p in load_parameters().values() if p.calibrate
)

#: Figures of ``shared/data/changzhou_observations_2012_2022.csv`` not compared with the model,
#: with the reason: ``model/data/excluded.csv`` (shown in the calibration report).
EXCLUDED_FILE = DATA_DIR / "excluded.csv"


def excluded_data() -> pd.DataFrame:
    """Return the observations left out of the fit and why (columns ``data``, ``why_not``)."""
    return read_csv(EXCLUDED_FILE, what="CSV of excluded observations")


# ----------------------------------------------------------------------------- observations


def load_observations(source: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """Read and validate observations.

    Parameters
    ----------
    source : path, DataFrame or None
        A CSV file with columns :data:`COLUMNS` (default ``model/data/observations.csv``), or
        an equivalent DataFrame (errors then name ``<observations>``).

    Returns
    -------
    pandas.DataFrame
        One row per observation: the CSV columns (``year`` int, ``value`` and ``sigma`` float,
        ``months`` float, NaN unless ``partial_level``; ``bound`` ``""`` or ``"lower"``) plus
        ``base`` (the model's real variable name), ``element`` (subscript element or ``""``),
        ``series`` (one label per variable, kind and months) and ``line`` (CSV line number;
        for a DataFrame the row number from 1).

    Raises
    ------
    CzsimError
        One line naming the file, line and ``<id>.<column>`` of the first bad entry: unknown
        model variable or element, year outside the model's time, growth in the first year,
        unknown kind, non-positive sigma, missing months, unknown source id, duplicate id.
    """
    if isinstance(source, pd.DataFrame):
        # Missing cells become empty text, as in a CSV read without NA conversion.
        frame, file = source.astype(object).where(source.notna(), "").astype(str), "<observations>"
        first_line = 1  # rows of a frame are numbered from 1
    else:
        file = Path(source) if source is not None else OBSERVATIONS_FILE
        frame = read_csv(file, what="CSV of observations")
        first_line = 2  # line 1 is the header
    missing = [
        c
        for c in COLUMNS
        if c not in frame.columns and c not in ("months", "bound", "note", "source")
    ]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}",
            file=file,
            line=1 if isinstance(file, Path) else None,
        )
    for c in ("months", "bound", "note", "source"):
        if c not in frame.columns:
            frame[c] = ""
    if frame.empty:
        raise CzsimError("no observations", file=file)
    known_sources = _source_ids(file)
    info = model_info(paths.MODEL_FILE)
    first, last = int(info.initial_time), int(info.final_time)
    rows, seen = [], set()
    for i, raw in enumerate(frame.to_dict("records")):
        line = i + first_line
        oid = str(raw["id"]).strip() or f"row{line}"

        def fail(msg: str, column: str, _oid: str = oid, _line: int = line) -> CzsimError:
            return DataError(msg, file=file, line=_line, key=f"{_oid}.{column}")

        if oid in seen:
            raise fail(f"duplicate id '{oid}'", "id")
        seen.add(oid)
        base, element = _check_variable(str(raw["variable"]).strip(), info, fail)
        kind = str(raw["kind"]).strip()
        if kind not in KINDS:
            raise fail(
                f"unknown kind '{kind}'{closest(kind, KINDS)}; one of {', '.join(KINDS)}", "kind"
            )
        year = _number(raw["year"], fail, "year")
        if not float(year).is_integer() or not first <= year <= last:
            raise fail(f"year {raw['year']} is outside the model's time {first}-{last}", "year")
        year = int(year)
        if kind == "growth" and year == first:
            raise fail(
                f"a growth in {first} needs the model's {first - 1} value, before it "
                f"starts; the first comparable growth is {first + 1}",
                "year",
            )
        value = _number(raw["value"], fail, "value")
        if kind == "share" and not 0 <= value <= 1:
            raise fail(f"a share is a fraction in [0, 1], got {value:g}", "value")
        sigma = _number(raw["sigma"], fail, "sigma")
        if not sigma > 0:
            raise fail(f"sigma must be positive (model units), got {sigma:g}", "sigma")
        months = math.nan
        if kind == "partial_level":
            months = _number(raw["months"], fail, "months")
            if not (float(months).is_integer() and 1 <= months <= 11):
                raise fail(
                    f"months is the number of months covered (1-11), got {raw['months']}", "months"
                )
        bound = str(raw["bound"]).strip()
        if bound not in ("", "lower"):
            raise fail(f"bound must be empty or 'lower', got '{bound}'", "bound")
        src = str(raw["source"]).strip()
        if known_sources is not None and src and src not in known_sources:
            raise fail(
                f"unknown source '{src}'{closest(src, known_sources)} (see sources.csv)", "source"
            )
        variable = join_variable(base, element)
        series = variable + {"growth": " growth", "partial_level": f" Jan-{months:.0f}m"}.get(
            kind, ""
        )
        rows.append(
            {
                "id": oid,
                "variable": variable,
                "year": year,
                "value": value,
                "kind": kind,
                "months": months,
                "bound": bound,
                "sigma": sigma,
                "source": src,
                "note": str(raw["note"]),
                "base": base,
                "element": element,
                "series": series,
                "line": line,
            }
        )
    return pd.DataFrame(rows)


def _source_ids(file: str | Path) -> set[str] | None:
    """Source ids from ``sources.csv`` beside an observations file (None if there is none)."""
    if not isinstance(file, Path):
        return None
    sources = file.parent / "sources.csv"
    if not sources.is_file():
        return None
    frame = read_csv(sources, what="CSV of sources")
    if "id" not in frame.columns:
        raise DataError("missing column id", file=sources, line=1)
    return set(frame["id"])


def _number(raw: object, fail: Callable[[str, str], CzsimError], column: str) -> float:
    try:
        value = float(str(raw).strip())
    except ValueError:
        raise fail(f"expected a number, got {raw!r}", column) from None
    if not math.isfinite(value):
        raise fail(f"expected a finite number, got {raw!r}", column)
    return value


def _check_variable(text: str, info, fail: Callable[[str, str], CzsimError]) -> tuple[str, str]:
    """Split ``Variable[element]`` and check both against the model."""
    split = split_variable(text)
    if split is None:
        raise fail(
            f"cannot read variable '{text}' (expected 'Name' or 'Name[element]')", "variable"
        )
    name, element = split[0], split[1] or ""
    try:
        var = info.lookup(name)
    except ModelError:
        raise fail(
            f"unknown model variable '{name}'{closest(name, info.variables)}", "variable"
        ) from None
    if var.type == "lookup":
        raise fail(f"'{var.name}' is a lookup table, not an output", "variable")
    if len(var.dims) > 1:
        raise fail(
            f"'{var.name}' has {len(var.dims)} subscripts; only one is supported", "variable"
        )
    if var.dims and not element:
        raise fail(
            f"'{var.name}' is subscripted by {var.dims[0]}: name one element, e.g. "
            f"'{var.name}[{info.ranges[var.dims[0]][0]}]'",
            "variable",
        )
    if element and not var.dims:
        raise fail(f"'{var.name}' has no subscripts, but [{element}] was given", "variable")
    if element:
        elements = info.ranges[var.dims[0]]
        match_el = [e for e in elements if e.lower() == element.lower()]
        if not match_el:
            raise fail(
                f"'{element}' is not an element of {var.dims[0]}{closest(element, elements)}",
                "variable",
            )
        element = match_el[0]
    return var.name, element


# ----------------------------------------------------------------------- observation operator


@dataclass(frozen=True)
class Operator:
    """Maps model output to observation space (see the module docstring).

    Attributes
    ----------
    variables : tuple of str
        Real names of the model variables to save.
    times : tuple of float
        Years to save (contiguous, from the model's initial time).
    rows : tuple of tuple
        Per observation ``(base, element_index or None, kind, t, t_ref, months)`` where ``t``
        and ``t_ref`` index ``times`` (``t_ref`` is the previous year, or the next year for a
        partial period in the first year; -1 when unused).
    """

    variables: tuple[str, ...]
    times: tuple[float, ...]
    rows: tuple[tuple, ...]

    @classmethod
    def build(cls, obs: pd.DataFrame) -> Operator:
        """Build the operator for the rows of :func:`load_observations`'s frame."""
        info = model_info(paths.MODEL_FILE)
        first = int(info.initial_time)
        last = max(int(obs["year"].max()), first + 1)
        times = tuple(float(y) for y in range(first, last + 1))
        rows = []
        for r in obs.itertuples():
            var = info.variables[r.base]
            elem = info.element_index(var.dims[0], r.element) if r.element else None
            t = int(r.year) - first
            if r.kind == "growth":
                t_ref = t - 1
            elif r.kind == "partial_level":
                t_ref = t - 1 if t > 0 else t + 1
            else:
                t_ref = -1
            rows.append((r.base, elem, r.kind, t, t_ref, r.months))
        variables = tuple(dict.fromkeys(r[0] for r in rows))
        return cls(variables=variables, times=times, rows=tuple(rows))

    def apply(self, data: Mapping[str, np.ndarray]) -> np.ndarray:
        """Model values in observation space.

        Parameters
        ----------
        data : mapping of str to ndarray
            Variable -> array ``(R, T, *dims)`` saved at :attr:`times`.

        Returns
        -------
        ndarray, shape (R, M)
            One column per observation row.
        """
        cols = []
        for base, elem, kind, t, t_ref, months in self.rows:
            arr = data[base]
            series = arr[..., elem] if elem is not None else arr  # (R, T)
            now = series[:, t]
            if kind == "growth":
                with np.errstate(divide="ignore", invalid="ignore"):
                    cols.append(now / series[:, t_ref] - 1.0)
            elif kind == "partial_level":
                delta = (months / 2.0 - 6.0) / 12.0
                with np.errstate(divide="ignore", invalid="ignore"):
                    factor = (now / series[:, t_ref]) if t_ref < t else (series[:, t_ref] / now)
                    cols.append(now * factor**delta * months / 12.0)
            else:
                cols.append(now)
        return np.column_stack(cols)
