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
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


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

    def close(self) -> None:
        """Stop the worker threads (idempotent); a later :meth:`run` starts new ones."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def start(self, tasks: Sequence[Callable[[], T]]) -> Pending[T]:
        """Hand ``tasks`` to the workers and return at once, so the caller can go on with work
        of its own (its SQL, say) while they sign; :meth:`Pending.results` collects them,
        running in the caller whatever no worker has started by then. With ``size=1`` nothing
        is queued: the tasks run in the caller when the results are asked for."""
        if self.size == 1 or not tasks:
            return Pending(tasks, None)
        executor = self._start()
        return Pending(tasks, [executor.submit(task) for task in tasks])

    def _run(self, tasks: Sequence[Callable[[], Any]]) -> list[Any]:
        if self.size == 1 or len(tasks) < 2:
            return [task() for task in tasks]
        # The caller keeps the first task for itself: it would only wait otherwise.
        rest = self.start(tasks[1:])
        try:
            first = tasks[0]()
        except BaseException:
            rest.cancel()
            raise
        return [first, *rest.results()]

    def _start(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.size - 1, thread_name_prefix="mobile-jpki-sign"
                )
            return self._executor


class Pending(Generic[T]):
    """Tasks given to the workers (:meth:`SigningPool.start`) whose results are collected later."""

    def __init__(self, tasks: Sequence[Callable[[], T]], futures: list[Future[T]] | None) -> None:
        self._tasks = tasks
        self._futures = futures  # None: no workers, the tasks run in the caller, in order

    def results(self) -> list[T]:
        """The results, in the tasks' order. Workers take from the front of the queue; the
        caller takes back from the end whatever no worker has started (``cancel()`` succeeds
        only for pending futures) and runs it itself. The first exception raised by a task is
        raised here, after the tasks not yet started are cancelled."""
        if self._futures is None:
            return [task() for task in self._tasks]
        futures = self._futures
        results: list[Any] = [None] * len(self._tasks)
        done = len(futures)  # futures[done:] were taken back and run here
        try:
            while done and futures[done - 1].cancel():
                done -= 1
                results[done] = self._tasks[done]()
            for i in range(done):
                results[i] = futures[i].result()
        except BaseException:
            self.cancel()
            raise
        return cast(list[T], results)

    def cancel(self) -> None:
        """Drop the tasks no worker has started (a started one finishes; its result is lost)."""
        for future in self._futures or ():
            future.cancel()


class SignedWrites:
    """Signatures started during a transaction and the writes that wait for them.

    A batch of issuance jobs (service/portal) queues each job's signatures as soon as the job
    knows what to sign, then goes on with the next job's reads and writes while the workers
    sign; :meth:`finish`, still inside the transaction, writes every signed row (in the order
    the writes were added), so nothing signed is committed apart from the rows it speaks for.
    On a rollback call :meth:`cancel`: the results are dropped."""

    def __init__(self) -> None:
        self._steps: list[tuple[Pending[Any], Callable[[list[Any]], object]]] = []

    def add(self, pending: Pending[T], write: Callable[[list[T]], object]) -> None:
        """Call ``write`` with ``pending``'s results at :meth:`finish`."""
        self._steps.append((pending, write))

    def finish(self) -> None:
        """Every write with its results, in order; after it the object is empty again."""
        steps, self._steps = self._steps, []
        try:
            for pending, write in steps:
                write(pending.results())
        except BaseException:
            for pending, _ in steps:
                pending.cancel()
            raise

    def cancel(self) -> None:
        steps, self._steps = self._steps, []
        for pending, _ in steps:
            pending.cancel()
