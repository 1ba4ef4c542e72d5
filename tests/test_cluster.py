"""Sweeps on a real Dask cluster: a ``dask scheduler`` and two ``dask worker`` processes.

The workers are separate processes started from the command line, in another working
directory, with ``CZSIM_HOME`` pointing at an empty folder: they can reach none of the
project's files, so a sweep only works if everything it needs travels with its tasks.
Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import numpy as np
import pytest
from test_sweeps import ISHIGAMI, SMALL_MODEL_SWEEP, assert_same_result, ishigami

from czsim.experiments.sweeps import methods as sweep_methods
from czsim.experiments.sweeps import run_sweep, sweep

# The workers cannot import this test module: ship its evaluators by value.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

pytest.importorskip("distributed")

START_TIMEOUT = 120.0


class KillWorkerOnce:
    """Ishigami that kills its own worker process the first time it sees one chunk."""

    def __init__(self, marker: Path, first_row: np.ndarray) -> None:
        self.marker = marker
        self.first_row = first_row

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        if np.array_equal(x[0], self.first_row) and not self.marker.exists():
            self.marker.touch()
            os._exit(1)
        return ishigami(x)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Address of a scheduler with two single-threaded workers (each under a nanny)."""
    from distributed import Client

    root = tmp_path_factory.mktemp("cluster")
    elsewhere = root / "workdir"
    empty_home = root / "no-project"
    elsewhere.mkdir()
    empty_home.mkdir()
    env = {**os.environ, "CZSIM_HOME": str(empty_home)}
    scheduler_file = root / "scheduler.json"
    log = (root / "cluster.log").open("w")

    def start(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "dask", *args, "--no-dashboard"],
            cwd=elsewhere,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    procs = [
        start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--scheduler-file",
            str(scheduler_file),
        )
    ]
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not scheduler_file.exists():
            if time.monotonic() > deadline or procs[0].poll() is not None:
                pytest.fail(f"the scheduler did not start: {(root / 'cluster.log').read_text()}")
            time.sleep(0.1)
        for _ in range(2):
            procs.append(
                start(
                    "worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "1",
                    "--nworkers",
                    "1",
                    "--local-directory",
                    str(elsewhere),
                )
            )
        with Client(scheduler_file=str(scheduler_file), timeout=30) as client:
            client.wait_for_workers(2, timeout=START_TIMEOUT)
            address = client.scheduler.address
        yield address
    finally:
        _stop(procs)
        log.close()


def test_model_sweep_on_workers_without_the_project_equals_in_process(cluster):
    local = sweep("plan", **SMALL_MODEL_SWEEP)
    remote = sweep("plan", scheduler=cluster, **SMALL_MODEL_SWEEP)
    assert remote.manifest["executor"] == f"dask scheduler {cluster}"
    assert_same_result(local, remote)


def test_worker_that_dies_mid_task_loses_nothing(cluster, tmp_path):
    x = sweep_methods.sample(ISHIGAMI, "lhs", 300, 0)
    killer = KillWorkerOnce(tmp_path / "killed-once", x[100])
    reference = run_sweep(ISHIGAMI, ishigami, method="lhs", n=300, seed=0, chunk_size=100)
    res = run_sweep(
        ISHIGAMI,
        killer,
        method="lhs",
        n=300,
        seed=0,
        chunk_size=100,
        scheduler=cluster,
        out=tmp_path / "out",
    )
    assert (tmp_path / "killed-once").exists()
    assert_same_result(reference, res)
