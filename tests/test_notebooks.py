"""The notebooks run top to bottom without error, and are committed with their outputs stripped.

The kernel is this interpreter (a kernelspec written to a temporary folder), so the test works
in a fresh virtual environment whatever kernels Jupyter finds elsewhere on the machine.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from czsim import paths

NOTEBOOK_DIR = Path(paths.ROOT) / "notebooks"
NOTEBOOKS = ("01_explore_scenarios.ipynb", "02_sensitivity.ipynb", "03_model_walkthrough.ipynb")
NOTEBOOKS += ("04_what_it_takes.ipynb",)
#: Each notebook must run in under two minutes on the project's 2-core machine.
BUDGET_SECONDS = 120


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / "czsim-test"
    spec.mkdir()
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "czsim test kernel",
                "language": "python",
            }
        ),
        encoding="utf-8",
    )
    return folder


#: How to strip a notebook before committing it (nbformat only, no nbconvert needed).
STRIP_HINT = (
    'strip it: python -c "import nbformat, sys; nb = nbformat.read(sys.argv[1], 4); '
    "[c.update(outputs=[], execution_count=None) for c in nb.cells "
    "if c.cell_type == 'code']; nbformat.write(nb, sys.argv[1])\" NOTEBOOK"
)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_has_no_outputs(name):
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{name} has outputs; {STRIP_HINT}"
            assert cell.execution_count is None, f"{name} has execution counts; {STRIP_HINT}"


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, kernel_dir, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    km = KernelManager(
        kernel_name="czsim-test",
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
    )
    client = NotebookClient(
        nb,
        km=km,
        timeout=BUDGET_SECONDS,
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    start = time.monotonic()
    client.execute()  # raises CellExecutionError on the first failing cell
    elapsed = time.monotonic() - start
    assert elapsed < BUDGET_SECONDS, f"{name} took {elapsed:.0f} s"
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.outputs
        if "image/png" in o.get("data", {}) or "image/svg+xml" in o.get("data", {})
    ]
    assert images, f"{name} drew no figure"
