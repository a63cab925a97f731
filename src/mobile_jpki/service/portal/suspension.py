"""Suspension (一時利用停止): the hotline's or the office counter's hold, and its release from
the app (card-signed)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mobile_jpki.applet.instructions import Action
from mobile_jpki.pki.model import CertKind
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.store.models import Certificate, CertStatus, serial_hex

from . import errors as E
from .context import ACTOR, PHONE_KINDS, Context, device, notify_changed, phone_certs, ref
from .devices import use_nonce
from .documents import ReleaseDoc, parse
from .instructions import queue_instruction
from .operators import ROLE_HOTLINE, ROLE_OFFICE, OperatorRef
from .signers import card_of_signer, check_time


def hold_phone(ctx: Context, op: OperatorRef, *, person_id: str, now: dt.datetime) -> list[int]:
    """Hotline 一時利用停止: every good phone certificate of the person goes on hold."""
    op.require(ROLE_HOTLINE, ROLE_OFFICE)
    held: list[int] = []
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        ctx.lock_person(s, person_id)
        stmt = select(Certificate).where(
            Certificate.person_id == person_id,
            Certificate.kind.in_([k.value for k in PHONE_KINDS]),
            Certificate.status == CertStatus.GOOD.value,
        )
        for cert in s.scalars(stmt).all():
            ctx.authority.hold(int(cert.serial, 16), now, actor=ACTOR, session=s)
            held.append(int(cert.serial, 16))
            if cert.device_id:
                notify_changed(s, cert.device_id, now)
        ctx.audit.record(
            s,
            at=now,
            actor=op.actor,
            action="portal.phone.hold",
            obj=f"person:{person_id}",
            payload={"held": [serial_hex(x) for x in held]},
        )
    return held


def release_hold(
    ctx: Context, device_id: str, cms_der: bytes, *, now: dt.datetime
) -> dict[str, str]:
    """Release of a hotline suspension from the app (card-signed): the auth certificate is
    un-held; the signing certificate is revoked (superseded) and must be applied for and
    registered again — the device gets an instruction deleting its signing slot so the
    element accepts a new key there. Returns {kind: "released" | "reapply"}."""
    signed = ctx.verifier.verify(cms_der)
    doc = parse(ReleaseDoc, signed.content)
    if doc.device_id != device_id:
        raise E.DeviceMismatch("not a release request of this device")
    check_time(ctx, doc.signed_at, now)
    result: dict[str, str] = {}
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        card = card_of_signer(ctx, s, signed.signer, now)
        ctx.lock_person(s, card.person_id)
        use_nonce(s, doc.nonce, device_id, "release", now)
        phone = device(s, device_id)
        if phone.person_id != card.person_id:
            raise E.Forbidden("this phone is not the card holder's")
        for cert in phone_certs(s, device_id):
            if cert.status != CertStatus.HELD.value:
                continue
            if cert.kind == CertKind.PHONE_AUTH.value:
                ctx.authority.release_hold(int(cert.serial, 16), now, actor=ACTOR, session=s)
                result[cert.kind] = "released"
            else:
                ctx.authority.revoke(
                    int(cert.serial, 16), Reason.SUPERSEDED, now, actor=ACTOR, session=s
                )
                queue_instruction(
                    ctx,
                    s,
                    ref(phone),
                    Action.DELETE_SIGN,
                    "reissue-signing",
                    now + ctx.config.deletion_window,
                    now,
                )
                result[cert.kind] = "reapply"
        if not result:
            raise E.Conflict("no suspended certificate on this phone")
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.phone.release",
            obj=f"device:{device_id}",
            payload=result,
        )
    return result
