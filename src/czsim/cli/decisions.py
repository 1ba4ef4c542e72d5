"""``czsim break-even | what-it-takes | attribute | screen``: decision tools.

What it takes to reach a target, what explains a gap, which inputs matter.
"""

from __future__ import annotations

import argparse

import pandas as pd
from rich.console import Console
from rich.table import Table

from czsim import decisions
from czsim.cli.console import escape, format_number, spinner
from czsim.errors import InputError
from czsim.io import TABLE_FORMATS, write_table


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [s.strip() for s in text.split(",") if s.strip()]


def _print(frame: pd.DataFrame, columns: list[str], *, title: str, console: Console) -> None:
    table = Table(title=escape(title))
    for col in columns:
        table.add_column(col, overflow="fold")
    for _, row in frame.iterrows():
        table.add_row(
            *(
                format_number(row[c]) if isinstance(row[c], float) else escape(str(row[c]))
                for c in columns
            )
        )
    console.print(table)


def _write(frame: pd.DataFrame, out: str | None, console: Console, sheet: str) -> None:
    if out:
        path = write_table(frame, out, sheet=sheet)
        console.print(f"wrote {escape(str(path))}")


def _label(lang: str) -> str:
    return "label_zh" if lang == "zh" else "label_en"


def _cmd_break_even(args: argparse.Namespace, console: Console) -> int:
    with spinner("break-even") as update:
        update("bracketing on batches of runs")
        frame = decisions.break_even(
            _split(args.target) if args.target else None,
            args.scenario,
            _split(args.levers),
        )
    cols = ["target", _label(args.lang), "status", "current", "break_even", "distance"]
    cols += ["best_value"]
    _print(frame, cols, title=f"Break-even 盈亏平衡点 from {args.scenario}", console=console)
    _write(frame, args.out, console, "break-even")
    return 0


def _cmd_what_it_takes(args: argparse.Namespace, console: Console) -> int:
    with spinner("what it takes") as update:
        update("optimising on batches of runs")
        solution = decisions.what_it_takes(
            args.target,
            args.scenario,
            _split(args.levers),
            probability=args.probability,
            seed=args.seed,
        )
    levers = solution.levers.reset_index(names="lever")
    cols = ["lever", "current", "setting", "change", "change_fraction"]
    _print(levers, cols, title=f"What it takes 达标所需: {args.target}", console=console)
    console.print(
        f"{solution.status}: value {format_number(solution.value)}, probability "
        f"{solution.probability:.2f}, distance {solution.distance:.3f} "
        f"(fractions of each lever's range); {solution.n_runs} runs. {escape(solution.message)}"
    )
    _write(levers, args.out, console, "what-it-takes")
    return 0


def _cmd_attribute(args: argparse.Namespace, console: Console) -> int:
    with spinner("attribution") as update:
        update("all combinations in one ensemble call")
        result = decisions.attribute(args.base, args.other, args.outcome, players=args.players)
    frame = result.table.reset_index()
    cols = ["player", "label", "shapley", "one_at_a_time", "interaction", "share"]
    _print(frame, cols, title=f"{args.other} − {args.base}: {args.outcome}", console=console)
    console.print(
        f"difference {format_number(result.difference)} = sum of the parts ({result.method}); "
        f"one-at-a-time effects leave {format_number(result.interaction_total)} to interactions"
    )
    _write(frame, args.out, console, "attribution")
    return 0


def _cmd_screen(args: argparse.Namespace, console: Console) -> int:
    from czsim.experiments.screening import screen
    from czsim.experiments.sweeps.outcomes import main_outcome

    main = main_outcome()
    variable = args.variable or main.variable
    threshold = args.threshold
    if threshold is None and variable == main.variable:
        threshold = main.threshold
    year = args.year if args.year is not None else main.scalar_year
    if args.top < 1:
        raise InputError(f"--top is a positive number, got {args.top}", key="--top")
    with spinner("screen") as update:
        update("every input at both ends, in one ensemble call")
        frame = screen(
            args.scenario,
            variable=variable,
            year=year,
            relative=args.relative,
            threshold=threshold,
        )
    own = frame.attrs["value"]
    cols = ["input", "kind", "uncertain", "low", "high", "value_low", "value_high", "effect"]
    if threshold is not None:
        cols.append("flips")
    _print(
        frame.head(args.top),
        cols,
        title=f"One at a time 单因素筛选: {variable} {year:g} from {args.scenario} ({own:,.0f})",
        console=console,
    )
    big = frame[frame["effect"] > args.tolerance]
    line = (
        f"{len(frame)} inputs; {len(big)} move it by more than {args.tolerance:.1%} alone, "
        f"{int((big['kind'] == 'constant').sum())} of them not in the parameter table, "
        f"{int(((big['kind'] == 'assumption') & ~big['uncertain']).sum())} assumptions "
        "without an uncertainty range"
    )
    if threshold is not None:
        line += f"; {int(frame['flips'].sum())} flip ≥ {threshold:,.0f} alone"
    console.print(line)
    _write(frame, args.out, console, "screen")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``czsim break-even``, ``czsim what-it-takes``, ``czsim attribute``, ``czsim screen``."""
    out_help = f"write the table ({', '.join(TABLE_FORMATS)})"
    p = sub.add_parser("break-even", help="the value of each key lever at which a target is met")
    p.add_argument("scenario", help="scenario file or name")
    p.add_argument("--target", help="comma-separated target ids (default: every model target)")
    p.add_argument("--levers", help="comma-separated parameters (default: the key levers)")
    p.add_argument("--out", metavar="FILE", help=out_help)
    p.set_defaults(func=_cmd_break_even)

    p = sub.add_parser("what-it-takes", help="the smallest change of levers that meets a target")
    p.add_argument("scenario", help="scenario file or name")
    p.add_argument("--target", default="industrial_scale", help="target id")
    p.add_argument("--levers", help="comma-separated parameters (default: the key levers)")
    p.add_argument(
        "--probability", type=float, help="meet it with this probability under uncertainty"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", metavar="FILE", help=out_help)
    p.set_defaults(func=_cmd_what_it_takes)

    p = sub.add_parser("attribute", help="split an outcome's difference between two scenarios")
    p.add_argument("base", help="scenario file or name")
    p.add_argument("other", help="scenario file or name")
    p.add_argument("--outcome", default="industrial_scale", help="target id")
    p.add_argument(
        "--players", default="auto", choices=("auto", "parameters", "groups"), help="who shares"
    )
    p.add_argument("--out", metavar="FILE", help=out_help)
    p.set_defaults(func=_cmd_attribute)

    p = sub.add_parser("screen", help="move every input one at a time: which ones matter")
    p.add_argument("scenario", help="scenario file or name")
    p.add_argument("--variable", help="model variable (default: the headline's)")
    p.add_argument("--year", type=float, help="year read (default: the headline target's)")
    p.add_argument(
        "--relative",
        type=float,
        default=0.1,
        help="relative move of constants that have no range (default 0.1)",
    )
    p.add_argument("--threshold", type=float, help="a level: count the inputs that cross it")
    p.add_argument("--tolerance", type=float, default=0.005, help="effect counted (0.005)")
    p.add_argument("--top", type=int, default=20, help="rows printed (20)")
    p.add_argument("--out", metavar="FILE", help=out_help)
    p.set_defaults(func=_cmd_screen)
