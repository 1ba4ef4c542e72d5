"""Command line: ``czsim run | compare | targets | sweep | calibrate | doc``.

A thin layer: parse arguments, call the package, print or write. Bad input prints one line
(``czsim: error: <file>:<line> [<key>]: <what is wrong>``) and exits with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from czsim import api
from czsim.errors import CzsimError
from czsim.io import FORMATS, write_results
from czsim.targets import scorecard

#: Modules that add their own subcommands with ``register_cli(subparsers)``.
EXTENSIONS = ("czsim.experiments.sweeps", "czsim.experiments.calibration", "czsim.docs")

STATUS = {
    "reached": ("✓ 达成 reached", "green"),
    "missed": ("✗ 未达 missed", "red"),
    "untracked": ("– 未建模 untracked", "dim"),
    "not in results": ("?", "dim"),
}


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.1f}"


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def print_scorecard(card: pd.DataFrame, *, title: str, lang: str, console: Console) -> None:
    """Print a scorecard as a table (status in words and colour, not colour alone)."""
    zh = lang == "zh"
    table = Table(title=title, show_lines=False)
    for col in (
        ("目标" if zh else "Target"),
        ("年份" if zh else "Year"),
        ("目标值" if zh else "Target value"),
        ("模拟值" if zh else "Simulated"),
        ("单位" if zh else "Unit"),
        ("状态" if zh else "Status"),
        ("差距" if zh else "Gap"),
        ("首次达成" if zh else "First reached"),
        ("依据" if zh else "Basis"),
    ):
        table.add_column(col, overflow="fold")
    for _, row in card.iterrows():
        text, style = STATUS[row["status"]]
        first = "" if pd.isna(row["first_year"]) else str(int(row["first_year"]))
        table.add_row(
            row["label_zh" if zh else "label_en"],
            str(row["year"]),
            f"{row['comparator']} {_fmt(row['target'])}",
            _fmt(row["value"]),
            row["unit"],
            f"[{style}]{text}[/]",
            _fmt(row["gap"]),
            first,
            row["basis"],
        )
    console.print(table)
    tracked = card[card["status"].isin(["reached", "missed"])]
    console.print(
        f"{int(tracked['reached'].sum())} / {len(tracked)} tracked targets reached; "
        f"{int((card['status'] == 'untracked').sum())} untracked."
    )


def _cmd_run(args: argparse.Namespace, console: Console) -> int:
    scenario = api.as_scenario(args.scenario)
    result = api.run(scenario, engine=args.engine, model=args.model)
    card = scorecard(result)
    print_scorecard(
        card,
        title=f"{scenario.name}: {scenario.description(args.lang)[:100]}",
        lang=args.lang,
        console=console,
    )
    for out in args.out or []:
        path = write_results(result, out, scorecard=card)
        console.print(f"wrote {path}")
    return 0


def _cmd_compare(args: argparse.Namespace, console: Console) -> int:
    table = api.compare(args.scenarios, engine=args.engine)
    names = [api.as_scenario(s).name for s in args.scenarios]
    zh = args.lang == "zh"
    out = Table(title="对比 comparison" if zh else "Comparison")
    for col in [("目标" if zh else "Target"), ("目标值" if zh else "Target"), *names]:
        out.add_column(col, overflow="fold")
    for _, row in table.iterrows():
        cells = []
        for n in names:
            reached = row[f"{n} reached"]
            mark = "" if pd.isna(reached) else (" ✓" if reached else " ✗")
            cells.append(_fmt(row[n]) + mark)
        out.add_row(
            row["label_zh" if zh else "label_en"], f"{_fmt(row['target'])} {row['unit']}", *cells
        )
    console.print(out)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out)
        console.print(f"wrote {args.out}")
    return 0


def _cmd_targets(args: argparse.Namespace, console: Console) -> int:
    frame = api.targets()
    zh = args.lang == "zh"
    out = Table(title=f"{len(frame)} targets of 常发〔2022〕1号")
    for col in (
        "id",
        "section",
        ("目标" if zh else "Target"),
        "value",
        "unit",
        "year",
        "basis",
        "variable",
    ):
        out.add_column(col, overflow="fold")
    for tid, row in frame.iterrows():
        value = (
            ""
            if row["value"] is None or pd.isna(row["value"])
            else (f"{row['comparator']} {_fmt(float(row['value']))}")
        )
        out.add_row(
            tid,
            _text(row["section"]),
            row["label_zh" if zh else "label_en"],
            value,
            _text(row["unit"]),
            str(row["year"]),
            row["basis"],
            _text(row["variable"]) or _text(row["reason"]),
        )
    console.print(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="czsim", description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="label language")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run a scenario and print its scorecard")
    p.add_argument("scenario", help="scenario file or name in scenarios/")
    p.add_argument("--engine", choices=("ensemble", "pysd"), default="ensemble")
    p.add_argument(
        "--out",
        action="append",
        metavar="FILE",
        help=f"write results ({', '.join(FORMATS)}); may be repeated",
    )
    p.add_argument(
        "--model", type=Path, default=None, help="model file (default model/changzhou.mdl)"
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("compare", help="compare scenarios target by target")
    p.add_argument("scenarios", nargs="+", help="scenario files or names")
    p.add_argument("--engine", choices=("ensemble", "pysd"), default="ensemble")
    p.add_argument("--out", metavar="FILE.csv", help="write the comparison table")
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("targets", help="list the policy's targets")
    p.set_defaults(func=_cmd_targets)

    for name in EXTENSIONS:
        importlib.import_module(name).register_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``czsim`` console script."""
    # Piped output (files, CI logs, tests) gets a wide table instead of rich's 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=180)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args, console)
    except CzsimError as exc:
        print(f"czsim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
