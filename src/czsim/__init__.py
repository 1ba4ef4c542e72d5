"""Simulate scenarios of Changzhou's industrial economy against the targets of 常发〔2022〕1号.

czsim: a system-dynamics scenario simulator of Changzhou's industrial economy and the targets
of 常发〔2022〕1号.

The public API (see :mod:`czsim.api`)::

    load_scenario(path_or_name) -> Scenario
    run(scenario, engine="ensemble") -> xarray.Dataset
    run_many(base, overrides) -> xarray.Dataset          # one run per row
    scorecard(result) -> pandas.DataFrame
    compare([...]) -> pandas.DataFrame
    target_table() -> pandas.DataFrame                   # the policy's targets
    break_even(target, scenario, levers) -> pandas.DataFrame   # see czsim.decisions
    what_it_takes(target, scenario, levers, probability=) -> Solution
    attribute(base, other, outcome) -> Attribution
"""

from importlib import metadata as _metadata

from czsim.api import compare, run, run_many, target_table
from czsim.decisions import Attribution, Solution, attribute, break_even, what_it_takes
from czsim.errors import CzsimError, ModelError, ParameterError, ScenarioError
from czsim.parameters import Parameter, load_parameters
from czsim.scenarios import Scenario, list_scenarios, load_scenario
from czsim.targets import load_targets, probabilities, scorecard

__all__ = [
    "Attribution",
    "CzsimError",
    "ModelError",
    "Parameter",
    "ParameterError",
    "Scenario",
    "ScenarioError",
    "Solution",
    "attribute",
    "break_even",
    "compare",
    "list_scenarios",
    "load_parameters",
    "load_scenario",
    "load_targets",
    "probabilities",
    "run",
    "run_many",
    "scorecard",
    "target_table",
    "what_it_takes",
]
try:  # one version source: pyproject.toml, through the installed package's metadata
    __version__ = _metadata.version("czsim")
except _metadata.PackageNotFoundError:  # a source tree on PYTHONPATH, not installed
    __version__ = "0+unknown"
