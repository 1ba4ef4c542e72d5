"""The app's calls into the package, cached.

The model's documentation (element table, structure diagram) and the scenario files are
loaded once per process (``st.cache_resource``: read-only, shared by every session); the
parameter and target tables are cached by the package itself. Results are cached per
scenario, keyed by the scenario's TOML text, so a slider moved back to a value seen before
costs nothing and two users with the same scenario share the run (``st.cache_data`` hands
each caller its own copy). Every key also carries the modification times of the files the
answer depends on, so an edited model, parameter table, target list or scenario file is
picked up without a restart.
"""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st
import xarray as xr

from czsim import api, paths, uncertainty
from czsim.parameters import ParameterTable, load_parameters
from czsim.scenarios import Scenario, list_scenarios, load_scenario, load_scenario_text
from czsim.targets import (
    Target,
    headline,
    load_targets,
    probabilities,
    scorecard,
    target_values,
)
from czsim.ui import logic


def parameter_table() -> ParameterTable:
    """Return the parameter table (every slider); the package caches it until the file changes."""
    return load_parameters()


def target_list() -> tuple[Target, ...]:
    """Return the policy's targets; the package caches them until the file changes."""
    return load_targets()


_INPUTS_STAMP: list[tuple[float, tuple[int, ...]]] = []


def inputs_stamp() -> tuple[int, ...]:
    """Return the modification times of the files every result depends on.

    These are the files besides the scenario: part of each cache key, so results never outlive
    an edit of the model, parameters or targets (looked at no more than once a second).
    """
    now = time.monotonic()
    if _INPUTS_STAMP and now - _INPUTS_STAMP[0][0] < 1.0:
        return _INPUTS_STAMP[0][1]
    stamp = tuple(
        p.stat().st_mtime_ns for p in (paths.MODEL_FILE, paths.PARAMETERS_FILE, paths.TARGETS_FILE)
    )
    _INPUTS_STAMP[:] = [(now, stamp)]
    return stamp


def scenario_names() -> list[str]:
    """Scenario files shipped in ``scenarios/``."""
    return list_scenarios()


def scenario_file(name: str) -> Scenario:
    """Return a scenario of ``scenarios/`` by name.

    It is read again when any scenario file changes (a parent's change changes its children).
    """
    key = (name, _scenario_stamp(), inputs_stamp())
    # A plain dict in front of the shared cache: a rerun asks for the same few scenarios
    # dozens of times (every widget), and hashing the cache's arguments each time added up.
    if key not in _SCENARIOS:
        if len(_SCENARIOS) > 64:
            _SCENARIOS.clear()
        _SCENARIOS[key] = _scenario_file(*key)
    return _SCENARIOS[key]


_SCENARIOS: dict[tuple, Scenario] = {}


#: (checked at, stamp): the scenario folder is looked at no more than once a second, not once
#: per widget of a rerun.
_SCENARIO_STAMP: list[tuple[float, int]] = []


def _scenario_stamp() -> int:
    now = time.monotonic()
    if _SCENARIO_STAMP and now - _SCENARIO_STAMP[0][0] < 1.0:
        return _SCENARIO_STAMP[0][1]
    stamp = max(p.stat().st_mtime_ns for p in paths.SCENARIO_DIR.glob("*.toml"))
    _SCENARIO_STAMP[:] = [(now, stamp)]
    return stamp


@st.cache_resource(max_entries=64)
def _scenario_file(name: str, stamp: int, inputs: tuple[int, ...]) -> Scenario:
    # Frozen, so one copy is safely shared by every session.
    return load_scenario(name)


def _scenario(toml_text: str) -> Scenario:
    """Return the scenario written as ``toml_text`` (parsed once per text and file state).

    A rerun runs the same text three times (the run, the verdict's ensemble, the levers'
    reach); parsing and validating it cost ~10 ms each time. Frozen, so one copy is shared.
    """
    key = (toml_text, _scenario_stamp(), inputs_stamp())
    scenario = _TEXTS.get(key)
    if scenario is None:
        scenario = load_scenario_text(toml_text, filename="scenario.toml")
        if len(_TEXTS) > 256:
            _TEXTS.clear()
        _TEXTS[key] = scenario
    return scenario


