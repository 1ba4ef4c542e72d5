"""Shared fixtures. Results of the four scenario files are computed once per session."""

from __future__ import annotations

import pytest

import czsim


@pytest.fixture(scope="session")
def scenario_results():
    """Ensemble results of every scenario file, by name."""
    return {name: czsim.run(name) for name in czsim.list_scenarios()}
