"""The worker loop of ``serve``: woken by a committed application instead of waiting for its
poll; and a push pass writing its outcomes in one transaction."""

from __future__ import annotations

import threading
import time

from portal_world import World
from sqlalchemy import event, select

from mobile_jpki.api.portal import run_worker
from mobile_jpki.push.outbox import REGISTRATION_READY
from mobile_jpki.store.portal import OutboxMessage


def _apply(world: World, name: str) -> str:
    _, _, card = world.resident()
    phone = world.new_phone(name)
    assert phone.device_id is not None
    world.apply_for_auth(phone, card)
    return phone.device_id


def test_a_committed_application_signals_the_worker(world: World) -> None:
    assert not world.service.wait_for_jobs(0)
    _apply(world, "p")
    assert world.service.wait_for_jobs(0)
    assert not world.service.wait_for_jobs(0)  # one signal per wait: cleared


def test_the_worker_issues_at_once_not_at_its_next_poll(world: World) -> None:
    """With an hour between polls, only the application's signal can make the worker issue
    (and push) within the test's minute."""
    stop = threading.Event()
    worker = threading.Thread(target=run_worker, args=(world.ctx, stop), kwargs={"interval": 3600})
    worker.start()
    try:
        device_id = _apply(world, "p")
        deadline = time.monotonic() + 60
        while not world.ctx.inprocess.inbox(device_id) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [m.topic for m in world.ctx.inprocess.inbox(device_id)] == [REGISTRATION_READY]
    finally:
        stop.set()
        world.service.wake()
        worker.join()
    assert not worker.is_alive()


def test_a_push_pass_commits_its_outcomes_once(world: World) -> None:
    """Two phones' messages, one of them unreachable: both outcomes are written by ONE write
    transaction after the pass (one commit, one fsync on SQLite), not one per message."""
    reachable, offline = _apply(world, "a"), _apply(world, "b")
    world.ctx.inprocess.offline.add(offline)
    assert world.service.run_jobs(now=world.clock.now()) == 2
    commits: list[object] = []

    def count(conn: object) -> None:
        commits.append(conn)

    event.listen(world.db.engine, "commit", count)
    try:
        assert world.ctx.dispatcher.dispatch(now=world.clock.now()) == 1
    finally:
        event.remove(world.db.engine, "commit", count)
    assert len(commits) == 2  # the read of the due messages, then the one write
    with world.db.transaction(write=False) as s:
        rows = {r.device_id: r for r in s.scalars(select(OutboxMessage))}
    assert rows[reachable].delivered_at == world.clock.now()
    assert (rows[offline].delivered_at, rows[offline].attempts) == (None, 1)
    assert rows[offline].last_error == f"device {offline} offline"
