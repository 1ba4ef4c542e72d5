"""Batch sensitivity sweeps: Morris, Sobol, Monte Carlo and Latin hypercube (SALib).

Modules, in the order a sweep uses them: :mod:`.methods` (the registry of sampling and
analysis methods), :mod:`.outcomes` (what each run is reduced to), :mod:`.executors` (where
chunks run: in process or on Dask), :mod:`.store` (the sweep's folder; resumable chunks),
:mod:`.figures` (tornado, probability and fan plots), :mod:`.run` (the generic sweep) and
:mod:`.model` (a sweep of a scenario of the model).
"""

from czsim.experiments.sweeps.model import ModelEvaluator, build_problem, labels, sweep
from czsim.experiments.sweeps.outcomes import list_outcomes
from czsim.experiments.sweeps.run import SweepResult, run_sweep

__all__ = [
    "ModelEvaluator",
    "SweepResult",
    "build_problem",
    "labels",
    "list_outcomes",
    "run_sweep",
    "sweep",
]
