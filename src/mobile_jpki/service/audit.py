"""The tamper-evident audit log: a hash chain of records appended in the changing transaction.

Each record is ``hash = SHA-256(prev_hash ‖ canonical JSON of {seq, at, actor, action, object,
payload})``; the first record's ``prev_hash`` is 64 zeros. Because the record is written in the
same transaction as the change it describes, a change without its record (or the reverse) never
commits. Appends are serialised: on SQLite by the write transaction's ``BEGIN IMMEDIATE``, on
PostgreSQL by ``SELECT … FOR UPDATE`` of the single chain-head row, which also remembers the last
seq and hash so that deleting the newest records (truncation) is detected too.

The head row is the one point every writer of the service meets, so it is touched once per
transaction, not once per record: :meth:`AuditLog.append_many` reads (and locks) the head once,
chains the hashes in memory, inserts the records in one executemany and updates the head once;
:meth:`AuditLog.record` goes further and buffers the records on the session, flushed by that
same call from the session's ``before_commit`` hook — still inside the transaction, so a change
and its record commit or vanish together, but with the head lock taken last and held only for
the three statements before COMMIT (on PostgreSQL the lock is never held while the transaction
waits for other row locks, so appenders cannot deadlock through it).

Payloads carry identifiers (serials, ca_ids, opaque subject ids, reasons), never personal data
(name, address, date of birth, sex): the log is kept longer than the personal data may be.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, SessionTransaction

from mobile_jpki.pki.model import utc
from mobile_jpki.store import direct
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import AuditHead, AuditRecord

GENESIS = "0" * 64
_HEAD_ID = 1
# session.info key of the records a transaction has buffered with AuditLog.record.
_BUFFER = "mobile_jpki.audit.buffer"

# The statements of an append, built once (compiled once: SQLAlchemy's cache), executed in
# Core on the session's connection; {is_sqlite: statement} where the dialects differ.
_HEAD_TABLE = cast(Table, AuditHead.__table__)
_READ_HEAD = select(_HEAD_TABLE.c.seq, _HEAD_TABLE.c.hash).where(_HEAD_TABLE.c.id == _HEAD_ID)
# SQLite: BEGIN IMMEDIATE already holds the database lock; PostgreSQL locks the head row.
_LOCK_HEAD = {True: _READ_HEAD, False: _READ_HEAD.with_for_update()}
_CREATE_HEAD = {
    sqlite: insert_(_HEAD_TABLE)
    .values(id=_HEAD_ID, seq=0, hash=GENESIS)
    .on_conflict_do_nothing(index_elements=["id"])
    for sqlite, insert_ in ((True, sqlite_insert), (False, pg_insert))
}
_UPDATE_HEAD = (
    update(_HEAD_TABLE)
    .where(_HEAD_TABLE.c.id == _HEAD_ID)
    .values(seq=bindparam("b_seq"), hash=bindparam("b_hash"))
)
_INSERT_RECORDS = insert(cast(Table, AuditRecord.__table__))

JsonScalar = str | int | bool | None
Payload = Mapping[str, JsonScalar | list[JsonScalar]]


def canonical_json(value: object) -> str:
    """Sorted keys, no insignificant whitespace, UTF-8 kept as is: one byte string per value
    (the subset of RFC 8785 JCS our payloads use: strings, integers, booleans, null, lists)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(
    *, prev_hash: str, seq: int, at: dt.datetime, actor: str, action: str, obj: str, payload: str
) -> str:
    body = canonical_json(
        {
            "seq": seq,
            "at": utc(at).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "actor": actor,
            "action": action,
            "object": obj,
            "payload": payload,
        }
    )
    return hashlib.sha256(bytes.fromhex(prev_hash) + body.encode("utf-8")).hexdigest()


class BreakKind(StrEnum):
    EDITED = "edited"  # the record's content no longer matches its hash
    MISSING = "missing"  # a gap in seq: a record was deleted
    REORDERED = "reordered"  # prev_hash does not link to the previous record
    TRUNCATED = "truncated"  # the newest records were deleted (head row is ahead)
    HEAD_MISMATCH = "head-mismatch"


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: dt.datetime
    actor: str
    action: str
    obj: str
    payload: dict[str, object]
    hash: str


