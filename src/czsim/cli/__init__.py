"""Command line: ``czsim run | compare | targets | sweep | calibrate | break-even | what-it-takes | attribute | doc | diagram | counters``.

A thin layer: parse arguments, call the package, print or write. Each command is one module
with a ``register(subparsers)`` function; this is the only package that imports Rich. Bad
input prints one line (``czsim: error: <file>:<line> [<key>]: <what is wrong>``) and exits
with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from czsim.cli.console import make_console
from czsim.errors import CzsimError

#: One module per command, in the order ``czsim --help`` lists them.
COMMANDS = (
    "run",
    "compare",
    "targets",
    "sweep",
    "calibrate",
    "decisions",
    "doc",
    "counters",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``czsim`` argument parser with every command registered."""
    parser = argparse.ArgumentParser(prog="czsim", description=__doc__.splitlines()[0])
    parser.add_argument("--lang", choices=("en", "zh"), default="en", help="label language")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"czsim.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``czsim`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    console = make_console()
    try:
        return args.func(args, console)
    except CzsimError as exc:
        print(f"czsim: error: {exc}", file=sys.stderr)
        return 2
