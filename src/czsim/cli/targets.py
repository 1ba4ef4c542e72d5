"""``czsim targets``: the policy's targets and what carries each."""

from __future__ import annotations

import argparse

import pandas as pd
from rich.console import Console
from rich.table import Table

from czsim import api
from czsim.cli.console import escape, format_number


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _cmd(args: argparse.Namespace, console: Console) -> int:
    frame = api.target_table()
    zh = args.lang == "zh"
    out = Table(title=f"{len(frame)} targets of 常发〔2022〕1号")
    for col in ("id", "section", "目标" if zh else "Target", "value", "unit", "year", "basis"):
        out.add_column(col, overflow="fold")
    out.add_column("variable", overflow="fold")
    for tid, row in frame.iterrows():
        value = (
            "" if pd.isna(row["value"]) else f"{row['comparator']} {format_number(row['value'])}"
        )
        out.add_row(
            tid,
            escape(_text(row["section"])),
            escape(row["label_zh" if zh else "label_en"]),
            value,
            escape(_text(row["unit"])),
            str(row["year"]),
            row["basis"],
            escape(_text(row["variable"]) or _text(row["reason"])),
        )
    console.print(out)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``czsim targets``."""
    p = sub.add_parser("targets", help="list the policy's targets")
    p.set_defaults(func=_cmd)
