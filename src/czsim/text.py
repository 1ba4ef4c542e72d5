"""Text shown to people, shared by the command line, the app and the reports.

One number formatter and one set of status labels, so a value or a verdict reads the same on
every surface.
"""

from __future__ import annotations

import math

#: Scorecard status -> (zh, en) label, symbol first so the verdict never rests on colour alone.
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "reached": ("✓ 达成", "✓ reached"),
    "missed": ("✗ 未达成", "✗ missed"),
    "untracked": ("– 未建模", "– untracked"),
    "not in results": ("? 无结果", "? not in results"),
    "invalid": ("! 无效(非数值)", "! invalid (not a number)"),
    "pace check": ("◷ 进度核对", "◷ pace check"),
}


def format_number(value: object) -> str:
    """Format a number for a table cell.

    Thousands separators and no decimals from 100 up, one decimal from 10 to 100, three
    significant digits below 10; an empty string for a missing value.

    Examples
    --------
    >>> format_number(25225.4), format_number(43.04), format_number(0.0912)
    ('25,225', '43.0', '0.0912')
    """
    if value is None:
        return ""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(number):
        return ""
    if abs(number) >= 100:
        return f"{number:,.0f}"
    return f"{number:,.3g}" if abs(number) < 10 else f"{number:,.1f}"


def status_text(status: str, lang: str = "en") -> str:
    """Return the scorecard status as symbol and word in ``lang`` ("zh" or "en")."""
    zh, en = STATUS_LABELS[status]
    return zh if lang == "zh" else en
