"""``czsim sweep SCENARIO``: a sensitivity sweep; prints the top indices and probabilities."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from czsim.cli.console import escape
from czsim.experiments.sweeps import labels, methods, sweep
from czsim.experiments.sweeps.outcomes import MAIN, SCALAR_YEAR
from czsim.io import check_output_folder


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [s.strip() for s in text.split(",") if s.strip()]


def _top_indices(indices: pd.DataFrame, method: str, limit: int = 10) -> tuple[str, pd.DataFrame]:
    """Return the headline outcome and its indices, most influential parameter first."""
    scalar = indices[indices["time"].isna()]
    outcomes = list(dict.fromkeys(scalar["outcome"]))
    outcome = (
        f"{MAIN}_{SCALAR_YEAR}"
        if f"{MAIN}_{SCALAR_YEAR}" in outcomes
        else (outcomes[0] if outcomes else "")
    )
    rows = scalar[scalar["outcome"] == outcome]
    wide = rows.pivot(index="parameter", columns="index", values="value")
    entry = methods.get(method)
    key = entry.headline_index
    if wide.empty:
        return outcome, wide
    order = wide[key].abs().sort_values(ascending=False, na_position="last").index
    return outcome, wide.loc[order[:limit], list(entry.indices)]


def _cmd(args: argparse.Namespace, console: Console) -> int:
    """Run ``czsim sweep``.

    Run, print the top indices and target probabilities, say where the files are.
    """
    out = args.out or Path("results") / (
        f"{Path(str(args.scenario)).stem}-{args.method}-n{args.n}-seed{args.seed}"
    )
    check_output_folder(out)
    result = sweep(
        args.scenario,
        method=args.method,
        n=args.n,
        params=_split(args.params),
        outcomes=_split(args.outcomes),
        seed=args.seed,
        out=out,
        overwrite=args.overwrite,
        scheduler=args.scheduler,
        workers=args.workers,
        chunk_size=args.chunk_size,
        progress=True,
        figures=not args.no_figures,
    )
    m = result.manifest
    outcome, top = _top_indices(result.indices, args.method)
    table = Table(title=f"敏感性 Sensitivity of {outcome} ({args.method}, {m['runs']} runs)")
    table.add_column("参数 Parameter")
    for col in top.columns:
        table.add_column(str(col), justify="right")
    for name, row in top.iterrows():
        table.add_row(name, *("" if math.isnan(v) else f"{v:.3f}" for v in row))
    console.print(table)
    probs = result.probabilities
    certain = probs[(probs["probability"] == 0) | (probs["probability"] == 1)]
    uncertain = probs.drop(certain.index).sort_values("probability")
    _, target_labels = labels()
    ptable = Table(title="目标达成概率 Probability of reaching the target")
    for col in ("目标 Target", "P", "± s.e."):
        ptable.add_column(col, justify="left" if col.startswith("目标") else "right")
    for tid, row in uncertain.iterrows():
        ptable.add_row(
            escape(target_labels.get(tid, tid)), f"{row['probability']:.3f}", f"{row['stderr']:.3f}"
        )
    console.print(ptable)
    console.print(
        f"{int((probs['probability'] == 1).sum())} targets reached in every run, "
        f"{int((probs['probability'] == 0).sum())} in none."
    )
    console.print(
        f"{m['runs']} runs in {m['seconds']:.1f} s ({m['executor']}); "
        f"{m['chunks_reused']} of {m['chunks']} chunks reused. Files in {out}/: "
        f"{', '.join(m['files'])}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``czsim sweep`` to the command line."""
    p = subparsers.add_parser(
        "sweep", help="sensitivity sweep (Morris, Sobol, Monte Carlo, LHS) of a scenario"
    )
    p.add_argument("scenario", help="scenario file or name in scenarios/")
    p.add_argument("--method", required=True, choices=methods.METHODS)
    p.add_argument(
        "--n",
        type=int,
        required=True,
        help="; ".join(f"{m.name}: {m.n_help}" for m in methods.REGISTRY.values()),
    )
    p.add_argument(
        "--params", help="comma-separated parameters (default: the scenario's [uncertain] ranges)"
    )
    p.add_argument("--outcomes", help="comma-separated outcomes (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out", type=Path, help="output folder (default results/SCENARIO-METHOD-nN-seedS)"
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="Dask scheduler address")
    where.add_argument("--workers", type=int, metavar="K", help="local Dask cluster of K workers")
    p.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="runs per task (default: about 4 tasks per worker, 256-4096 runs each; a "
        "resumed sweep keeps its own)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an output folder holding a different sweep",
    )
    p.add_argument(
        "--no-figures",
        action="store_true",
        help="write the data only (the PNG/SVG figures take 2-3 s: Chinese labels are slow to "
        "lay out); rerun without it to add them, nothing is simulated again",
    )
    p.set_defaults(func=_cmd)
