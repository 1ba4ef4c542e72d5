"""Where sweep chunks run: in this process, on a local Dask cluster, or on a remote one.

Each chunk is one task ``evaluate(x_chunk)``. Results come back as they finish (any order),
so the caller can write each one to disk at once.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from types import TracebackType

import numpy as np

from czsim.errors import CzsimError

Evaluate = Callable[[np.ndarray], Mapping[str, np.ndarray]]
Task = tuple[int, np.ndarray]

#: Seconds to wait for a Dask scheduler to answer before giving up.
CONNECT_TIMEOUT = 3.0
#: Times a Dask task is resubmitted after raising; a task whose worker died is rescheduled by
#: the scheduler itself (``distributed.scheduler.allowed-failures``).
RETRIES = 2


def evaluate_chunk(evaluate: Evaluate, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run one chunk and make its outcomes plain float64 arrays (``(r,)`` or ``(r, T)``)."""
    return {k: np.asarray(v, dtype=float) for k, v in evaluate(x).items()}


class InProcess(AbstractContextManager):
    """Evaluate chunks one after another in this process."""

    description = "in-process"

    def map(self, evaluate: Evaluate, tasks: list[Task]) -> Iterator[tuple[int, dict]]:
        """Yield ``(chunk index, outcomes)`` in task order."""
        for index, x in tasks:
            yield index, evaluate_chunk(evaluate, x)

    def __exit__(self, *exc: object) -> None:
        return None


class DaskExecutor(AbstractContextManager):
    """Evaluate chunks as tasks of a Dask ``distributed`` cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:port``).
    workers : int, optional
        Start a ``LocalCluster`` of this many single-threaded worker processes instead.
    """

    def __init__(self, *, scheduler: str | None = None, workers: int | None = None) -> None:
        import dask
        from distributed import Client, LocalCluster

        self._cluster = None
        if scheduler is not None:
            try:
                self.client = Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise CzsimError(
                    f"cannot reach the Dask scheduler at {scheduler} within "
                    f"{CONNECT_TIMEOUT:g} s ({type(exc).__name__}: {exc})",
                    key="scheduler",
                ) from None
            self.description = f"dask scheduler {scheduler}"
        else:
            # Forked workers inherit this process's imports and parsed model, so they start
            # in about a second instead of re-importing everything (10-20 s on 2 cores).
            # The setting stays in force while the cluster lives: a worker that dies is
            # restarted the same way.
            method = (
                "fork"
                if "fork" in multiprocessing.get_all_start_methods()
                else dask.config.get("distributed.worker.multiprocessing-method")
            )
            self._config = dask.config.set({"distributed.worker.multiprocessing-method": method})
            try:
                self._cluster = LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            except BaseException:
                self._config.__exit__(None, None, None)
                raise
            self.client = Client(self._cluster, set_as_default=False)
            self.description = f"dask LocalCluster ({workers} worker processes, {method})"

    def map(self, evaluate: Evaluate, tasks: list[Task]) -> Iterator[tuple[int, dict]]:
        """Submit every chunk, then yield ``(chunk index, outcomes)`` as each finishes."""
        from distributed import as_completed

        # The evaluator travels with each task (it is small): scattered data would be lost
        # with the worker holding it, and a resubmitted chunk must not depend on that.
        futures = {
            self.client.submit(evaluate_chunk, evaluate, x, pure=False, retries=RETRIES): index
            for index, x in tasks
        }
        try:
            for future in as_completed(futures, loop=self.client.loop):
                yield futures[future], future.result()
        finally:
            for future in futures:
                future.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._config.__exit__(None, None, None)


def open_executor(scheduler: str | None, workers: int | None) -> InProcess | DaskExecutor:
    """The executor for the sweep's options (validated here, before anything is written).

    Raises
    ------
    CzsimError
        Both ``scheduler`` and ``workers``, ``workers < 1``, a malformed address, or a
        scheduler that does not answer within :data:`CONNECT_TIMEOUT` seconds.
    """
    if scheduler is not None and workers is not None:
        raise CzsimError(
            "give either a scheduler address or a number of workers, not both", key="scheduler"
        )
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise CzsimError(f"workers must be a whole number >= 1, got {workers!r}", key="workers")
        return DaskExecutor(workers=workers)
    if scheduler is not None:
        if "://" not in scheduler:
            raise CzsimError(
                f"scheduler address '{scheduler}' needs a protocol, e.g. tcp://127.0.0.1:8786",
                key="scheduler",
            )
        return DaskExecutor(scheduler=scheduler)
    return InProcess()
