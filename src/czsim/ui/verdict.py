"""The verdict, without Streamlit.

For the headline and each cluster, the value, the target, the margin (absolute and %), the
first year reached and the probability under the scenario's uncertainty; and the target
counts explained.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from czsim.targets import Target
from czsim.text import format_number, status_text
from czsim.ui.i18n import t, unit_text

COMPARATORS = {">=": "≥", ">": ">", "<=": "≤", "approx": "≈"}
#: Status -> colour of its verdict (never the target line's red for anything else).
COLOURS = {"reached": "#1b7a3a", "missed": "#b3261e"}


def target_text(row: pd.Series, target: Target | None = None) -> str:
    """``≥ 25,000`` or, for an approximate target, ``≈ 45.0 ± 1.0``."""
    text = f"{COMPARATORS[row['comparator']]} {format_number(row['target'])}"
    if row["comparator"] == "approx" and target is not None:
        text += f" ± {format_number(target.tolerance * target.display_scale)}"
    return text


def margin_pct(row: pd.Series) -> float:
    """Return the margin as a percentage of the target (NaN without a value)."""
    target = row["target"]
    if pd.isna(row["gap"]) or not target:
        return math.nan
    return 100.0 * float(row["gap"]) / abs(float(target))


def verdict_row(
    target: Target, row: pd.Series, probability: float | None, lang: str
) -> dict[str, object]:
    """One verdict: every figure a planner asks of a target."""
    pct = margin_pct(row)
    first = row["first_year"]
    return {
        "id": target.id,
        "status": row["status"],
        t("col_status", lang): status_text(row["status"], lang),
        t("col_target_label", lang): target.label(lang),
        t("col_value", lang): format_number(row["value"]),
        t("col_target", lang): target_text(row, target),
        t("col_unit", lang): unit_text(row["unit"], lang),
        t("col_margin", lang): ""
        if pd.isna(row["gap"])
        else f"{row['gap']:+,.0f}"
        if abs(row["gap"]) >= 100
        else f"{row['gap']:+.3g}",
        t("col_margin_pct", lang): "" if math.isnan(pct) else f"{pct:+.1f}%",
        t("col_first", lang): "" if pd.isna(first) else str(int(first)),
        t("probability", lang): probability,
    }


def verdict_table(
    card: pd.DataFrame,
    targets: Iterable[Target],
    chances: pd.DataFrame | None,
    lang: str,
) -> pd.DataFrame:
    """Verdict rows of ``targets`` (index id; the raw ``status`` column for styling)."""
    rows = []
    for tg in targets:
        p = None
        if chances is not None and tg.id in chances.index:
            p = float(chances.loc[tg.id, "probability"])
        rows.append(verdict_row(tg, card.loc[tg.id], p, lang))
    return pd.DataFrame(rows).set_index("id")


def headline_text(target: Target, row: pd.Series, probability: float | None, lang: str) -> str:
    """Write the headline verdict as one line.

    Symbol and word, value, target, margin, first year, probability.
    """
    parts = [
        f"**{status_text(row['status'], lang)}**",
        f"**{format_number(row['value'])} {unit_text(row['unit'], lang)}**",
        t("h_target", lang, target=target_text(row, target), year=target.year),
    ]
    if not pd.isna(row["gap"]):
        parts.append(
            t("h_margin", lang, margin=f"{row['gap']:+,.0f}", pct=f"{margin_pct(row):+.1f}")
        )
    first = row["first_year"]
    parts.append(t("h_first", lang, year=int(first)) if not pd.isna(first) else t("h_never", lang))
    if probability is not None:
        parts.append(t("h_probability", lang, p=f"{100 * probability:.0f}"))
    return " · ".join(parts)


def counts_text(card: pd.DataFrame, lang: str) -> str:
    """Explain the target counts.

    Carried by the model, counters and pace checks, and the targets no model quantity carries.
    """
    by = {basis: card[card["basis"] == basis] for basis in ("model", "counter", "untracked")}
    reached = {b: int((part["status"] == "reached").sum()) for b, part in by.items()}
    return t(
        "counts_explained",
        lang,
        total=len(card),
        model=len(by["model"]),
        model_reached=reached["model"],
        counter=len(by["counter"]),
        with_data=int(by["counter"]["history_pace"].notna().sum()),
        untracked=len(by["untracked"]),
    )
