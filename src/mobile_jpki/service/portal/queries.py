"""The SQL of the application and issuance transactions, in Core (docs/portal.md "Figures").

These two transactions run once per application and once per model change, so they are
written as a handful of prebuilt Core statements instead of ORM queries and unit-of-work
flushes, run by :mod:`mobile_jpki.store.direct`: on SQLite straight on pysqlite (compiled once,
~20-40 µs each), elsewhere through ``Connection.execute`` (SQLAlchemy's compiled cache, ~180 µs
on PostgreSQL), against 0.2-1 ms for an ORM query or flush. Each function here is one
statement; status changes are single UPDATEs that name the expected old state, batches are one
executemany; rows come back as tuples in the statement's column order.

Row locks follow :meth:`~mobile_jpki.store.db.Database.lock`: ``FOR UPDATE`` on PostgreSQL
(READ COMMITTED), nothing on SQLite, whose write transactions hold the database lock from
``BEGIN IMMEDIATE``. On PostgreSQL whatever must be seen as it is *after* the person's row
lock is read by a statement issued after the locking one: a READ COMMITTED statement that
waited for a lock re-checks only the rows it locked, not the rest of its snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, case, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mobile_jpki.store import direct
from mobile_jpki.store.models import Certificate, CertRecordStatus
from mobile_jpki.store.portal import (
    Application,
    ApplicationItem,
    ApplicationStatus,
    Card,
    Device,
    DeviceInstruction,
    ItemStatus,
    Job,
    JobStatus,
    Nonce,
    OutboxMessage,
    Person,
    RateCounter,
)

_CERT = cast(Table, Certificate.__table__)
_PERSON = cast(Table, Person.__table__)
_CARD = cast(Table, Card.__table__)
_DEVICE = cast(Table, Device.__table__)
_NONCE = cast(Table, Nonce.__table__)
_APP = cast(Table, Application.__table__)
_ITEM = cast(Table, ApplicationItem.__table__)
_JOB = cast(Table, Job.__table__)
_INSTRUCTION = cast(Table, DeviceInstruction.__table__)
_OUTBOX = cast(Table, OutboxMessage.__table__)
_RATE = cast(Table, RateCounter.__table__)


def _both(stmt: Any) -> dict[bool, Any]:
    """{is_sqlite: statement}: without and with FOR UPDATE (see the module docstring)."""
    return {True: stmt, False: stmt.with_for_update()}


# --- the application (申請) ----------------------------------------------------------------
@dataclass(frozen=True)
class SignerRow:
    """The stored certificate with a CMS signer's serial, and the card whose signing
    certificate it is (``card_id`` is None when it is no card's)."""

    der: bytes
    kind: str
    status: str
    not_before: dt.datetime
    not_after: dt.datetime
    card_id: str | None
    person_id: str | None
    card_status: str | None


_SIGNER = (
    select(
        _CERT.c.der,
        _CERT.c.kind,
        _CERT.c.status,
        _CERT.c.not_before,
        _CERT.c.not_after,
        _CARD.c.id,
        _CARD.c.person_id,
        _CARD.c.status,
    )
    .select_from(_CERT.outerjoin(_CARD, _CARD.c.sign_serial == _CERT.c.serial))
    .where(_CERT.c.serial == bindparam("serial"))
    .limit(1)
)


def signer(conn: Connection, serial: str) -> SignerRow | None:
    found = direct.rows(conn, _SIGNER, {"serial": serial})
    return SignerRow(*found[0]) if found else None


def _bump(sqlite: bool) -> Any:
    # A fixed window in one statement: create the counter, or count on in the current window,
    # or start a new window when the old one is over. ON CONFLICT: two first attempts racing
    # to create the row (PostgreSQL) both count, neither fails.
    stmt = (sqlite_insert if sqlite else pg_insert)(_RATE).values(
        key=bindparam("b_key"), window_start=bindparam("now"), count=1
    )
    over = _RATE.c.window_start <= bindparam("cutoff", type_=_RATE.c.window_start.type)
    return stmt.on_conflict_do_update(
        index_elements=[_RATE.c.key],
        set_={
            "count": case((over, 1), else_=_RATE.c.count + 1),
            "window_start": case((over, stmt.excluded.window_start), else_=_RATE.c.window_start),
        },
    ).returning(_RATE.c.count, _RATE.c.window_start)


_BUMP = {True: _bump(True), False: _bump(False)}


def bump(
    conn: Connection, sqlite: bool, key: str, *, window: dt.timedelta, now: dt.datetime
) -> tuple[int, dt.datetime]:
    """Count one attempt under ``key``; returns (attempts in the window, its start)."""
    ((count, start),) = direct.rows(
        conn, _BUMP[sqlite], {"b_key": key, "now": now, "cutoff": now - window}
    )
    return int(count), start


_LOCK_PERSON = _both(select(_PERSON.c.facts_json).where(_PERSON.c.id == bindparam("person")))


def lock_person(conn: Connection, sqlite: bool, person_id: str) -> str | None:
    """Lock the person's row (every use case changing what a person holds does); returns the
    facts (JSON), None for no such person."""
    found = direct.rows(conn, _LOCK_PERSON[sqlite], {"person": person_id})
    facts: str | None = found[0][0] if found else None
    return facts


_USE_NONCE = (
    update(_NONCE)
    .where(
        _NONCE.c.value == bindparam("b_value"),
        _NONCE.c.device_id == bindparam("device"),
        _NONCE.c.purpose == bindparam("b_purpose"),
        _NONCE.c.used_at.is_(None),
        _NONCE.c.expires_at >= bindparam("now"),
    )
    .values(used_at=bindparam("now"))
)
_NONCE_STATE = select(
    _NONCE.c.device_id, _NONCE.c.purpose, _NONCE.c.used_at, _NONCE.c.expires_at
).where(_NONCE.c.value == bindparam("value"))


def use_nonce(conn: Connection, value: str, device_id: str, purpose: str, now: dt.datetime) -> bool:
    """Mark the nonce used if it was issued to this device for this purpose, is unused and
    unexpired; False otherwise (then :func:`nonce_state` says why)."""
    matched = direct.write(
        conn, _USE_NONCE, {"b_value": value, "device": device_id, "b_purpose": purpose, "now": now}
    )
    return matched == 1


def nonce_state(conn: Connection, value: str) -> Any:
    """The nonce's row (device_id, purpose, used_at, expires_at), None if there is none."""
    return conn.execute(_NONCE_STATE, {"value": value}).first()


@dataclass(frozen=True)
class ApplyingDevice:
    """The applying device, and what the person's other rows say about the application."""

    attestation_der: bytes
    element_serial: str
    person_id: str | None
    holder: bool
    holder_of_person: str | None  # the person's holder device (at most one: unique index)
    open_application: str | None  # the person's accepted application (at most one: ditto)


# An alias, so that the subquery is not correlated with the outer portal_device.
_HOLDER_DEVICE = _DEVICE.alias("holder_device")
_HOLDER = (
    select(_HOLDER_DEVICE.c.id)
    .where(_HOLDER_DEVICE.c.person_id == bindparam("person"), _HOLDER_DEVICE.c.holder)
    .limit(1)
)
_OPEN_APPLICATION = (
    select(_APP.c.id)
    .where(
        _APP.c.person_id == bindparam("person"),
        _APP.c.status == ApplicationStatus.ACCEPTED.value,
    )
    .limit(1)
)
_APPLYING_DEVICE = select(
    _DEVICE.c.attestation_der,
    _DEVICE.c.element_serial,
    _DEVICE.c.person_id,
    _DEVICE.c.holder,
    _HOLDER.scalar_subquery(),
    _OPEN_APPLICATION.scalar_subquery(),
).where(_DEVICE.c.id == bindparam("device"))


def applying_device(conn: Connection, device_id: str, person_id: str) -> ApplyingDevice | None:
    """Read after :func:`lock_person`: the holder and the open application are the person's
    current ones."""
    found = direct.rows(conn, _APPLYING_DEVICE, {"device": device_id, "person": person_id})
    return ApplyingDevice(*found[0]) if found else None


_INSERT_APPLICATION = insert(_APP)
_INSERT_ITEMS = insert(_ITEM)
_INSERT_JOB = insert(_JOB)


def insert_application(
    conn: Connection,
    application: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    job: Mapping[str, Any],
) -> None:
    """The application, its items (one executemany) and its issuance job. The partial unique
    index on open applications raises IntegrityError if a concurrent one committed first."""
    direct.write(conn, _INSERT_APPLICATION, application)
    direct.write(conn, _INSERT_ITEMS, list(items))
    direct.write(conn, _INSERT_JOB, job)


# --- the issuance job (model change) ------------------------------------------------------
def _claim(sqlite: bool) -> Any:
    # An alias: the subquery picks jobs of its own, it is not correlated with the UPDATE.
    queued = _JOB.alias("queued")
    due = (
        select(queued.c.id)
        .where(queued.c.status == JobStatus.QUEUED.value, queued.c.run_after <= bindparam("now"))
        .order_by(queued.c.id)
        .limit(bindparam("size"))
    )
    if not sqlite:
        # Several `serve` processes share the queue: each takes different jobs.
        due = due.with_for_update(skip_locked=True)
    # Marked done in the claiming statement: a job is done exactly when its transaction
    # commits; a failure rolls the mark back (and the worker records it in a new one).
    return (
        update(_JOB)
        .where(_JOB.c.id.in_(due))
        .values(attempts=_JOB.c.attempts + 1, status=JobStatus.DONE.value)
        .returning(_JOB.c.id, _JOB.c.application_id)
    )


_CLAIM = {True: _claim(True), False: _claim(False)}


def claim_jobs(
    conn: Connection, sqlite: bool, now: dt.datetime, size: int
) -> list[tuple[int, str]]:
    """Claim up to ``size`` due jobs, oldest first: [(job id, application id)]."""
    claimed = direct.rows(conn, _CLAIM[sqlite], {"now": now, "size": size})
    return sorted((int(r[0]), str(r[1])) for r in claimed)


_LOCK_PERSON_OF_APPLICATION = _both(
    select(_PERSON.c.id, _PERSON.c.facts_json).where(
        _PERSON.c.id
        == select(_APP.c.person_id).where(_APP.c.id == bindparam("app")).scalar_subquery()
    )
)


def lock_person_of(conn: Connection, sqlite: bool, application_id: str) -> tuple[str, str]:
    """Lock the row of the application's person (its person never changes); returns (person
    id, facts JSON)."""
    ((person_id, facts),) = direct.rows(
        conn, _LOCK_PERSON_OF_APPLICATION[sqlite], {"app": application_id}
    )
    return str(person_id), str(facts)


@dataclass(frozen=True)
class IssueItem:
    id: str
    kind: str
    spki_der: bytes


@dataclass(frozen=True)
class IssueState:
    """An application about to be issued, as seen under its person's lock."""

    status: str
    card_id: str
    card_status: str
    card_sign_serial: str | None
    card_auth_serial: str | None
    device_id: str
    element_serial: str
    push_enabled: bool
    items: tuple[IssueItem, ...]


_ISSUE_STATE = (
    select(
        _APP.c.status,
        _APP.c.card_id,
        _CARD.c.status,
        _CARD.c.sign_serial,
        _CARD.c.auth_serial,
        _APP.c.device_id,
        _DEVICE.c.element_serial,
        _DEVICE.c.push_enabled,
        _ITEM.c.id,
        _ITEM.c.kind,
        _ITEM.c.spki_der,
    )
    .select_from(
        _APP.join(_CARD, _CARD.c.id == _APP.c.card_id)
        .join(_DEVICE, _DEVICE.c.id == _APP.c.device_id)
        .join(_ITEM, _ITEM.c.application_id == _APP.c.id)
    )
    .where(_APP.c.id == bindparam("app"))
    .order_by(_ITEM.c.kind)
)


def issue_state(conn: Connection, application_id: str) -> IssueState:
    rows = direct.rows(conn, _ISSUE_STATE, {"app": application_id})
    if not rows:
        raise LookupError("an application without items")
    status, card_id, card_status, sign_serial, auth_serial, device_id, element, push = rows[0][:8]
    return IssueState(
        status,
        card_id,
        card_status,
        sign_serial,
        auth_serial,
        device_id,
        element,
        push,
        items=tuple(IssueItem(r[8], r[9], r[10]) for r in rows),
    )


@dataclass(frozen=True)
class DeviceRef:
    """What retiring a device and queueing its instruction need to know of it."""

    id: str
    element_serial: str
    push_enabled: bool


_OTHER_HOLDERS = select(_DEVICE.c.id, _DEVICE.c.element_serial, _DEVICE.c.push_enabled).where(
    _DEVICE.c.person_id == bindparam("person"),
    _DEVICE.c.holder,
    _DEVICE.c.id != bindparam("device"),
)


def other_holders(conn: Connection, person_id: str, device_id: str) -> list[DeviceRef]:
    found = direct.rows(conn, _OTHER_HOLDERS, {"person": person_id, "device": device_id})
    return [DeviceRef(*r) for r in found]


@dataclass(frozen=True)
class UnrevokedCertificate:
    """What the issuance and the retirement of devices need to know of a certificate."""

    serial: str
    kind: str
    status: str  # good or held
    not_after: dt.datetime
    device_id: str | None


_UNREVOKED_CERTIFICATES = select(
    _CERT.c.serial, _CERT.c.kind, _CERT.c.status, _CERT.c.not_after, _CERT.c.device_id
).where(
    _CERT.c.status != CertRecordStatus.REVOKED.value,
    (_CERT.c.serial.in_(bindparam("serials", expanding=True)))
    | (_CERT.c.device_id.in_(bindparam("devices", expanding=True))),
)


def unrevoked_certificates(
    conn: Connection, serials: Sequence[str], devices: Sequence[str]
) -> list[UnrevokedCertificate]:
    """The unrevoked certificates among ``serials`` and those of ``devices``. (Revoking them
    is the CA's business: ``revoke_many`` reads them again, locked.)"""
    found = direct.rows(
        conn, _UNREVOKED_CERTIFICATES, {"serials": list(serials), "devices": list(devices)}
    )
    return [UnrevokedCertificate(*r) for r in found]


# One device per execution (executemany over the devices): an expanding IN list would make
# SQLAlchemy render the statement again on every execution.
_SUPERSEDE_ITEMS = (
    update(_ITEM)
    .where(
        _ITEM.c.application_id.in_(
            select(_APP.c.id).where(
                _APP.c.device_id == bindparam("device"),
                _APP.c.status.in_(
                    [ApplicationStatus.READY.value, ApplicationStatus.ACCEPTED.value]
                ),
            )
        )
    )
    .values(status=ItemStatus.REVOKED.value)
)
_SUPERSEDE_APPLICATIONS = (
    update(_APP)
    .where(
        _APP.c.device_id == bindparam("device"),
        _APP.c.status.in_([ApplicationStatus.READY.value, ApplicationStatus.ACCEPTED.value]),
    )
    .values(status=ApplicationStatus.SUPERSEDED.value, updated_at=bindparam("now"))
)
_RELEASE_HOLDER = update(_DEVICE).where(_DEVICE.c.id == bindparam("device")).values(holder=False)


def retire(conn: Connection, device_ids: Sequence[str], now: dt.datetime) -> None:
    """The devices' unfinished applications superseded (their items revoked), and the devices
    no longer holders. Their certificates are the CA's business (revoke_many)."""
    if not device_ids:
        return
    devices = [{"device": d} for d in device_ids]
    direct.write(conn, _SUPERSEDE_ITEMS, devices)
    direct.write(conn, _SUPERSEDE_APPLICATIONS, [{**d, "now": now} for d in devices])
    direct.write(conn, _RELEASE_HOLDER, devices)


_UNFINISHED_OF_DEVICE = select(_APP.c.id).where(
    _APP.c.device_id == bindparam("device"),
    _APP.c.status.in_([ApplicationStatus.READY.value, ApplicationStatus.ACCEPTED.value]),
)
_UNREGISTERED_SERIALS = select(_ITEM.c.cert_serial).where(
    _ITEM.c.application_id.in_(_UNFINISHED_OF_DEVICE),
    _ITEM.c.status == ItemStatus.READY.value,
    _ITEM.c.cert_serial.is_not(None),
)


def supersede_unfinished(
    conn: Connection, device_id: str, now: dt.datetime
) -> tuple[list[str], list[str]]:
    """A new application of ``device_id`` replaces the device's unfinished ones (an attempt
    abandoned after it was sent: docs/lifecycle.md): they are superseded and their items
    revoked. Returns (their ids, the serials already issued for them and never registered),
    the serials for the caller to revoke."""
    params = {"device": device_id}
    ids = [str(r[0]) for r in conn.execute(_UNFINISHED_OF_DEVICE, params)]
    if not ids:
        return [], []
    serials = [str(r[0]) for r in conn.execute(_UNREGISTERED_SERIALS, params)]
    direct.write(conn, _SUPERSEDE_ITEMS, params)
    direct.write(conn, _SUPERSEDE_APPLICATIONS, {**params, "now": now})
    return ids, serials


_MAKE_HOLDER = (
    update(_DEVICE)
    .where(_DEVICE.c.id == bindparam("device"))
    .values(person_id=bindparam("person"), holder=True)
)


def make_holder(conn: Connection, device_id: str, person_id: str) -> None:
    """The partial unique index ``uq_portal_device_holder`` refuses a second holder here."""
    direct.write(conn, _MAKE_HOLDER, {"device": device_id, "person": person_id})


_ITEM_READY = (
    update(_ITEM)
    .where(_ITEM.c.id == bindparam("item"))
    .values(cert_serial=bindparam("serial"), status=ItemStatus.READY.value)
)
_APPLICATION_READY = (
    update(_APP)
    .where(_APP.c.id == bindparam("app"), _APP.c.status == ApplicationStatus.ACCEPTED.value)
    .values(status=ApplicationStatus.READY.value, updated_at=bindparam("now"))
)


def application_ready(
    conn: Connection, application_id: str, serials: Mapping[str, str], now: dt.datetime
) -> None:
    """Each item gets its certificate's serial (one executemany), the application is ready."""
    direct.write(conn, _ITEM_READY, [{"item": item, "serial": s} for item, s in serials.items()])
    if direct.write(conn, _APPLICATION_READY, {"app": application_id, "now": now}) != 1:
        raise LookupError("the application left 'accepted' under its person's lock")


_INSERT_INSTRUCTIONS = insert(_INSTRUCTION)
_INSERT_OUTBOX = insert(_OUTBOX)


def insert_instructions(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        direct.write(conn, _INSERT_INSTRUCTIONS, list(rows))


def outbox_row(
    device: DeviceRef, topic: str, payload: Mapping[str, Any], now: dt.datetime
) -> dict[str, Any] | None:
    """A row of the transactional outbox, as :func:`mobile_jpki.push.outbox.enqueue` writes
    it; None for a device with push turned off (it gets none)."""
    if not device.push_enabled:
        return None
    return {
        "device_id": device.id,
        "topic": topic,
        "payload": json.dumps(dict(payload), sort_keys=True, separators=(",", ":")),
        "created_at": now,
        "attempts": 0,
        "next_attempt_at": now,
    }


def enqueue(conn: Connection, rows: Sequence[Mapping[str, Any] | None]) -> None:
    """Insert the outbox rows (one executemany), in order: their ids are the push order."""
    present = [r for r in rows if r is not None]
    if present:
        direct.write(conn, _INSERT_OUTBOX, present)
