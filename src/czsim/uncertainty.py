"""Draws of a scenario's uncertainty: its ``[uncertain]`` ranges and its ``[posterior]``.

The one place that turns a scenario's uncertainty into parameter sets, used by the app's bands
and probabilities and by the decision tools' probabilities. Ranges are drawn uniformly (Latin
hypercube or independent, the sweeps' own samplers, so a seed gives the same sample as
``czsim sweep``); the fitted parameters of ``[posterior]`` are drawn jointly from it
(:mod:`czsim.posterior`), whether or not they also have a range (ranges are for sweeps, which
need independent inputs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from czsim.experiments.sweeps import methods as sweep_methods
from czsim.parameters import load_parameters
from czsim.scenarios import Scenario

#: Sampling choices -> the sweep methods of the same draws.
SAMPLERS = {"lhs": "lhs", "uniform": "mc", "random": None}


def draw(
    scenario: Scenario,
    n_runs: int,
    seed: int,
    method: str = "lhs",
    exclude: Sequence[str] = (),
) -> pd.DataFrame:
    """Draw ``n_runs`` parameter sets of the scenario's uncertainty.

    Parameters
    ----------
    scenario : Scenario
    n_runs : int
    seed : int
        The same seed gives the same draws.
    method : {"lhs", "uniform", "random"}
        For the ranges: Latin hypercube, the sweeps' independent draws, or
        ``numpy.random.default_rng(seed).uniform`` (the decision tools' draws).
    exclude : names not drawn (the levers a decision sets); a posterior parameter excluded is
        marginalised out.

    Returns
    -------
    pandas.DataFrame
        One column per drawn parameter (ranges first, in the scenario's order, then the
        posterior's), one row per run.
    """
    if method not in SAMPLERS:
        raise ValueError(f"unknown sampling method {method!r}")
    skip = set(exclude)
    posterior = scenario.posterior
    if posterior is not None:
        posterior = posterior.marginal([p for p in posterior.parameters if p not in skip])
    joint = set(posterior.parameters) if posterior is not None else set()
    names = [n for n in scenario.uncertain if n not in skip and n not in joint]
    columns: dict[str, np.ndarray] = {}
    if names and n_runs > 0:
        bounds = [scenario.uncertain[n] for n in names]
        if SAMPLERS[method] is None:
            b = np.asarray(bounds, dtype=float)
            x = np.random.default_rng(seed).uniform(b[:, 0], b[:, 1], size=(n_runs, len(names)))
        else:
            problem = sweep_methods.make_problem(names, bounds)
            x = np.asarray(
                sweep_methods.get(SAMPLERS[method]).sample(problem, n_runs, seed), dtype=float
            )
        columns.update({n: x[:, i].copy() for i, n in enumerate(names)})
    if posterior is not None and n_runs > 0:
        table = scenario.table if scenario.table is not None else load_parameters()
        bounds = {p: (table[p].low, table[p].high) for p in posterior.parameters}
        columns.update(posterior.draw(n_runs, seed, bounds))
    return pd.DataFrame(columns, index=pd.RangeIndex(max(n_runs, 0)))