@dataclass(frozen=True)
class AuditEvent:
    """A record to append: what happened, before the chain gives it a seq and a hash."""

    at: dt.datetime
    actor: str
    action: str
    obj: str
    payload: Payload | None = None


@dataclass
class _Buffer:
    """The records one transaction has deferred to its commit, and where they go."""

    log: AuditLog
    events: list[AuditEvent]


@dataclass(frozen=True)
class Verdict:
    """Result of :func:`verify`: ``ok`` or the first broken seq and why."""

    checked: int
    broken_seq: int | None = None
    kind: BreakKind | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.broken_seq is None


class AuditLog:
    """Appends to and verifies the chain in ``db``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def append(
        self,
        session: Session,
        *,
        at: dt.datetime,
        actor: str,
        action: str,
        obj: str,
        payload: Payload | None = None,
    ) -> AuditEntry:
        """Append one record now, inside the caller's (write) transaction."""
        return self.append_many(session, [AuditEvent(at, actor, action, obj, payload)])[0]

    def append_many(self, session: Session, events: Sequence[AuditEvent]) -> list[AuditEntry]:
        """Append ``events`` in order inside the caller's (write) transaction: one chain-head
        lock and read, the hashes chained in memory, one bulk insert, one head update.

        Records the session buffered with :meth:`record` are written first, so the chain
        keeps the order in which the transaction produced its records (inside a SAVEPOINT
        they are left buffered, to be written at commit)."""
        own = len(events)
        # Not inside a SAVEPOINT: the buffered records belong to the outer transaction and
        # must not be rolled back with the savepoint (they follow at commit instead).
        pending = None if session.in_nested_transaction() else _take_buffer(session)
        if pending is not None:
            events = [*pending.events, *events]
        if not events:
            return []
        prev_seq, prev_hash = self._lock_head(session)
        rows: list[dict[str, Any]] = []
        entries: list[AuditEntry] = []
        # Only the caller's own records are returned: the buffered ones (most of a batch,
        # written at commit) skip building an AuditEntry.
        first_own = len(events) - own
        for i, event_ in enumerate(events):
            at = utc(event_.at)
            body = canonical_json(dict(event_.payload or {}))
            seq = prev_seq + 1
            digest = record_hash(
                prev_hash=prev_hash,
                seq=seq,
                at=at,
                actor=event_.actor,
                action=event_.action,
                obj=event_.obj,
                payload=body,
            )
            rows.append(
                {
                    "seq": seq,
                    "at": at,
                    "actor": event_.actor,
                    "action": event_.action,
                    "object": event_.obj,
                    "payload": body,
                    "prev_hash": prev_hash,
                    "hash": digest,
                }
            )
            if i >= first_own:
                entries.append(
                    AuditEntry(
                        seq, at, event_.actor, event_.action, event_.obj, json.loads(body), digest
                    )
                )
            prev_seq, prev_hash = seq, digest
        # Core executemany on the session's connection: one INSERT for the batch
        # (insertmanyvalues), no ORM identity map, statements compiled once.
        conn = session.connection()
        direct.write(conn, _INSERT_RECORDS, rows)
        direct.write(conn, _UPDATE_HEAD, {"b_seq": prev_seq, "b_hash": prev_hash})
        return entries

    def record(
        self,
        session: Session,
        *,
        at: dt.datetime,
        actor: str,
        action: str,
        obj: str,
        payload: Payload | None = None,
    ) -> None:
        """Buffer one record on the session's transaction; it is appended (with every other
        buffered record, under one head lock) just before that transaction commits, and
        discarded if it rolls back. Inside a SAVEPOINT the record is appended at once instead,
        so that rolling the savepoint back takes its record with it."""
        self.record_many(session, [AuditEvent(at, actor, action, obj, payload)])

    def record_many(self, session: Session, events: Sequence[AuditEvent]) -> None:
        """:meth:`record` for several records at once (a batch's), in order."""
        if not events:
            return
        if session.in_nested_transaction():
            self.append_many(session, events)
            return
        buffer = session.info.get(_BUFFER)
        if buffer is None:
            session.info[_BUFFER] = _Buffer(self, list(events))
        else:
            buffer.events.extend(events)

    def _lock_head(self, session: Session) -> tuple[int, str]:
        """Lock the chain head (FOR UPDATE on PostgreSQL) and return its seq and hash,
        creating the row on the first append."""
        # The caller's pending ORM changes first: their row locks are taken before the head's,
        # which is then held only for the statements of the append (see the module docstring).
        session.flush()
        conn = session.connection()
        sqlite = self._db.is_sqlite
        head = direct.rows(conn, _LOCK_HEAD[sqlite], {})
        if not head:
            # ON CONFLICT DO NOTHING: two first appenders may race to create the row; the
            # loser then waits on the winner's lock below instead of failing.
            conn.execute(_CREATE_HEAD[sqlite])
            head = direct.rows(conn, _LOCK_HEAD[sqlite], {})
        ((seq, hash_),) = head
        return int(seq), str(hash_)

    def entries(self, *, after: int = 0, limit: int = 100) -> list[AuditEntry]:
        with self._db.transaction(write=False) as s:
            rows = s.scalars(
                select(AuditRecord)
                .where(AuditRecord.seq > after)
                .order_by(AuditRecord.seq)
                .limit(limit)
            ).all()
            return [
                AuditEntry(r.seq, r.at, r.actor, r.action, r.object, json.loads(r.payload), r.hash)
                for r in rows
            ]

    def verify(self, *, batch: int = 5000) -> Verdict:
        """Walk the chain from the start; report the first broken link."""
        prev_seq, prev_hash, checked = 0, GENESIS, 0
        with self._db.transaction(write=False) as s:
            while True:
                rows = s.scalars(
                    select(AuditRecord)
                    .where(AuditRecord.seq > prev_seq)
                    .order_by(AuditRecord.seq)
                    .limit(batch)
                ).all()
                for r in rows:
                    if r.seq != prev_seq + 1:
                        return Verdict(
                            checked,
                            prev_seq + 1,
                            BreakKind.MISSING,
                            f"record {prev_seq + 1} is missing (next present is {r.seq})",
                        )
                    if r.prev_hash != prev_hash:
                        return Verdict(
                            checked,
                            r.seq,
                            BreakKind.REORDERED,
                            f"record {r.seq} does not link to record {prev_seq}",
                        )
                    expected = record_hash(
                        prev_hash=r.prev_hash,
                        seq=r.seq,
                        at=r.at,
                        actor=r.actor,
                        action=r.action,
                        obj=r.object,
                        payload=r.payload,
                    )
                    if expected != r.hash:
                        return Verdict(
                            checked, r.seq, BreakKind.EDITED, f"record {r.seq} was modified"
                        )
                    prev_seq, prev_hash, checked = r.seq, r.hash, checked + 1
                if len(rows) < batch:
                    break
            head = s.get(AuditHead, _HEAD_ID)
        if head is None:
            if checked:
                return Verdict(checked, 1, BreakKind.HEAD_MISMATCH, "the chain head row is gone")
            return Verdict(0)
        if head.seq > prev_seq:
            return Verdict(
                checked,
                prev_seq + 1,
                BreakKind.TRUNCATED,
                f"records {prev_seq + 1}..{head.seq} were deleted from the end",
            )
        if head.seq != prev_seq or head.hash != prev_hash:
            return Verdict(
                checked, head.seq, BreakKind.HEAD_MISMATCH, "the chain head does not match"
            )
        return Verdict(checked)


def _take_buffer(session: Session) -> _Buffer | None:
    buffer: _Buffer | None = session.info.pop(_BUFFER, None)
    return buffer


@event.listens_for(Session, "before_commit")
def _flush_buffer(session: Session) -> None:
    # Runs inside the transaction, before its final flush and COMMIT: the records land in
    # the same transaction as the change they describe. A no-op (one dict lookup) for
    # sessions that buffered nothing.
    buffer = session.info.get(_BUFFER)
    if buffer is not None:
        buffer.log.append_many(session, [])


@event.listens_for(Session, "after_transaction_end")
def _drop_buffer(session: Session, transaction: SessionTransaction) -> None:
    # When the outermost transaction ends, a buffer still present belongs to a rollback: its
    # records describe changes that never happened. (A SAVEPOINT ending leaves it alone:
    # records made inside one were appended at once, not buffered.)
    if transaction.parent is None:
        session.info.pop(_BUFFER, None)