_TEXTS: dict[tuple, Scenario] = {}


@st.cache_data(max_entries=128, show_spinner=False)
def run_scenario(toml_text: str, stamp: tuple[int, ...]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the scenario written as ``toml_text`` once and score it.

    Returns
    -------
    card : pandas.DataFrame
        Its scorecard.
    series : pandas.DataFrame
        Every tracked target's variable over time (``id``, ``year``, ``value``).
    """
    result = api.run(_scenario(toml_text))
    return scorecard(result), logic.target_frame(result, target_list())


@st.cache_data(max_entries=8, show_spinner=False)
def full_results(toml_text: str, stamp: tuple[int, ...]) -> xr.Dataset:
    """Return every variable of the scenario's run, for downloads.

    Kept apart from :func:`run_scenario` so reruns do not copy the whole dataset out of the
    cache.
    """
    return api.run(_scenario(toml_text))


@st.cache_data(max_entries=32, show_spinner=False)
def run_ensemble(
    toml_text: str, n_runs: int, seed: int, method: str, stamp: tuple[int, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the scenario ``n_runs`` times with its ``[uncertain]`` parameters drawn.

    Returns
    -------
    bands : pandas.DataFrame
        P10 / median / P90 of each tracked target's variable (``id``, ``year``, ...).
    chances : pandas.DataFrame
        Probability of reaching each tracked target (index id).
    """
    scenario = _scenario(toml_text)
    draws = uncertainty.draw(scenario, n_runs, seed, method)
    variables = sorted({tg.variable for tg in target_list() if tg.tracked})
    result = api.run_many(scenario, draws, variables=variables)
    return logic.band_frame(result, target_list()), probabilities(result)


@st.cache_data(max_entries=32, show_spinner=False)
def lever_reach(toml_text: str, stamp: tuple[int, ...]) -> pd.DataFrame:
    """How far each key lever alone moves the headline over its whole range.

    One batch of runs: each key lever at its low and at its high end, the others as in the
    scenario. Returns index lever name, columns ``low`` and ``high`` (the headline's value in
    its year, in its unit); levers set as a time series by the scenario are not in it.
    """
    scenario = _scenario(toml_text)
    table = parameter_table()
    names, frame = logic.reach_rows(scenario, [p.name for p in table.key_levers()], table)
    if not names:
        return pd.DataFrame(columns=["low", "high"])
    head = headline().target
    variable = head.variable.split("[")[0]
    result = api.run_many(scenario, frame, variables=[variable], times=[head.year])
    values = target_values(result, [head])[:, 0, 0] * head.display_scale
    return pd.DataFrame({"low": values[0::2], "high": values[1::2]}, index=names)


def model_docs() -> tuple[pd.DataFrame, str]:
    """Return every element of the model and the Graphviz source of its structure.

    Each element has its name, sector, type, units, equation and comment.
    """
    return _model_docs(inputs_stamp())


@st.cache_resource(max_entries=4)
def _model_docs(stamp: tuple[int, ...]) -> tuple[pd.DataFrame, str]:
    # Imported here so that only the Model page waits for the model's documentation to be read.
    from czsim import structure

    return structure.element_table(), structure.diagram_dot()


def diagram_svg(level: str) -> str | None:
    """Return the model's structure as SVG (``"sector"`` or ``"element"`` level).

    It is drawn once per process; None when Graphviz is not installed.
    """
    return _diagram_svg(level, inputs_stamp())


@st.cache_resource(max_entries=4)
def _diagram_svg(level: str, stamp: tuple[int, ...]) -> str | None:
    from czsim import structure
    from czsim.errors import CzsimError

    try:
        return structure.render_svg(structure.diagram_dot(level=level))
    except CzsimError:
        return None
