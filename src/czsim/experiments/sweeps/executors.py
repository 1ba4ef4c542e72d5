"""Where sweep chunks run: in this process, on a local Dask cluster, or on a remote one.

Each chunk is one task ``evaluate(x_chunk)``. Results come back as they finish (any order),
so the caller can write each one to disk at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from types import TracebackType

import numpy as np

from czsim.errors import ClusterError, CzsimError

Evaluate = Callable[[np.ndarray], Mapping[str, np.ndarray]]
Task = tuple[int, np.ndarray]

#: Seconds to wait for a Dask scheduler to answer before giving up.
CONNECT_TIMEOUT = 3.0
#: Seconds to wait for a scheduler to have at least one worker.
WORKER_TIMEOUT = 30.0
#: Times a Dask task is resubmitted after raising; a task whose worker died is rescheduled by
#: the scheduler itself (``distributed.scheduler.allowed-failures``).
RETRIES = 2


def evaluate_chunk(evaluate: Evaluate, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run one chunk and make its outcomes plain float64 arrays (``(r,)`` or ``(r, T)``)."""
    return {k: np.asarray(v, dtype=float) for k, v in evaluate(x).items()}


#: Evaluators unpickled in this (worker) process, by the sha256 of their pickle.
_EVALUATORS: dict[str, Evaluate] = {}


