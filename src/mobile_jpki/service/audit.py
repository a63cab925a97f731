"""The tamper-evident audit log: a hash chain of records appended in the changing transaction.

Each record is ``hash = SHA-256(prev_hash ‖ canonical JSON of {seq, at, actor, action, object,
payload})``; the first record's ``prev_hash`` is 64 zeros. Because the record is written in the
same transaction as the change it describes, a change without its record (or the reverse) never
commits. Appends are serialised: on SQLite by the write transaction's ``BEGIN IMMEDIATE``, on
PostgreSQL by ``SELECT … FOR UPDATE`` of the single chain-head row, which also remembers the last
seq and hash so that deleting the newest records (truncation) is detected too.

Payloads carry identifiers (serials, ca_ids, opaque subject ids, reasons), never personal data
(name, address, date of birth, sex): the log is kept longer than the personal data may be.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobile_jpki.pki.model import utc
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import AuditHead, AuditRecord

GENESIS = "0" * 64
_HEAD_ID = 1

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
        """Append one record inside the caller's (write) transaction."""
        head = session.execute(
            self._db.lock(select(AuditHead).where(AuditHead.id == _HEAD_ID))
        ).scalar_one_or_none()
        if head is None:
            head = AuditHead(id=_HEAD_ID, seq=0, hash=GENESIS)
            session.add(head)
        at = utc(at)
        body = canonical_json(dict(payload or {}))
        seq = head.seq + 1
        digest = record_hash(
            prev_hash=head.hash, seq=seq, at=at, actor=actor, action=action, obj=obj, payload=body
        )
        session.add(
            AuditRecord(
                seq=seq,
                at=at,
                actor=actor,
                action=action,
                object=obj,
                payload=body,
                prev_hash=head.hash,
                hash=digest,
            )
        )
        head.seq, head.hash = seq, digest
        session.flush()
        return AuditEntry(seq, at, actor, action, obj, json.loads(body), digest)

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
