"""``czsim doc`` and ``czsim diagram``: the model reference and its structure diagrams."""

from __future__ import annotations

import argparse

from rich.console import Console

from czsim.cli.console import escape, model_option
from czsim.io import check_output_file, check_output_folder, write_text
from czsim.reference import update_readme, write_docs
from czsim.structure import diagram_dot, render


def _cmd_doc(args: argparse.Namespace, console: Console) -> int:
    check_output_folder(args.out)
    for p in write_docs(args.out, model=args.model, diagram=not args.no_diagram):
        console.print(f"wrote {escape(str(p))}")
    if args.readme and update_readme():
        console.print("wrote README.md (scenario table, history check)")
    return 0


def _cmd_diagram(args: argparse.Namespace, console: Console) -> int:
    out = check_output_file(args.out)
    source = diagram_dot(args.model, level=args.level)
    if out.suffix.lower() == ".dot":
        write_text(out, source)
    else:
        render(source, out)
    console.print(f"wrote {escape(str(out))}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``czsim doc`` and ``czsim diagram`` to the command line."""
    p = subparsers.add_parser("doc", help="write the model reference (Markdown, HTML, diagrams)")
    p.add_argument("--out", default="docs", metavar="DIR", help="output folder (default docs)")
    p.add_argument(
        "--no-diagram", action="store_true", help="skip the diagrams (no Graphviz needed)"
    )
    p.add_argument(
        "--readme",
        action="store_true",
        help="also rewrite README.md's generated figures (scenario table, history check)",
    )
    model_option(p)
    p.set_defaults(func=_cmd_doc)

    p = subparsers.add_parser("diagram", help="draw the model's structure with Graphviz")
    p.add_argument(
        "--out",
        default="docs/model_diagram.svg",
        metavar="FILE",
        help="output file: .svg, .png, .pdf, or .dot for the Graphviz source "
        "(default docs/model_diagram.svg)",
    )
    p.add_argument(
        "--level",
        choices=("element", "sector"),
        default="element",
        help="element: every stock, flow and auxiliary; sector: the overview",
    )
    model_option(p)
    p.set_defaults(func=_cmd_diagram)
