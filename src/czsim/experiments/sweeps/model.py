"""Sweeping a scenario of the model: its SALib problem, the evaluator of one chunk, the sweep.

:func:`sweep` is what ``czsim sweep`` calls: it builds the problem from the scenario's
``[uncertain]`` ranges (or named parameters), evaluates chunks with :class:`ModelEvaluator` on
the ensemble engine through :func:`czsim.experiments.sweeps.run.run_sweep`, and writes the
figures. The generic machinery (chunks, resume, analysis) lives in :mod:`.run`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from czsim import paths
from czsim.api import ScenarioLike, as_scenario, run_many
from czsim.engines.model_info import file_sha256, model_file
from czsim.errors import CzsimError
from czsim.experiments.sweeps import methods
from czsim.experiments.sweeps.figures import write_figures
from czsim.experiments.sweeps.outcomes import (
    OutcomePlan,
    main_outcome,
    outcome_attrs,
    plan_outcomes,
    reduce_outcomes,
)
from czsim.experiments.sweeps.run import SweepResult, check_seed, run_sweep
from czsim.parameters import ParameterTable, load_parameters
from czsim.scenarios import Scenario
from czsim.targets import load_targets

__all__ = ["ModelEvaluator", "build_problem", "labels", "sweep"]


@dataclass(frozen=True)
class ModelEvaluator:
    """Runs one chunk of a sweep on the ensemble engine and reduces it to outcomes.

    Plain data only, so Dask ships it to worker processes with each task: the model's
    *text*, the parameter table and the scenario's values travel with it, so a worker needs
    nothing but the package, in any folder on any machine (no project checkout, no
    ``model/`` folder). A worker parses and compiles the model once (cached by the text's
    sha256). ``names`` are the sample's columns.
    """

    scenario_name: str
    values: Mapping[str, Any]
    names: tuple[str, ...]
    plan: OutcomePlan
    model_text: str
    table: ParameterTable

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Outcomes of the runs ``x`` ``(r, D)``: see :func:`reduce_outcomes`."""
        model = model_file(self.model_text)
        scenario = Scenario(name=self.scenario_name, values=dict(self.values), table=self.table)
        frame = pd.DataFrame(x, columns=list(self.names))
        result = run_many(
            scenario,
            frame,
            variables=list(self.plan.variables),
            times=list(self.plan.times),
            model=model,
        )
        return reduce_outcomes(result, self.plan)

    def warm_up(self, x: np.ndarray) -> None:
        """Compile this machine's kernel for the chunks ahead by running a few of them here.

        Local Dask workers share this machine's kernel cache
        (:mod:`czsim.engines.kernel`), so when the parent has compiled the optimised kernel
        while the workers start, each worker loads it instead of compiling the same library
        itself (2 s of each worker's core). The runs are the smallest batch that uses the
        optimised kernel; their results are discarded.
        """
        from czsim.engines import kernel

        if not kernel.enabled() or len(x) == 0:
            return
        self(x[: min(len(x), kernel.OPTIMISE_RUNS)])


def build_problem(
    scenario: Scenario, params: Sequence[str] | None = None, table: ParameterTable | None = None
) -> dict:
    """Return the SALib problem of a sweep of ``scenario``.

    Parameters
    ----------
    scenario : Scenario
        Its ``uncertain`` ranges are used by default and whenever a parameter has one.
    params : sequence of str, optional
        Parameters to vary (code-safe names or ``Variable[element]``); those without a range
        in the scenario use their ``low``/``high`` bounds from ``model/parameters.toml``.

    Raises
    ------
    CzsimError
        Unknown names (with the closest), no parameters at all, empty or inverted ranges,
        ranges beyond the parameter's bounds.
    """
    table = table or load_parameters()
    if params is None:
        if not scenario.uncertain:
            raise CzsimError(
                f"scenario '{scenario.name}' has no [uncertain] ranges; name the "
                "parameters to vary with --params a,b",
                key="params",
            )
        chosen = [table[name] for name in scenario.uncertain]
    else:
        if not params:
            raise CzsimError("no parameters given", key="params")
        chosen = [table.resolve(name) for name in params]
    names = [p.name for p in chosen]
    bounds = []
    for p in chosen:
        low, high = scenario.uncertain.get(p.name, (p.low, p.high))
        if low < p.low or high > p.high:
            raise CzsimError(
                f"range [{low:g}, {high:g}] goes beyond the parameter's bounds "
                f"[{p.low:g}, {p.high:g}]",
                key=p.name,
            )
        bounds.append((low, high))
    return methods.make_problem(names, bounds)


def labels() -> tuple[dict[str, str], dict[str, str]]:
    """Bilingual labels of parameters and of targets, by name / id."""
    table = load_parameters()
    params = {p.name: f"{p.label_zh} {p.label_en}" for p in table.values()}
    targets = {t.id: f"{t.label_zh} {t.label_en}" for t in load_targets()}
    return params, targets


def _variable_attrs(names: Sequence[str], plan: OutcomePlan) -> dict[str, dict[str, str]]:
    """Dataset attributes: labels and units of the parameters, descriptions of outcomes."""
    table = load_parameters()
    out = {
        n: {"label_zh": table[n].label_zh, "label_en": table[n].label_en, "units": table[n].units}
        for n in names
    }
    return {**out, **outcome_attrs(plan)}


