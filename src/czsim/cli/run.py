"""``czsim run SCENARIO``: simulate one scenario, print its scorecard, write result files."""

from __future__ import annotations

import argparse

import pandas as pd
from rich.console import Console
from rich.table import Table

from czsim import api
from czsim.cli.console import engine_option, escape, format_number, model_option, status_cell
from czsim.io import FORMATS, check_output_file, write_results
from czsim.targets import scorecard

COLUMNS = (
    ("目标", "Target"),
    ("年份", "Year"),
    ("目标值", "Target value"),
    ("模拟值", "Simulated"),
    ("单位", "Unit"),
    ("状态", "Status"),
    ("差距/进度", "Gap / pace"),
    ("首次达成", "First reached"),
    ("依据", "Basis"),
)


def print_scorecard(card: pd.DataFrame, *, title: str, lang: str, console: Console) -> None:
    """Print a scorecard as a table (status in words and colour, not colour alone)."""
    zh = lang == "zh"
    table = Table(title=escape(title), show_lines=False)
    for i, pair in enumerate(COLUMNS):
        table.add_column(
            pair[0] if zh else pair[1], overflow="fold", min_width=58 if i == 0 else None
        )
    for _, row in card.iterrows():
        first = "" if pd.isna(row["first_year"]) else str(int(row["first_year"]))
        table.add_row(
            escape(row["label_zh" if zh else "label_en"]),
            str(row["year"]),
            f"{row['comparator']} {format_number(row['target'])}",
            format_number(row["value"]),
            escape(row["unit"]),
            status_cell(row["status"], lang),
            _pace_text(row, zh) if row["status"] == "pace check" else format_number(row["gap"]),
            first,
            row["basis"],
        )
    console.print(table)
    tracked = card[card["status"].isin(["reached", "missed"])]
    paces = card[card["status"] == "pace check"]
    console.print(
        f"{int(tracked['reached'].sum())} / {len(tracked)} tracked targets reached (model); "
        f"{len(paces)} pace checks ({int(paces['history_pace'].notna().sum())} with data); "
        f"{int((card['status'] == 'untracked').sum())} untracked."
    )


def _pace_text(row: pd.Series, zh: bool) -> str:
    """Format a counter target's pace check: the pace its target needs against the data's."""
    need = format_number(row["required_pace"])
    if pd.isna(row["history_pace"]):
        return f"需{need}/年(无数据)" if zh else f"{need}/yr (no data)"
    past = format_number(row["history_pace"])
    return f"需{need}/年(过去{past})" if zh else f"{need}/yr (past {past})"


def _cmd(args: argparse.Namespace, console: Console) -> int:
    for out in args.out or []:
        check_output_file(out, FORMATS)  # before the run, not after it
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
        console.print(f"wrote {escape(str(path))}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``czsim run``."""
    p = sub.add_parser("run", help="run a scenario and print its scorecard")
    p.add_argument("scenario", help="scenario file or name in scenarios/")
    engine_option(p)
    p.add_argument(
        "--out",
        action="append",
        metavar="FILE",
        help=f"write results ({', '.join(FORMATS)}); may be repeated",
    )
    model_option(p)
    p.set_defaults(func=_cmd)
