"""The audit chain detects edited, deleted, reordered and truncated records."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import delete, select, update

from mobile_jpki.clock import FixedClock
from mobile_jpki.service.audit import GENESIS, AuditLog, BreakKind, record_hash
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