def evaluate_pickled(sha: str, payload: bytes, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run one chunk with an evaluator shipped as cloudpickle bytes (unpickled once here)."""
    evaluate = _EVALUATORS.get(sha)
    if evaluate is None:
        import cloudpickle

        if len(_EVALUATORS) >= 8:
            _EVALUATORS.clear()
        evaluate = _EVALUATORS[sha] = cloudpickle.loads(payload)
    return evaluate_chunk(evaluate, x)


class InProcess(AbstractContextManager):
    """Evaluate chunks one after another in this process."""

    description = "in-process"
    #: chunks evaluated at the same time
    slots = 1

    def map(self, evaluate: Evaluate, tasks: list[Task]) -> Iterator[tuple[int, dict]]:
        """Yield ``(chunk index, outcomes)`` in task order."""
        for index, x in tasks:
            yield index, evaluate_chunk(evaluate, x)

    def __exit__(self, *exc: object) -> None:
        """Do nothing: there is nothing to release."""
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
            check_address(scheduler)
            try:
                self.client = _connect(Client, scheduler)
            except ClusterError:
                probe(scheduler)  # says what is there instead, if it can tell
                raise
            self.description = f"dask scheduler {scheduler}"
            try:
                self.client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
            except (TimeoutError, OSError) as exc:
                self.client.close()
                raise ClusterError(
                    f"the Dask scheduler at {scheduler} has no workers after "
                    f"{WORKER_TIMEOUT:g} s; start some with 'dask worker {scheduler}' "
                    f"({type(exc).__name__})",
                    key="scheduler",
                ) from None
        else:
            # Workers are started the way Dask starts them by default (spawned: fresh
            # interpreters). Forking is faster but copies this process's locks mid-use: a
            # process with threads (an app, a notebook, a test run) can hang a forked
            # worker for ever.
            method = dask.config.get("distributed.worker.multiprocessing-method")
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
                # each worker process is one of the machine's cores: its engine runs in
                # one thread (else N workers x N engine threads oversubscribe the cores)
                env={"CZSIM_THREADS": "1"},
            )
            self.client = Client(self._cluster, set_as_default=False)
            self.description = f"dask LocalCluster ({workers} worker processes, {method})"
        #: chunks evaluated at the same time: the workers' threads when the sweep starts
        try:
            self.slots = max(1, sum(self.client.nthreads().values()))
        except (OSError, TimeoutError):  # pragma: no cover - a scheduler gone in between
            self.slots = 1

    def map(self, evaluate: Evaluate, tasks: list[Task]) -> Iterator[tuple[int, dict]]:
        """Submit every chunk, then yield ``(chunk index, outcomes)`` as each finishes."""
        import hashlib

        import cloudpickle
        from distributed import as_completed

        # The evaluator travels with each task, pickled by cloudpickle (so one defined in a
        # notebook or a module registered with ``register_pickle_by_value`` needs nothing on
        # the workers), and is unpickled once per worker. It is small (the model's text is
        # ~50 kB): scattered data would be lost with the worker holding it, and a
        # resubmitted chunk must not depend on that.
        payload = cloudpickle.dumps(evaluate)
        sha = hashlib.sha256(payload).hexdigest()
        futures = {
            self.client.submit(
                evaluate_pickled, sha, payload, x, pure=False, retries=RETRIES
            ): index
            for index, x in tasks
        }
        from distributed import KilledWorker

        try:
            for future in as_completed(futures, loop=self.client.loop):
                try:
                    outcomes = future.result()
                except KilledWorker as exc:
                    raise ClusterError(
                        f"chunk {futures[future]} killed its Dask worker repeatedly "
                        f"(KilledWorker, task {getattr(exc, 'task', '?')}); the finished "
                        "chunks are saved: fix the workers (memory?) "
                        "and rerun the same command to resume",
                        key="workers",
                    ) from None
                yield futures[future], outcomes
        finally:
            for future in futures:
                future.cancel()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the client and, if this executor started one, the local cluster."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


def check_address(address: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of ``tcp://HOST:PORT`` (or ``tls://``), else ClusterError."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address)
        scheme, host, port = parts.scheme, parts.hostname, parts.port
    except ValueError:
        scheme = host = port = None
    if scheme not in ("tcp", "tls") or not host or not port:
        raise ClusterError(
            f"scheduler address '{address}' is not tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786",
            key="scheduler",
        )
    return scheme, host, port


def probe(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Check in bounded time that a Dask scheduler could be listening at ``address``.

    Check that something that could be a Dask scheduler listens at ``address``
    (``tcp://host:port``); raise :class:`ClusterError` saying what was found.
    """
    import socket

    scheme, host, port = check_address(address)
    if scheme != "tcp":
        return  # a handshake is needed before anything can be read; leave it to Dask
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(min(timeout, 1.5))
            sock.sendall(b"GET / HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n")
            try:
                head = sock.recv(16)
            except TimeoutError:
                head = b""
            except OSError:
                head = b""
    except TimeoutError:
        raise ClusterError(
            f"nothing answered at {address} within {timeout:g} s (a firewall, or a wrong host?)",
            key="scheduler",
        ) from None
    except OSError as exc:
        raise ClusterError(
            f"cannot reach the Dask scheduler at {address}: {exc.strerror or exc}",
            key="scheduler",
        ) from None
    if head.startswith(b"HTTP/"):
        raise ClusterError(
            f"{address} is an HTTP server (the Dask dashboard?), not a Dask scheduler; the "
            "scheduler usually listens on port 8786",
            key="scheduler",
        )
    if head and not head.startswith(b"\x00"):
        shown = head[:16].decode("ascii", errors="replace").strip()
        raise ClusterError(f"{address} answered {shown!r}: not a Dask scheduler", key="scheduler")


def _connect(client_class, address: str):
    """Connect ``Client(address)`` in a thread, with a time limit.

    Given up after :data:`CONNECT_TIMEOUT` (plus a margin) even when the other side accepts
    the connection and then says nothing.
    """
    import threading

    box: dict = {}

    def target() -> None:
        try:
            box["client"] = client_class(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True, name="czsim-dask-connect")
    thread.start()
    thread.join(CONNECT_TIMEOUT + 2)
    if thread.is_alive():
        raise ClusterError(
            f"{address} accepted the connection but did not answer as a Dask scheduler "
            f"within {CONNECT_TIMEOUT + 2:g} s",
            key="scheduler",
        )
    if "error" in box:
        exc = box["error"]
        if isinstance(exc, OSError | TimeoutError | ValueError):
            raise ClusterError(
                f"cannot reach the Dask scheduler at {address} within {CONNECT_TIMEOUT:g} s "
                f"({type(exc).__name__}: {exc})",
                key="scheduler",
            ) from None
        raise exc
    return box["client"]


def open_executor(scheduler: str | None, workers: int | None) -> InProcess | DaskExecutor:
    """Open the executor for the sweep's options (validated here, before anything is written).

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
