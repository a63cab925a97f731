"""The signing pool: results in task order whatever thread ran them, the caller working too,
errors raised and the tasks not yet started cancelled, one thread = the caller alone; tasks
started to sign while the caller goes on, and the writes that wait for them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from mobile_jpki.service.signing_pool import SignedWrites, SigningPool, default_size
from mobile_jpki.settings import Settings


def test_results_keep_task_order() -> None:
    pool = SigningPool(3)
    try:
        tasks: list[Callable[[], int]] = [lambda i=i: i * i for i in range(50)]
        assert pool.run(tasks) == [i * i for i in range(50)]
        assert pool.run([]) == []
    finally:
        pool.close()


def test_started_tasks_sign_while_the_caller_goes_on() -> None:
    # start() returns before its tasks finish: a task waiting for the caller's own later step
    # can only complete if it runs on a worker while the caller goes on.
    caller_went_on = threading.Event()
    pool = SigningPool(2)
    try:
        pending = pool.start([lambda: caller_went_on.wait(10), lambda: 7])
        caller_went_on.set()
        assert pending.results() == [True, 7]
    finally:
        pool.close()


def test_one_thread_starts_nothing_until_results_are_asked() -> None:
    ran: list[int] = []
    pending = SigningPool(1).start([lambda i=i: ran.append(i) or i for i in range(3)])
    assert ran == []
    assert pending.results() == [0, 1, 2] and ran == [0, 1, 2]


def test_signed_writes_run_in_order_at_finish_and_not_after_a_cancel() -> None:
    pool = SigningPool(2)
    written: list[object] = []
    try:
        later = SignedWrites()
        later.add(pool.start([lambda: "a", lambda: "b"]), written.append)
        later.add(pool.start([lambda: 1]), written.append)
        assert written == []
        later.finish()
        assert written == [["a", "b"], [1]]
        later.finish()  # emptied by the first finish
        assert written == [["a", "b"], [1]]
        dropped = SignedWrites()
        dropped.add(pool.start([lambda: "c"]), written.append)
        dropped.cancel()
        dropped.finish()
        assert written == [["a", "b"], [1]]
    finally:
        pool.close()


def test_a_failed_signature_fails_finish_before_any_later_write() -> None:
    pool = SigningPool(2)
    written: list[object] = []

    def broken() -> str:
        raise RuntimeError("signer unreachable")

    try:
        later = SignedWrites()
        later.add(pool.start([broken]), written.append)
        later.add(pool.start([lambda: "never written"]), written.append)
        with pytest.raises(RuntimeError, match="signer unreachable"):
            later.finish()
        assert written == []
    finally:
        pool.close()


def test_tasks_run_concurrently() -> None:
    # Two tasks that can only finish together: they must be on two threads at once (the
    # caller's and a worker's).
    barrier = threading.Barrier(2, timeout=10)
    pool = SigningPool(2)
    try:
        names = pool.run([lambda: (barrier.wait(), threading.current_thread().name)[1]] * 2)
    finally:
        pool.close()
    assert names[0] == threading.current_thread().name
    assert names[1] != names[0]


def test_one_thread_runs_in_the_caller_in_order() -> None:
    seen: list[tuple[int, str]] = []
    pool = SigningPool(1)
    tasks: list[Callable[[], None]] = [
        lambda i=i: seen.append((i, threading.current_thread().name)) for i in range(5)
    ]
    pool.run(tasks)
    assert seen == [(i, threading.current_thread().name) for i in range(5)]


def test_an_error_is_raised_and_pending_tasks_cancelled() -> None:
    ran: list[int] = []
    started = threading.Barrier(3, timeout=10)
    release = threading.Event()

    def hold_worker() -> int:
        started.wait()
        release.wait(10)
        return 0

    def boom() -> int:
        started.wait()  # both workers are busy: every other task is still queued
        raise ValueError("bad key")

    def record(i: int) -> int:
        ran.append(i)
        return i

    pool = SigningPool(3)  # the caller and two workers
    try:
        with pytest.raises(ValueError, match="bad key"):
            pool.run([boom, hold_worker, hold_worker, *[lambda i=i: record(i) for i in range(20)]])
    finally:
        release.set()
        pool.close()
    assert ran == []


def test_size_is_checked_and_defaults_to_the_cores() -> None:
    with pytest.raises(ValueError):
        SigningPool(0)
    assert SigningPool().size == default_size() >= 1


def test_close_then_run_again() -> None:
    pool = SigningPool(2)
    tasks: list[Callable[[], int]] = [lambda: 1] * 4
    assert pool.run(tasks) == [1] * 4
    pool.close()
    pool.close()
    assert pool.run(tasks) == [1] * 4
    pool.close()


def test_signing_threads_setting(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).signing_threads is None  # = the cores, at start
    assert Settings(data_dir=tmp_path, signing_threads=4).signing_threads == 4
    with pytest.raises(ValidationError):
        Settings(data_dir=tmp_path, signing_threads=0)
    saved = Settings(data_dir=tmp_path, signing_threads=2)
    saved.save()
    assert Settings.load(tmp_path).signing_threads == 2
