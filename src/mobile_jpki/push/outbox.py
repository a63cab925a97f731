"""The transactional outbox (docs/portal.md "Push").

A notification is a row written in the SAME transaction as the state change it announces, so a
committed change is always announced and a rolled-back one never is. :class:`Dispatcher` hands
due rows to a :class:`~mobile_jpki.push.channels.PushChannel` and marks them delivered; a failed
delivery is retried with exponential backoff. A message for a device's event stream is tried
only by the process holding that stream (the others neither send nor count an attempt);
:mod:`mobile_jpki.push.follow` tells that process at once. Delivery is at least once (a
crash between ``send`` and the commit sends again): every message carries its ``id`` and the
phone handles a repeated id as a no-op.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    Table,
    bindparam,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from mobile_jpki.store import direct
from mobile_jpki.store.db import Database
from mobile_jpki.store.portal import Device, OutboxMessage

from .channels import PushChannel, PushNotHere, PushUndeliverable

# Topics the phone understands.
REGISTRATION_READY = "registration-ready"  # 登録準備完了
APPLICATION_FAILED = "application-failed"
DELETION_PENDING = "deletion-pending"  # a signed deletion instruction waits (48 hours)
CERTIFICATES_CHANGED = "certificates-changed"  # held, released, revoked: re-check validity

BACKOFF_BASE = dt.timedelta(seconds=5)
BACKOFF_CAP = dt.timedelta(hours=1)
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class PushMessage:
    id: int
    device_id: str
    topic: str
    payload: Mapping[str, Any]
    created_at: dt.datetime
    channel: str = "inprocess"  # the device's push channel at enrolment
    delivered: bool = False  # already delivered (a replay sends it again all the same)

    def to_json(self) -> str:
        return json.dumps(
            {
                "id": self.id,
                "topic": self.topic,
                "payload": dict(self.payload),
                "created_at": self.created_at.isoformat(),
            },
            sort_keys=True,
            separators=(",", ":"),
        )


def enqueue(
    session: Session, device: Device, topic: str, payload: Mapping[str, Any], *, now: dt.datetime
) -> OutboxMessage | None:
    """Add a notification to the caller's transaction. A device with push turned off gets
    none: what it would have announced stays visible on my page and in the API."""
    if not device.push_enabled:
        return None
    row = OutboxMessage(
        device_id=device.id,
        topic=topic,
        payload=json.dumps(dict(payload), sort_keys=True, separators=(",", ":")),
        created_at=now,
        attempts=0,
        next_attempt_at=now,
    )
    session.add(row)
    announce(session.connection(), [device.id])
    return row


def backoff(attempts: int) -> dt.timedelta:
    """5 s, 10 s, 20 s, … capped at one hour."""
    delay: dt.timedelta = BACKOFF_BASE * (2 ** max(0, attempts - 1))
    return min(delay, BACKOFF_CAP)


def to_message(row: OutboxMessage, channel: str = "inprocess") -> PushMessage:
    return PushMessage(
        row.id, row.device_id, row.topic, json.loads(row.payload), row.created_at, channel
    )


_OUTBOX = cast(Table, OutboxMessage.__table__)
_DEVICE = cast(Table, Device.__table__)
#: The channel whose messages only the process holding the device's stream can deliver.
STREAM_CHANNEL = "sse"
#: The PostgreSQL NOTIFY channel a new outbox row is announced on; the payload is the device
#: id (32 hex digits, far below NOTIFY's 8000-byte payload limit).
NOTIFY_CHANNEL = "mobile_jpki_push"
_NOTIFY = text("SELECT pg_notify(:channel, d) FROM unnest(CAST(:devices AS text[])) AS d")


def _due(*where: ColumnElement[bool]) -> Select[Any]:
    """The due messages of a pass, oldest first, with their device's channel: Core columns,
    not mapped objects (the worker runs a pass after every issuance)."""
    return (
        select(
            _OUTBOX.c.id,
            _OUTBOX.c.device_id,
            _OUTBOX.c.topic,
            _OUTBOX.c.payload,
            _OUTBOX.c.created_at,
            _OUTBOX.c.attempts,
            _DEVICE.c.push_channel.label("channel"),
        )
        .join(_DEVICE, _DEVICE.c.id == _OUTBOX.c.device_id)
        .where(
            _OUTBOX.c.delivered_at.is_(None),
            _OUTBOX.c.next_attempt_at <= bindparam("now", type_=_OUTBOX.c.next_attempt_at.type),
            _OUTBOX.c.attempts < MAX_ATTEMPTS,
            *where,
        )
        .order_by(_OUTBOX.c.id)
        .limit(bindparam("limit"))
    )


_HELD = _OUTBOX.c.device_id.in_(bindparam("devices", expanding=True))
# A stream's messages are tried only by the process that holds the stream (never counted as
# an attempt elsewhere); every other channel's by any worker.
_DUE_NO_STREAM = _due(_DEVICE.c.push_channel != STREAM_CHANNEL)
_DUE_OR_HELD = _due(or_(_DEVICE.c.push_channel != STREAM_CHANNEL, _HELD))
_DUE_OF = _due(_HELD)
_UNDELIVERED = (_OUTBOX.c.id == bindparam("message"), _OUTBOX.c.delivered_at.is_(None))
_MARK_DELIVERED = update(_OUTBOX).where(*_UNDELIVERED).values(delivered_at=bindparam("now"))
_MARK_FAILED = (
    update(_OUTBOX)
    .where(*_UNDELIVERED)
    .values(
        attempts=_OUTBOX.c.attempts + 1,
        last_error=bindparam("error"),
        next_attempt_at=bindparam("next", type_=_OUTBOX.c.next_attempt_at.type),
    )
)
_MARK_REPLAYED = (
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id.in_(bindparam("messages", expanding=True)),
        _OUTBOX.c.delivered_at.is_(None),
    )
    .values(delivered_at=bindparam("now", type_=_OUTBOX.c.delivered_at.type))
)


def announce(conn: Connection, device_ids: Iterable[str]) -> None:
    """On PostgreSQL, ``NOTIFY`` the devices' new messages from inside the enqueuing
    transaction: the server delivers a notification only when that transaction commits, and
    never if it rolls back (PostgreSQL documentation, NOTIFY), so a listener that hears one
    always finds the row. The process holding the device's stream delivers at once
    (:class:`~mobile_jpki.push.follow.PushFollower`). One statement for all the devices.
    Nothing on SQLite: its processes poll (same class)."""
    if conn.dialect.name != "postgresql":
        return
    devices = sorted(set(device_ids))
    if devices:
        conn.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL, "devices": devices})


class StreamHolder(Protocol):
    def held(self) -> Collection[str]:
        """The devices whose stream this process holds."""
        ...


class Dispatcher:
    """Moves due outbox rows to the channel of their device (``inprocess``, ``sse``). One pass
    is :meth:`dispatch`; ``serve`` loops it. ``streams`` tells which devices' ``sse`` streams
    this process holds: only their stream messages are tried here."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, PushChannel],
        *,
        streams: StreamHolder | None = None,
    ) -> None:
        self._db = db
        self._channels = dict(channels)
        self._streams = streams

    def dispatch(self, *, now: dt.datetime, limit: int = 100) -> int:
        """Deliver due messages; returns how many were delivered in this pass."""
        held = sorted(self._streams.held()) if self._streams is not None else []
        if held:
            return self._deliver(_DUE_OR_HELD, {"devices": held}, now=now, limit=limit)
        return self._deliver(_DUE_NO_STREAM, {}, now=now, limit=limit)

    def deliver_to(self, device_ids: Collection[str], *, now: dt.datetime, limit: int = 100) -> int:
        """Deliver the due messages of these devices only: what a process holding their
        streams does when told (NOTIFY) or when it polls (SQLite)."""
        if not device_ids:
            return 0
        return self._deliver(_DUE_OF, {"devices": sorted(device_ids)}, now=now, limit=limit)

    def _deliver(
        self, query: Select[Any], params: Mapping[str, Any], *, now: dt.datetime, limit: int
    ) -> int:
        """The outcomes of the pass are written in ONE transaction afterwards (one executemany
        per outcome), not one transaction per message: each is a commit, an fsync on SQLite,
        and the worker runs a pass after every issuance. At least once still holds: a crash
        before that commit sends the pass's messages again (the phone ignores a seen id)."""
        with self._db.transaction(write=False) as s:
            rows = s.connection().execute(query, {**params, "now": now, "limit": limit}).all()
        if not rows:
            return 0
        delivered: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for r in rows:
            message = PushMessage(
                r.id, r.device_id, r.topic, json.loads(r.payload), r.created_at, r.channel
            )
            channel = self._channels.get(message.channel)
            try:
                if channel is None:
                    raise PushUndeliverable(f"no {message.channel} channel in this process")
                channel.send(message)
            except PushNotHere:
                continue  # the stream closed meanwhile: not an attempt (class docstring)
            except PushUndeliverable as exc:
                failed.append(
                    {
                        "message": message.id,
                        "error": (str(exc) or type(exc).__name__)[:500],
                        "next": now + backoff(r.attempts + 1),
                    }
                )
            else:
                delivered.append({"message": message.id, "now": now})
        if not delivered and not failed:
            return 0
        with self._db.transaction() as s:
            conn = s.connection()
            # "delivered_at IS NULL": a message another process delivered meanwhile (or the
            # SSE replay marked) keeps its first delivery.
            if delivered:
                direct.write(conn, _MARK_DELIVERED, delivered)
            if failed:
                direct.write(conn, _MARK_FAILED, failed)
        return len(delivered)

    def mark_delivered(self, message_id: int, *, now: dt.datetime) -> None:
        with self._db.transaction() as s:
            row = s.get(OutboxMessage, message_id)
            if row is not None and row.delivered_at is None:
                row.delivered_at = now


def replay(
    db: Database, device_id: str, *, after: int, now: dt.datetime, limit: int = 100
) -> list[PushMessage]:
    """What an event stream sends when it connects: the device's messages after ``after``
    (its Last-Event-ID), delivered or not, with the undelivered among them marked delivered
    so that no worker sends them again. Marked before they are written: a stream that breaks
    first loses nothing, since the phone reconnects with the Last-Event-ID it did receive and
    the replay goes by that id, not by ``delivered_at``."""
    messages = pending_for(db, device_id, after=after, limit=limit)
    undelivered = [m.id for m in messages if not m.delivered]
    if undelivered:
        with db.transaction() as s:
            s.connection().execute(_MARK_REPLAYED, {"messages": undelivered, "now": now})
    return messages


def pending_for(
    db: Database, device_id: str, *, after: int = 0, limit: int = 100
) -> list[PushMessage]:
    """Messages of one device after ``after`` (SSE replay with Last-Event-ID)."""
    with db.transaction(write=False) as s:
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.device_id == device_id, OutboxMessage.id > after)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return [
            replace(to_message(r), delivered=r.delivered_at is not None) for r in s.scalars(stmt)
        ]
