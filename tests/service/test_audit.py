"""The audit chain detects edited, deleted, reordered and truncated records."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import delete, event, select, update

from mobile_jpki.clock import FixedClock
from mobile_jpki.service.audit import GENESIS, AuditEvent, AuditLog, BreakKind, record_hash
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import AuditRecord


def _fill(db: Database, clock: FixedClock, n: int = 5) -> AuditLog:
    log = AuditLog(db)
    for i in range(n):
        with db.transaction() as s:
            log.append(
                s,
                at=clock.now(),
                actor="op",
                action="test",
                obj=f"o{i}",
                payload={"i": i, "name": "個人情報なし"},
            )
        clock.advance(dt.timedelta(seconds=1))
    return log


def test_intact_chain(database: Database, clock: FixedClock) -> None:
    log = _fill(database, clock)
    verdict = log.verify()
    assert verdict.ok and verdict.checked == 5
    first = log.entries()[0]
    assert first.payload == {"i": 0, "name": "個人情報なし"}


def test_first_record_links_to_genesis(database: Database, clock: FixedClock) -> None:
    _fill(database, clock, 1)
    with database.transaction(write=False) as s:
        rec = s.scalars(select(AuditRecord)).one()
    assert rec.prev_hash == GENESIS
    assert rec.hash == record_hash(
        prev_hash=GENESIS,
        seq=1,
        at=rec.at,
        actor=rec.actor,
        action=rec.action,
        obj=rec.object,
        payload=rec.payload,
    )


def test_edited_record_is_pinpointed(database: Database, clock: FixedClock) -> None:
    log = _fill(database, clock)
    with database.transaction() as s:
        s.execute(update(AuditRecord).where(AuditRecord.seq == 3).values(actor="mallory"))
    verdict = log.verify()
    assert (verdict.broken_seq, verdict.kind, verdict.checked) == (3, BreakKind.EDITED, 2)


def test_deleted_record_is_pinpointed(database: Database, clock: FixedClock) -> None:
    log = _fill(database, clock)
    with database.transaction() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq == 2))
    verdict = log.verify()
    assert (verdict.broken_seq, verdict.kind) == (2, BreakKind.MISSING)


def test_truncated_tail_is_detected(database: Database, clock: FixedClock) -> None:
    log = _fill(database, clock)
    with database.transaction() as s:
        s.execute(delete(AuditRecord).where(AuditRecord.seq >= 4))
    verdict = log.verify()
    assert (verdict.broken_seq, verdict.kind) == (4, BreakKind.TRUNCATED)


def test_rewritten_record_breaks_the_next_link(database: Database, clock: FixedClock) -> None:
    """An attacker who recomputes the edited record's hash is caught at the next record."""
    log = _fill(database, clock)
    with database.transaction() as s:
        rec = s.get(AuditRecord, 2)
        assert rec is not None
        rec.object = "forged"
        rec.hash = record_hash(
            prev_hash=rec.prev_hash,
            seq=2,
            at=rec.at,
            actor=rec.actor,
            action=rec.action,
            obj=rec.object,
            payload=rec.payload,
        )
    verdict = log.verify()
    assert (verdict.broken_seq, verdict.kind) == (3, BreakKind.REORDERED)


def test_rolled_back_change_leaves_no_record(database: Database, clock: FixedClock) -> None:
    log = _fill(database, clock, 1)
    try:
        with database.transaction() as s:
            log.append(s, at=clock.now(), actor="op", action="test", obj="x")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert [e.seq for e in log.entries()] == [1]
    assert log.verify().ok


def test_concurrent_appends_serialise(database: Database, clock: FixedClock) -> None:
    log = AuditLog(database)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(10):
                with database.transaction() as s:
                    log.append(s, at=clock.now(), actor=f"w{n}", action="test", obj=str(i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdict = log.verify()
    assert verdict.ok and verdict.checked == 40


def test_append_many_chains_in_memory_with_one_head_update(
    database: Database, clock: FixedClock
) -> None:
    log = _fill(database, clock, 2)
    updates: list[str] = []

    def count(_c: object, _cur: object, statement: str, *_rest: object) -> None:
        if "audit_head" in statement:
            updates.append(statement.split(None, 1)[0].upper())

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.transaction() as s:
            entries = log.append_many(
                s,
                [AuditEvent(clock.now(), "op", "batch", f"b{i}", {"i": i}) for i in range(5)],
            )
    finally:
        event.remove(database.engine, "before_cursor_execute", count)
    assert [e.seq for e in entries] == [3, 4, 5, 6, 7]
    assert updates == ["SELECT", "UPDATE"]  # one head read (locked), one head update
    verdict = log.verify()
    assert verdict.ok and verdict.checked == 7
    assert [e.obj for e in log.entries(after=2)] == [f"b{i}" for i in range(5)]


def test_recorded_events_are_appended_at_commit_in_order(
    database: Database, clock: FixedClock
) -> None:
    log = _fill(database, clock, 1)
    with database.transaction() as s:
        log.record(s, at=clock.now(), actor="op", action="buffered", obj="r1")
        log.record(s, at=clock.now(), actor="op", action="buffered", obj="r2")
        # An immediate append writes what was buffered before it first: order is kept.
        entry = log.append(s, at=clock.now(), actor="op", action="now", obj="a3")
        log.record(s, at=clock.now(), actor="op", action="buffered", obj="r4")
        assert entry.seq == 4
    assert [(e.seq, e.obj) for e in log.entries()] == [
        (1, "o0"),
        (2, "r1"),
        (3, "r2"),
        (4, "a3"),
        (5, "r4"),
    ]
    assert log.verify().ok


def test_recorded_events_of_a_rolled_back_transaction_vanish(
    database: Database, clock: FixedClock
) -> None:
    log = _fill(database, clock, 1)
    with pytest.raises(RuntimeError):
        with database.transaction() as s:
            log.record(s, at=clock.now(), actor="op", action="test", obj="lost")
            raise RuntimeError("the change failed")
    with database.transaction() as s:
        log.record(s, at=clock.now(), actor="op", action="test", obj="kept")
    assert [e.obj for e in log.entries()] == ["o0", "kept"]
    assert log.verify().ok


def test_record_inside_a_rolled_back_savepoint_goes_with_it(
    database: Database, clock: FixedClock
) -> None:
    log = _fill(database, clock, 1)
    with database.transaction() as s:
        log.record(s, at=clock.now(), actor="op", action="test", obj="outer")
        savepoint = s.begin_nested()
        log.record(s, at=clock.now(), actor="op", action="test", obj="inner")
        savepoint.rollback()
    assert [e.obj for e in log.entries()] == ["o0", "outer"]
    assert log.verify().ok


def test_concurrent_buffered_transactions_make_one_chain(
    database: Database, clock: FixedClock
) -> None:
    log = AuditLog(database)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(8):
                with database.transaction() as s:
                    for j in range(3):
                        log.record(s, at=clock.now(), actor=f"w{n}", action="t", obj=f"{i}.{j}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    verdict = log.verify()
    assert verdict.ok and verdict.checked == 96
    # A transaction's records stay together: its three records are consecutive.
    entries = log.entries(limit=200)
    for k in range(0, 96, 3):
        group = entries[k : k + 3]
        assert len({e.actor for e in group}) == 1
        assert [e.obj.split(".")[1] for e in group] == ["0", "1", "2"]