def _figures(
    scenario: str, method: str, analysed: Sequence[str]
) -> Callable[[SweepResult, Path], list[Path]]:
    """Return the ``report`` hook of :func:`run_sweep` for model sweeps."""

    def report(result: SweepResult, out: Path) -> list[Path]:
        params, targets = labels()
        m = main_outcome()
        scalars = [k for k in analysed if k != m.name]
        headline = (
            f"{m.name}_{m.scalar_year}"
            if f"{m.name}_{m.scalar_year}" in scalars
            else (scalars[0] if scalars else None)
        )
        ds = result.dataset
        # Counter targets advance at rates the sweep rarely varies: plot them only when
        # their probability is uncertain; every model-explained target is always shown.
        basis = {t.id: t.basis for t in load_targets()}
        probs = result.probabilities
        p = probs["probability"].to_numpy()
        model = np.array([basis.get(i) == "model" for i in probs.index], dtype=bool)
        shown = probs[model | ((p > 0) & (p < 1))]
        return write_figures(
            result.indices,
            shown,
            ds["time"].values,
            ds[m.name].values,
            outcome=headline,
            param_labels=params,
            target_labels=targets,
            target=m.threshold,
            target_year=m.scalar_year,
            scenario=scenario,
            method=method,
            out=out,
            hidden=len(probs) - len(shown),
        )

    return report


def sweep(
    scenario: ScenarioLike,
    *,
    method: str,
    n: int,
    params: Sequence[str] | None = None,
    outcomes: Sequence[str] | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    overwrite: bool = False,
    scheduler: str | None = None,
    workers: int | None = None,
    chunk_size: int | None = None,
    progress: bool = False,
    figures: bool = True,
) -> SweepResult:
    """Run a sensitivity sweep of the model around a scenario.

    Parameters
    ----------
    scenario : Scenario, str or Path
        The base scenario (name in ``scenarios/`` or a file).
    method : {"morris", "sobol", "mc", "lhs"}
        ``sobol``: ``n`` base samples (a power of two), ``n*(D+2)`` runs, S1/ST.
    method : str
        A sweep method, a key of :data:`czsim.experiments.sweeps.methods.REGISTRY`.
        ``mc``/``lhs``: ``n`` runs, standardised regression coefficients (SRC).
    n : int
        Sample size in the method's sense (above).
    params : sequence of str, optional
        Parameters to vary (default: all of the scenario's ``[uncertain]`` ranges); each uses
        the scenario's range if it has one, else its bounds in ``model/parameters.toml``.
    outcomes : sequence of str, optional
        Outcomes to compute indices for (default: all of :func:`list_outcomes`). Indices of
        the main outcome (``Industrial scale`` 2022–2030, year by year) are always computed;
        target probabilities always cover every tracked target.
    seed : int
        Seeds sampling and bootstrap: the same call gives the same numbers.
    out : str or Path, optional
        Folder for ``manifest.json``, ``chunks/``, ``sweep.nc``, ``indices.csv``,
        ``probabilities.csv`` and figures. With it, a rerun resumes an interrupted sweep.
    overwrite : bool
        Replace an ``out`` folder holding a different sweep (else refused).
    scheduler : str, optional
        ``tcp://host:port`` of a Dask scheduler to run the chunks on. Its workers need only
        czsim installed (the model travels with each task), in any folder.
    workers : int, optional
        Run the chunks on a local Dask cluster of this many worker processes.
    chunk_size : int, optional
        Runs per task (one ensemble-engine call each). Default: about four tasks per
        worker (:func:`czsim.experiments.sweeps.run.auto_chunk_size`, 256-4,096 runs); a
        resumed sweep keeps the size it started with.
    progress : bool
        Show a progress bar with runs per second.
    figures : bool
        With ``out``, also write the tornado, probability and fan figures (PNG and SVG; 2-3 s,
        most of it laying out Chinese labels). A finished sweep rerun with ``figures=True``
        adds them without simulating again.

    Returns
    -------
    SweepResult

    Raises
    ------
    CzsimError
        Bad input (unknown names, empty ranges, unusable ``n``, no uncertain ranges and no
        ``params``), unreachable scheduler, ``out`` holding a different sweep.
    """
    check_seed(seed)
    scen = as_scenario(scenario)
    methods.get(method)
    problem = build_problem(scen, params)
    methods.check_n(method, n, problem["num_vars"])
    analysed, plan = plan_outcomes(outcomes)
    m = plan.main
    model = paths.MODEL_FILE
    evaluator = ModelEvaluator(
        scen.name,
        dict(scen.values),
        tuple(problem["names"]),
        plan,
        model.read_text(encoding="utf-8"),
        scen.table if scen.table is not None else load_parameters(),
    )
    identity = {
        "model_sha256": file_sha256(model),
        "targets_sha256": file_sha256(paths.TARGETS_FILE),
        "scenario": scen.name,
        "scenario_toml": scen.to_toml(),
    }
    info = {
        "scenario": scen.name,
        "model": str(model),
        "notes": {
            "scale_target_year": (
                f"first year in {m.years[0]}-{m.years[-1]} with {m.variable} >= "
                f"{m.threshold:g}; runs that never reach it get {m.years[-1] + 1}"
            ),
            "probabilities": "share of all runs of the sample reaching each target",
        },
    }
    return run_sweep(
        problem,
        evaluator,
        method=method,
        n=n,
        seed=seed,
        analysed=[*analysed, m.name],
        times=list(m.years),
        out=out,
        overwrite=overwrite,
        scheduler=scheduler,
        workers=workers,
        chunk_size=chunk_size,
        progress=progress,
        identity=identity,
        info=info,
        variable_attrs=_variable_attrs(problem["names"], plan),
        report=_figures(scen.name, method, analysed) if figures else None,
    )


# ----------------------------------------------------------------------------- command line
