"""Build Matplotlib figures of the decision tools.

The builders are pure: they return a Figure and neither show nor save it.

* :func:`waterfall`: an attribution as a waterfall from the base value to the other value,
  one bar per player (its Shapley part), with the one-at-a-time effect marked.
* :func:`break_even_bars`: for one target, how far each lever must move to meet it exactly, in
  fractions of the lever's range (unreachable levers shown as such).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from czsim.decisions.attribution import Attribution
from czsim.plotting import use_cjk_font

UP, DOWN, TOTAL, MUTED = "#2a9d8f", "#e76f51", "#577590", "#adb5bd"


def waterfall(
    result: Attribution,
    *,
    top: int | None = 12,
    labels: str = "label",
    title: str | None = None,
) -> Figure:
    """Build a waterfall of ``result``: base value, each player's Shapley part, other value.

    Parameters
    ----------
    result : Attribution
        From :func:`czsim.attribute`.
    top : int, optional
        Players shown by size of their part; the others are merged into one bar.
    labels : {"label", "player"}
        Bar labels: the players' labels or their names.
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
        Bars in the outcome's display units; black ticks mark each player's one-at-a-time
        effect, so the gap between tick and bar end is the player's interaction share.
    """
    use_cjk_font()
    table = result.table.reindex(result.table["shapley"].abs().sort_values(ascending=False).index)
    if top is not None and len(table) > top:
        rest = table.iloc[top - 1 :]
        table = pd.concat(
            [
                table.iloc[: top - 1],
                pd.DataFrame(
                    {
                        "label": [f"{len(rest)} others"],
                        "shapley": [rest["shapley"].sum()],
                        "one_at_a_time": [rest["one_at_a_time"].sum()],
                    },
                    index=["others"],
                ),
            ]
        )
    names = [str(n) for n in (table["label"] if labels == "label" else table.index)]
    fig = Figure(figsize=(8, 0.45 * (len(table) + 2) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(table) + 2)[::-1]
    parts = table["shapley"].to_numpy(dtype=float)
    starts = result.base_value + np.concatenate([[0.0], np.cumsum(parts)[:-1]])
    ticks = starts + table["one_at_a_time"].to_numpy(dtype=float)
    points = np.concatenate([[result.base_value, result.other_value], starts + parts, ticks])
    lo, hi = float(points.min()), float(points.max())
    pad = 0.15 * ((hi - lo) or abs(hi) or 1.0)
    left = lo - pad  # base and other are drawn from here: the axis does not start at 0
    ax.barh(y[0], result.base_value - left, left=left, color=TOTAL)
    for i, (start, part, tick) in enumerate(zip(starts, parts, ticks, strict=True), start=1):
        ax.barh(y[i], part, left=start, color=UP if part >= 0 else DOWN)
        ax.plot([tick, tick], [y[i] - 0.35, y[i] + 0.35], color="black")
    ax.barh(y[-1], result.other_value - left, left=left, color=TOTAL)
    base = result.meta.get("base", "base")
    other = result.meta.get("other", "other")
    ax.set_yticks(y, [base, *names, other])
    ax.set_xlim(left, hi + pad)
    unit = result.meta.get("unit", "")
    what = "probability" if result.statistic == "probability" else result.statistic
    ax.set_xlabel(f"{result.outcome} ({what}{', ' + unit if unit else ''})")
    ax.set_title(
        title
        or f"{other} - {base}: {result.difference:+.4g}\n({result.method} Shapley values; "
        "black ticks: one at a time)"
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def break_even_bars(table: pd.DataFrame, target: str | None = None, *, lang: str = "en") -> Figure:
    """Distance to break-even of each lever for one target, in fractions of the lever's range.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`czsim.break_even`.
    target : str, optional
        Target id (default: the table's first target).
    lang : {"en", "zh"}
        Lever labels.

    Returns
    -------
    matplotlib.figure.Figure
        One bar per lever: ``distance`` (negative: the lever can fall that far and the target
        is still met). Levers that cannot meet the target within their bounds and levers
        that meet it over their whole range are listed, not drawn.
    """
    use_cjk_font()
    target = target or str(table["target"].iloc[0])
    rows = table[table["target"] == target].copy()
    rows["shown"] = rows["label_zh" if lang == "zh" else "label_en"]
    rows = rows.sort_values("distance", key=lambda s: s.abs(), na_position="last")
    fig = Figure(figsize=(8, 0.4 * len(rows) + 1.5))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    for yi, (_, row) in zip(y, rows.iterrows(), strict=True):
        if row["status"] == "break-even":
            d = float(row["distance"])
            ax.barh(yi, d, color=UP if d <= 0 else DOWN)
            ax.text(
                d, yi, f" {row['break_even']:.4g}", va="center", ha="left" if d >= 0 else "right"
            )
        else:
            ax.text(0, yi, f" {row['status']}", va="center", ha="left", color=MUTED)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(y, list(rows["shown"]))
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("change to break-even (fraction of the lever's range)")
    first = rows.iloc[0]
    ax.set_title(
        f"{target}: {first['comparator']} {first['target_value']:.4g} {first['unit']} in "
        f"{int(first['year'])}"
    )
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
