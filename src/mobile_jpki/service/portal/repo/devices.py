"""Devices (a phone's secure element), the one-time nonces of their signed requests, the
signed instructions queued for them and the push messages of the transactional outbox."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, case, delete, insert, select, update
from sqlalchemy.orm import Session

from mobile_jpki.push import outbox
from mobile_jpki.store import direct
from mobile_jpki.store.portal import (
    Application,
    ApplicationStatus,
    Device,
    DeviceInstruction,
    Nonce,
    OutboxMessage,
)

from .tables import APP, DEVICE, INSTRUCTION, NONCE, OUTBOX


# --- hot: the application and the issuance job (Core, store.direct) -----------------------
@dataclass(frozen=True)
class DeviceRef:
    """What retiring a device and queueing its instruction need to know of it."""

    id: str
    element_serial: str
    push_enabled: bool


def ref(found: Device) -> DeviceRef:
    return DeviceRef(found.id, found.element_serial, found.push_enabled)


_USE_NONCE = (
    update(NONCE)
    .where(
        NONCE.c.value == bindparam("b_value"),
        NONCE.c.device_id == bindparam("device"),
        NONCE.c.purpose == bindparam("b_purpose"),
        NONCE.c.used_at.is_(None),
        NONCE.c.expires_at >= bindparam("now"),
    )
    .values(used_at=bindparam("now"))
)
_NONCE_STATE = select(
    NONCE.c.device_id, NONCE.c.purpose, NONCE.c.used_at, NONCE.c.expires_at
).where(NONCE.c.value == bindparam("value"))


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
_HOLDER_DEVICE = DEVICE.alias("holder_device")
_HOLDER = (
    select(_HOLDER_DEVICE.c.id)
    .where(_HOLDER_DEVICE.c.person_id == bindparam("person"), _HOLDER_DEVICE.c.holder)
    .limit(1)
)
_OPEN_APPLICATION = (
    select(APP.c.id)
    .where(
        APP.c.person_id == bindparam("person"),
        APP.c.status == ApplicationStatus.ACCEPTED.value,
    )
    .limit(1)
)
_APPLYING_DEVICE = select(
    DEVICE.c.attestation_der,
    DEVICE.c.element_serial,
    DEVICE.c.person_id,
    DEVICE.c.holder,
    _HOLDER.scalar_subquery(),
    _OPEN_APPLICATION.scalar_subquery(),
).where(DEVICE.c.id == bindparam("device"))


def applying_device(conn: Connection, device_id: str, person_id: str) -> ApplyingDevice | None:
    """Read after :func:`~.people.lock_person`: the holder and the open application are the
    person's current ones."""
    found = direct.rows(conn, _APPLYING_DEVICE, {"device": device_id, "person": person_id})
    return ApplyingDevice(*found[0]) if found else None


_OTHER_HOLDERS = select(DEVICE.c.id, DEVICE.c.element_serial, DEVICE.c.push_enabled).where(
    DEVICE.c.person_id == bindparam("person"),
    DEVICE.c.holder,
    DEVICE.c.id != bindparam("device"),
)


def other_holders(conn: Connection, person_id: str, device_id: str) -> list[DeviceRef]:
    found = direct.rows(conn, _OTHER_HOLDERS, {"person": person_id, "device": device_id})
    return [DeviceRef(*r) for r in found]


_MAKE_HOLDER = (
    update(DEVICE)
    .where(DEVICE.c.id == bindparam("device"))
    .values(person_id=bindparam("person"), holder=True)
)


def make_holder(conn: Connection, device_id: str, person_id: str) -> None:
    """The partial unique index ``uq_portal_device_holder`` refuses a second holder here."""
    direct.write(conn, _MAKE_HOLDER, {"device": device_id, "person": person_id})


_KEEP: BindParameter[int] = bindparam("keep")
_WITHDRAW_DELETIONS = (
    update(INSTRUCTION)
    .where(
        INSTRUCTION.c.device_id == bindparam("device"),
        INSTRUCTION.c.certificates.is_not(None),
        INSTRUCTION.c.acknowledged_at.is_(None),
        INSTRUCTION.c.cancelled_at.is_(None),
        INSTRUCTION.c.actions.op("&")(bindparam("drop")) != 0,
    )
    # SET expressions read the row as it was (SQL:2016 §14.15; SQLite and PostgreSQL alike).
    .values(
        actions=INSTRUCTION.c.actions.op("&")(_KEEP),
        cancelled_at=case(
            (
                INSTRUCTION.c.actions.op("&")(_KEEP) == 0,
                bindparam("now", type_=INSTRUCTION.c.cancelled_at.type),
            ),
            else_=None,
        ),
    )
)


