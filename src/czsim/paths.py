"""Where the project's data files live.

The model, parameter table, targets and scenarios are data files at the project root (next to
``src/``). ``CZSIM_HOME`` overrides the root, for installs outside a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """Return the folder holding ``model/`` and ``scenarios/``."""
    env = os.environ.get("CZSIM_HOME")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "model" / "changzhou.mdl").is_file():
            return parent
    return Path.cwd()


ROOT = project_root()
MODEL_FILE = ROOT / "model" / "changzhou.mdl"
PARAMETERS_FILE = ROOT / "model" / "parameters.toml"
TARGETS_FILE = ROOT / "model" / "targets.toml"
SCENARIO_DIR = ROOT / "scenarios"
