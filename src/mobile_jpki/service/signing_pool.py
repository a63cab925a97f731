"""Runs the CA's RSA signatures on several cores.

``cryptography`` releases the GIL while OpenSSL computes an RSA signature (measured on the
2-core CI machine: two threads sign ~2,000/s where one signs ~1,170/s), and every certificate
the CA issues costs one or two such signatures, so threads — not processes: keys, builders
and results stay in memory, nothing is pickled — are what spread issuance over the cores.

``size`` threads sign: the caller's and ``size - 1`` workers. :meth:`SigningPool.run` queues
the tasks, runs the first itself, then takes tasks back from the end of the queue and runs
them too until it meets one a worker has already started. So ``size`` = the cores keeps every
core signing without a thread more than there are cores (a surplus thread only adds GIL
hand-offs); a call never depends on the pool being free — a revocation re-signing inside its
write transaction is never stuck behind another caller's queued issuance batch — and with
``size=1`` nothing is queued at all: the tasks run in order in the caller.

The tasks must be pure (build and sign; no database session, no shared mutable state): they
run in any order, on any thread. Keys that cannot sign concurrently serialise themselves
(``keys.pkcs11`` holds one lock per PKCS#11 module).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar, cast

T = TypeVar("T")
U = TypeVar("U")


def default_size() -> int:
    """One signing thread per core."""
    return os.cpu_count() or 1


class SigningPool:
    """``size`` threads (the caller's and ``size - 1`` lazily started workers) for
    independent signing tasks."""

    def __init__(self, size: int | None = None) -> None:
        self.size = default_size() if size is None else size
        if self.size < 1:
            raise ValueError("a signing pool needs at least one thread")
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def run(self, tasks: Sequence[Callable[[], T]]) -> list[T]:
        """The results of ``tasks``, in their order. The first exception raised by a task is
        raised here (after the tasks not yet started are cancelled)."""
        return cast(list[T], self._run(tasks))

    def run_pair(
        self, first: Sequence[Callable[[], T]], second: Sequence[Callable[[], U]]
    ) -> tuple[list[T], list[U]]:
        """Two lists of tasks with different result types, run as ONE batch (so, e.g., a
        certificate and its OCSP response are signed at the same time)."""
        results = self._run([*first, *second])
        return cast(list[T], results[: len(first)]), cast(list[U], results[len(first) :])

    def close(self) -> None:
        """Stop the worker threads (idempotent); a later :meth:`run` starts new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def _run(self, tasks: Sequence[Callable[[], Any]]) -> list[Any]:
        if self.size == 1 or len(tasks) < 2:
            return [task() for task in tasks]
        executor = self._start()
        # The caller keeps the first task for itself: it would only wait otherwise.
        futures: list[Future[Any]] = [executor.submit(task) for task in tasks[1:]]
        results: list[Any] = [None] * len(tasks)
        try:
            results[0] = tasks[0]()
            # Workers take from the front of the queue; the caller takes back from the end
            # whatever no worker has started (cancel() succeeds only for pending futures).
            for i in range(len(futures) - 1, -1, -1):
                if not futures[i].cancel():
                    break
                results[i + 1] = tasks[i + 1]()
            for i, future in enumerate(futures):
                if not future.cancelled():
                    results[i + 1] = future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
        return results

    def _start(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.size - 1, thread_name_prefix="mobile-jpki-sign"
                )
            return self._executor
