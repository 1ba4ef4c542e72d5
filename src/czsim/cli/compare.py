"""``czsim compare A B ...``: scenarios side by side, target by target."""

from __future__ import annotations

import argparse

import pandas as pd
from rich.console import Console
from rich.table import Table

from czsim import api
from czsim.cli.console import engine_option, escape, format_number
from czsim.io import TABLE_FORMATS, check_output_file, write_table


def _cmd(args: argparse.Namespace, console: Console) -> int:
    if args.out:
        check_output_file(args.out, TABLE_FORMATS)  # before the runs, not after them
    table = api.compare(args.scenarios, engine=args.engine)
    names = table.attrs["scenarios"]
    zh = args.lang == "zh"
    out = Table(title="对比 comparison" if zh else "Comparison")
    for col in [("目标" if zh else "Target"), ("目标值" if zh else "Target"), *names]:
        out.add_column(escape(col), overflow="fold")
    for _, row in table.iterrows():
        cells = []
        for n in names:
            reached = row[f"{n} reached"]
            mark = "" if pd.isna(reached) else (" ✓" if reached else " ✗")
            cells.append(format_number(row[n]) + mark)
        out.add_row(
            escape(row["label_zh" if zh else "label_en"]),
            escape(f"{format_number(row['target'])} {row['unit']}"),
            *cells,
        )
    console.print(out)
    if args.out:
        path = write_table(table, args.out, sheet="comparison")
        console.print(f"wrote {escape(str(path))}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``czsim compare``."""
    p = sub.add_parser("compare", help="compare scenarios target by target")
    p.add_argument("scenarios", nargs="+", help="scenario files or names")
    engine_option(p)
    p.add_argument(
        "--out", metavar="FILE", help=f"write the comparison table ({', '.join(TABLE_FORMATS)})"
    )
    p.set_defaults(func=_cmd)
