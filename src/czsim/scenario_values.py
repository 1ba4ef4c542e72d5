"""Checks of one value written in a scenario: text, numbers, ranges, years and time series.

Each returns the value in the form a :class:`czsim.scenarios.Scenario` holds, or raises a
:class:`czsim.errors.ScenarioError` / :class:`czsim.errors.ParameterError` naming the file,
line and key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from czsim.errors import ScenarioError
from czsim.parameters import ParameterTable, is_number

#: A value is a constant or a time series: ``((year, value), ...)`` sorted by year.
Value = float | tuple[tuple[float, float], ...]


def check_text(value: object, key: str, *, limit: int | None = None, file=None, line=None) -> str:
    """Return ``value``, checked to be text (of at most ``limit`` characters, if given)."""
    if not isinstance(value, str):
        raise ScenarioError(
            f"{key} must be text, got {type(value).__name__}", file=file, key=key, line=line
        )
    if limit is not None and len(value) > limit:
        raise ScenarioError(
            f"{key} is {len(value)} characters long; the limit is {limit}",
            file=file,
            key=key,
            line=line,
        )
    return value


def check_number(raw: object, *, file, key: str, line: int | None = None) -> float:
    """Return ``raw`` as a float, checked to be a finite number (booleans are refused)."""
    if not is_number(raw):
        raise ScenarioError(
            f"expected a number, got {type(raw).__name__} {raw!r}", file=file, key=key, line=line
        )
    value = float(raw)
    if not math.isfinite(value):
        raise ScenarioError(f"{raw!r} is not a finite number", file=file, key=key, line=line)
    return value


def check_range(param, low: object, high: object, *, file, key: str, line=None):
    """Return ``(low, high)``, both within the bounds of ``param`` and ``low < high``."""
    low = param.check(
        check_number(low, file=file, key=key, line=line), file=file, key=f"{key}.low", line=line
    )
    high = param.check(
        check_number(high, file=file, key=key, line=line), file=file, key=f"{key}.high", line=line
    )
    if not low < high:
        raise ScenarioError(
            f"empty or inverted range: low {low:g} must be below high {high:g}",
            file=file,
            key=key,
            line=line,
        )
    return (low, high)


def check_year(raw: object, *, file, key: str, line: int | None) -> float:
    """Return a time-series key as a finite year (TOML keys are text: ``"2025"``)."""
    try:
        t = float(raw)
    except (TypeError, ValueError):
        raise ScenarioError(
            f"time series keys must be years, got {raw!r}", file=file, key=key, line=line
        ) from None
    if not math.isfinite(t):
        raise ScenarioError(
            f"time series keys must be finite years, got {raw!r}", file=file, key=key, line=line
        )
    return t


def check_value(
    raw: object, name: str, table: ParameterTable, *, file, line: int | None = None
) -> Value:
    """Return the checked value of parameter ``name``: a number or a time series.

    Every number must lie within the bounds of the parameter. A time series (a
    ``{year: value}`` mapping or ``(year, value)`` pairs) becomes a tuple of
    ``(year, value)`` pairs sorted by year; a year given twice is an error.
    """
    param = table[name]
    if isinstance(raw, Mapping):
        if not raw:
            raise ScenarioError(
                "a time series needs at least one {year = value} point",
                file=file,
                key=name,
                line=line,
            )
        raw = tuple(raw.items())
        series_key = True
    elif isinstance(raw, tuple | list) and all(
        isinstance(p, tuple | list) and len(p) == 2 for p in raw
    ):
        if not raw:
            raise ScenarioError("a time series needs at least one point", file=file, key=name)
        series_key = False
    else:
        return param.check(raw, file=file, key=name, line=line)
    points: dict[float, float] = {}
    for year, v in raw:
        key = f"{name}.{year}" if series_key else name
        t = check_year(year, file=file, key=key, line=line)
        if t in points:
            raise ScenarioError(
                f"year {t:g} is given twice in the time series", file=file, key=key, line=line
            )
        points[t] = param.check(v, file=file, key=key, line=line)
    return tuple(sorted(points.items()))