def withdraw_deletions(
    conn: Connection, device_id: str, drop: int, keep: int, now: dt.datetime
) -> int:
    """The device holds certificates again: its queued deletions stop naming the slots of
    ``drop`` (the kinds it was just issued), and one left with nothing to delete is cancelled,
    never handed out (docs/security.md "Management instructions"). Returns the rows changed."""
    return direct.write(
        conn, _WITHDRAW_DELETIONS, {"device": device_id, "drop": drop, "keep": keep, "now": now}
    )


_INSERT_INSTRUCTIONS = insert(INSTRUCTION)
_INSERT_OUTBOX = insert(OUTBOX)


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
    """Insert the outbox rows (one executemany), in order: their ids are the push order; on
    PostgreSQL, announce them to the process holding each device's stream (``NOTIFY``)."""
    present = [r for r in rows if r is not None]
    if present:
        direct.write(conn, _INSERT_OUTBOX, present)
        outbox.announce(conn, [r["device_id"] for r in present])


# --- the rest (statements over the mapped classes, run by the Session) --------------------
def device(s: Session, device_id: str) -> Device | None:
    return s.get(Device, device_id)


def device_of_element(s: Session, element_serial: str) -> Device | None:
    """The element's device (at most one: the unique index on ``element_serial``), locked
    where the database has row locks."""
    stmt = select(Device).where(Device.element_serial == element_serial).with_for_update()
    return s.scalars(stmt).first()


def lock_device(s: Session, device_id: str) -> bool:
    """Lock the device's row (``FOR UPDATE``; SQLite's writer already holds the database);
    False if there is no such device."""
    stmt = select(Device.id).where(Device.id == device_id).with_for_update()
    return s.execute(stmt).first() is not None


_HAS_APPLIED = select(APP.c.id).where(APP.c.device_id == bindparam("device")).limit(1)


def has_applied(s: Session, device_id: str) -> bool:
    """Whether the device ever had an application accepted: one is stored only after the
    element's attestation signatures over a server nonce verified (proof of possession)."""
    return s.execute(_HAS_APPLIED, {"device": device_id}).first() is not None


def add_device(
    s: Session,
    *,
    device_id: str,
    element_serial: str,
    attestation_der: bytes,
    credential_hash: str,
    push_channel: str,
    push_enabled: bool,
    now: dt.datetime,
) -> None:
    """A newly enrolled device: no holder, no failed credential yet."""
    s.add(
        Device(
            id=device_id,
            element_serial=element_serial,
            attestation_der=attestation_der,
            credential_hash=credential_hash,
            push_channel=push_channel,
            push_enabled=push_enabled,
            holder=False,
            failed_auth=0,
            created_at=now,
        )
    )


_HOLDER_DEVICES = select(Device).where(Device.person_id == bindparam("person"), Device.holder)


def holder_devices(s: Session, person_id: str) -> list[DeviceRef]:
    """The person's holder devices (at most one: the partial unique index)."""
    return [ref(d) for d in s.scalars(_HOLDER_DEVICES, {"person": person_id})]


def add_nonce(
    s: Session,
    *,
    value: str,
    device_id: str,
    purpose: str,
    now: dt.datetime,
    expires_at: dt.datetime,
) -> None:
    s.add(
        Nonce(
            value=value,
            device_id=device_id,
            purpose=purpose,
            created_at=now,
            expires_at=expires_at,
        )
    )


_OUTSTANDING_NONCES = (
    select(Nonce.value)
    .where(
        Nonce.device_id == bindparam("device"),
        Nonce.used_at.is_(None),
        Nonce.expires_at >= bindparam("now"),
    )
    .order_by(Nonce.created_at.desc(), Nonce.value)
)
_DEVICE_UNUSED_NONCES = delete(Nonce).where(
    Nonce.device_id == bindparam("device"), Nonce.used_at.is_(None)
)
_DEVICE_EXPIRED_NONCES = delete(Nonce).where(
    Nonce.device_id == bindparam("device"),
    Nonce.used_at.is_(None),
    Nonce.expires_at < bindparam("now"),
)


