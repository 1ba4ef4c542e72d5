"""``czsim calibrate``: fit parameters to observed history and write the calibrated scenario."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from rich.console import Console
from rich.table import Table

from czsim.cli.console import escape, format_number, spinner
from czsim.errors import InputError
from czsim.experiments.calibration import CALIBRATED_FILE, DEFAULT_PARAMETERS, calibrate
from czsim.experiments.calibration.report import write_report
from czsim.io import check_output_file, check_output_folder, write_text


def _mcmc(result, steps: int, console: Console) -> None:
    from czsim.experiments.calibration.mcmc import check_laplace

    with spinner("sampling the posterior (emcee)"):
        check = check_laplace(result, steps=steps)
    table = Table(title="Posterior 后验: normal (Laplace) vs MCMC (emcee)")
    table.add_column("parameter", overflow="fold", max_width=24)
    for col in ("Laplace mean", "sd", "MCMC mean", "sd", "sd ratio", "shift (sd)", "bound"):
        table.add_column(col, no_wrap=True)
    for name, r in check.table.iterrows():
        table.add_row(
            escape(str(name)),
            format_number(r.laplace_mean),
            f"{r.laplace_sd:.3g}",
            format_number(r.mcmc_mean),
            f"{r.mcmc_sd:.3g}",
            f"{r.sd_ratio:.2f}",
            f"{r.mean_shift:+.2f}",
            "near" if r.near_bound else "",
        )
    console.print(table)
    console.print(
        f"{check.n_samples} samples after burn-in, acceptance {check.acceptance:.2f}, "
        f"{check.n_runs} model runs"
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``czsim calibrate`` to the command line."""
    p = subparsers.add_parser("calibrate", help="fit parameters to observed history")
    p.add_argument(
        "--params",
        default=None,
        help=f"comma-separated parameters to fit (default: {', '.join(DEFAULT_PARAMETERS)})",
    )
    p.add_argument(
        "--scenario",
        default=None,
        help="scenario to start from (default: the model's defaults; baseline extends the result)",
    )
    p.add_argument(
        "--observations",
        type=Path,
        default=None,
        help="observations CSV (default model/data/observations.csv)",
    )
    p.add_argument(
        "--holdout-from",
        type=int,
        default=None,
        metavar="YEAR",
        help="also back-test: fit on years before YEAR, forecast the rest",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        metavar="DIR",
        help="write PNG charts and report.html to DIR",
    )
    p.add_argument(
        "--write-scenario",
        type=Path,
        default=CALIBRATED_FILE,
        metavar="PATH",
        help="where to write the calibrated scenario (default scenarios/calibrated.toml)",
    )
    p.add_argument(
        "--mcmc",
        type=int,
        default=None,
        metavar="STEPS",
        help="also sample the posterior with emcee (STEPS per walker, e.g. 300) and compare "
        "it with the normal (Laplace) approximation the scenario carries",
    )
    p.set_defaults(func=_cmd)


def _cmd(args: argparse.Namespace, console: Console) -> int:
    # Checked before the fit, so a fit is never lost to an unwritable path.
    check_output_file(args.write_scenario, (".toml",))
    if args.mcmc is not None and args.mcmc < 10:
        raise InputError(f"--mcmc is at least 10 steps, got {args.mcmc}", key="--mcmc")
    if args.report is not None:
        check_output_folder(args.report)
    params = [s for s in args.params.split(",") if s.strip()] if args.params else None
    with spinner("calibrating") as update:
        result = calibrate(
            params,
            scenario=args.scenario,
            observations=args.observations,
            holdout_from=args.holdout_from,
            progress=lambda stage, runs: update(f"{stage}, {runs} model runs"),
        )
    est = Table(title="Fitted parameters 校准参数 (95% interval clipped to bounds)")
    # Names fold and numbers never do, so the tables stay legible in an 80-column terminal.
    est.add_column("parameter", overflow="fold", max_width=24)
    for col in ("initial", "value", "stderr", "95% interval"):
        est.add_column(col, no_wrap=True)
    for r in result.estimates.itertuples():
        interval = (
            f"{format_number(r.low95)} – {format_number(r.high95)}"
            if r.identified
            else "not identified by the data"
        )
        est.add_row(
            r.parameter,
            format_number(r.initial),
            format_number(r.value),
            f"{r.stderr:.2g}",
            interval,
        )
    console.print(est)
    fit = Table(title="Fit per series 拟合统计 (MAPE: mean absolute % error)")
    fit.add_column("series", overflow="fold", max_width=24)
    for col in ("n", "MAPE %", "before", "Theil U", "U bias/var/cov"):
        fit.add_column(col, no_wrap=True)
    for r in result.fit.itertuples():
        uparts = (
            ""
            if math.isnan(r.u_bias)
            else f"{r.u_bias:.2f}/{r.u_variance:.2f}/{r.u_covariance:.2f}"
        )
        fit.add_row(
            escape(r.series),
            str(r.n),
            f"{r.mape_pct:.2f}",
            f"{r.mape_pct_initial:.2f}",
            "" if math.isnan(r.theil_u) else f"{r.theil_u:.3f}",
            uparts,
        )
    console.print(fit)
    if result.backtest is not None:
        bt = result.backtest
        table = Table(title=f"Back-test 回测: fit before {bt.holdout_from}, forecast the rest")
        table.add_column("series", overflow="fold", max_width=24)
        for col in ("year", "observed", "model", "err %", "naive", "no change"):
            table.add_column(col, no_wrap=True)
        for r in bt.forecast.itertuples():
            table.add_row(
                escape(r.series),
                str(r.year),
                format_number(r.observed),
                format_number(r.model),
                f"{r.model_pct_error:.2f}",
                format_number(r.naive) or "–",
                format_number(r.no_change),
            )
        console.print(table)
        for note in bt.notes:
            console.print(f"• {note}")
    worst = result.residuals.reindex(
        result.residuals["weighted"].abs().sort_values(ascending=False).index
    ).head(5)
    console.print(
        "Largest misfits (model − data, in sigmas): "
        + ", ".join(
            f"{r.id} {r.weighted:+.2f}" for r in worst.itertuples() if abs(r.weighted) >= 0.5
        )
    )
    console.print(f"s² = {result.s2:.3g}; {result.message}")
    if args.mcmc is not None:
        _mcmc(result, args.mcmc, console)
    console.print(f"{result.n_runs} model runs in {result.wall_time:.1f} s")
    path = write_text(Path(args.write_scenario), result.scenario.to_toml())
    console.print(f"wrote {escape(str(path))}")
    if args.report is not None:
        console.print(f"wrote {escape(str(write_report(result, args.report)))}")
    return 0
