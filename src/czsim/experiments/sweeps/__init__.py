"""Batch sensitivity sweeps: Morris, Sobol, Monte Carlo and Latin hypercube (SALib).

Modules, in the order a sweep uses them: :mod:`.methods` (the registry of sampling and
analysis methods), :mod:`.outcomes` (what each run is reduced to), :mod:`.executors` (where
chunks run: in process or on Dask), :mod:`.store` (the sweep's folder; resumable chunks),
:mod:`.figures` (tornado, probability and fan plots) and :mod:`.run` (the whole sweep).
"""

from czsim.experiments.sweeps.run import (
    ModelEvaluator,
    SweepResult,
    build_problem,
    labels,
    list_outcomes,
    run_sweep,
    sweep,
)

__all__ = [
    "ModelEvaluator",
    "SweepResult",
    "build_problem",
    "labels",
    "list_outcomes",
    "run_sweep",
    "sweep",
]
