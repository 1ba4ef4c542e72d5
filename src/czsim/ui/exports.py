"""Downloads for people.

The scorecard and the targets' variables over time with labels in the reader's language and
units (CSV), and the same plus every model variable as an Excel workbook with frozen headers.
"""

from __future__ import annotations

import io

import pandas as pd
import xarray as xr

from czsim.io import tidy
from czsim.targets import Target, load_targets, scorecard
from czsim.text import status_text
from czsim.ui import compute
from czsim.ui.i18n import t, unit_text
from czsim.ui.verdict import target_text


def people_table(result: xr.Dataset, card: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Return the people table: one row per target.

    Columns: label, group, basis, unit, target, value, status, margin, first year, then its
    value in each simulated year (display units).
    """
    from czsim.groups import group_label
    from czsim.ui.logic import target_frame

    targets: dict[str, Target] = {tg.id: tg for tg in load_targets()}
    series = target_frame(result, targets.values()).pivot(
        index="id", columns="year", values="value"
    )
    rows = []
    for tid, row in card.iterrows():
        tg = targets[tid]
        out = {
            t("col_target_label", lang): tg.label(lang),
            t("col_group", lang): group_label(tg.group, lang),
            t("col_basis", lang): t(f"basis_{tg.basis}", lang),
            t("col_unit", lang): unit_text(row["unit"], lang),
            t("col_year", lang): int(row["year"]),
            t("col_target", lang): target_text(row, tg),
            t("col_value", lang): row["value"],
            t("col_status", lang): status_text(row["status"], lang),
            t("col_margin", lang): row["gap"],
            t("col_first", lang): None if pd.isna(row["first_year"]) else int(row["first_year"]),
            t("col_note", lang): tg.reason,
        }
        if tid in series.index:
            out.update({str(int(y)): v for y, v in series.loc[tid].items()})
        rows.append(out)
    return pd.DataFrame(rows)


def csv_text(result: xr.Dataset, card: pd.DataFrame, lang: str) -> bytes:
    """Return the people table as UTF-8 CSV with a byte-order mark.

    The byte-order mark makes Excel open Chinese correctly.
    """
    return people_table(result, card, lang).to_csv(index=False).encode("utf-8-sig")


def xlsx(result: xr.Dataset, card: pd.DataFrame, lang: str) -> bytes:
    """Workbook: the people table, then every model variable by year; headers frozen."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        people_table(result, card, lang).to_excel(
            writer, sheet_name=t("sheet_targets", lang), index=False
        )
        tidy(result).to_excel(writer, sheet_name=t("sheet_variables", lang))
        for sheet in writer.sheets.values():
            sheet.freeze_panes = "B2"
    return buffer.getvalue()


def csv_bytes(toml_text: str, lang: str) -> bytes:
    """Return the CSV download of the scenario given as TOML text, in ``lang``."""
    result = compute.full_results(toml_text, compute.inputs_stamp())
    return csv_text(result, scorecard(result), lang)


def xlsx_bytes(toml_text: str, lang: str) -> bytes:
    """Return the Excel download of the scenario given as TOML text, in ``lang``."""
    result = compute.full_results(toml_text, compute.inputs_stamp())
    return xlsx(result, scorecard(result), lang)
