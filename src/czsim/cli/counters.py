"""``czsim counters``: regenerate the counter parts of the model and plan from counters.tsv."""

from __future__ import annotations

import argparse

from rich.console import Console

from czsim.cli.console import escape
from czsim.counters import write


def _cmd(args: argparse.Namespace, console: Console) -> int:
    changed = write()
    for path in changed:
        console.print(f"wrote {escape(str(path))}")
    if not changed:
        console.print(
            "model/changzhou.mdl and scenarios/plan.toml already match model/counters.tsv"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``czsim counters``."""
    p = sub.add_parser(
        "counters",
        help="regenerate the counter equations (.mdl) and plan rates from model/counters.tsv",
    )
    p.set_defaults(func=_cmd)