def outstanding_nonces(s: Session, device_id: str, now: dt.datetime) -> list[str]:
    """The device's unused, unexpired nonces, newest first."""
    return list(s.scalars(_OUTSTANDING_NONCES, {"device": device_id, "now": now}))


def delete_expired_nonces(s: Session, device_id: str, now: dt.datetime) -> None:
    """The device's nonces that expired unused (used ones stay: replay evidence)."""
    s.execute(_DEVICE_EXPIRED_NONCES, {"device": device_id, "now": now})


def delete_unused_nonces(s: Session, device_id: str) -> None:
    """Every unused nonce of the device (its credential was replaced)."""
    s.execute(_DEVICE_UNUSED_NONCES, {"device": device_id})


_PENDING_INSTRUCTIONS = (
    select(DeviceInstruction)
    .where(
        DeviceInstruction.device_id == bindparam("device"),
        DeviceInstruction.acknowledged_at.is_(None),
        DeviceInstruction.cancelled_at.is_(None),
        # Queued deletions only: an instruction handed over in the answer that made it (a
        # reset, a slot clearance) is never fetched again.
        DeviceInstruction.certificates.is_not(None),
        DeviceInstruction.not_after > bindparam("now"),
    )
    .order_by(DeviceInstruction.created_at)
)


def pending_instructions(s: Session, device_id: str, now: dt.datetime) -> list[DeviceInstruction]:
    """The device's queued deletions, unacknowledged, not cancelled and still valid at
    ``now``, oldest first."""
    return list(s.scalars(_PENDING_INSTRUCTIONS, {"device": device_id, "now": now}).all())


# Deletions the device never carried out before they expired, and that it has not moved on from
# (no application of its own since): the certificates they named stay in its element, revoked.
_LAPSED_INSTRUCTIONS = (
    select(DeviceInstruction)
    .where(
        DeviceInstruction.device_id == bindparam("device"),
        DeviceInstruction.acknowledged_at.is_(None),
        DeviceInstruction.cancelled_at.is_(None),  # withdrawn: the phone holds them again
        DeviceInstruction.not_after <= bindparam("now"),
        DeviceInstruction.reason.in_(bindparam("reasons", expanding=True)),
        ~select(Application.id)
        .where(
            Application.device_id == DeviceInstruction.device_id,
            Application.created_at > DeviceInstruction.created_at,
        )
        .exists(),
    )
    .order_by(DeviceInstruction.created_at)
)


def lapsed_instructions(
    s: Session, device_id: str, now: dt.datetime, reasons: Sequence[str]
) -> list[DeviceInstruction]:
    """The device's deletion instructions (of ``reasons``) that expired unacknowledged before
    ``now``, unless the device applied again since; oldest first."""
    params = {"device": device_id, "now": now, "reasons": list(reasons)}
    return list(s.scalars(_LAPSED_INSTRUCTIONS, params).all())


def instruction(s: Session, instruction_id: str) -> DeviceInstruction | None:
    return s.get(DeviceInstruction, instruction_id)


# --- housekeeping ----------------------------------------------------------------------------
_STALE_NONCES = select(Nonce.value).where(
    Nonce.used_at.is_(None), Nonce.expires_at < bindparam("before")
)
_DELIVERED_MESSAGES = select(OutboxMessage.id).where(
    OutboxMessage.delivered_at.is_not(None), OutboxMessage.delivered_at < bindparam("before")
)
_DELETE_NONCES = delete(Nonce).where(Nonce.value.in_(bindparam("values", expanding=True)))
_DELETE_MESSAGES = delete(OutboxMessage).where(
    OutboxMessage.id.in_(bindparam("ids", expanding=True))
)


def stale_nonces(s: Session, before: dt.datetime) -> list[str]:
    """Nonces that expired unused before ``before`` (used ones stay: replay evidence)."""
    return list(s.scalars(_STALE_NONCES, {"before": before}))


def delivered_messages(s: Session, before: dt.datetime) -> list[int]:
    """Push messages delivered before ``before``."""
    return list(s.scalars(_DELIVERED_MESSAGES, {"before": before}))


def delete_nonces(s: Session, values: Sequence[str]) -> None:
    if values:
        s.execute(_DELETE_NONCES, {"values": list(values)})


def delete_messages(s: Session, ids: Sequence[int]) -> None:
    if ids:
        s.execute(_DELETE_MESSAGES, {"ids": list(ids)})
