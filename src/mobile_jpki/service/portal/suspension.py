"""Suspension (一時利用停止): the hotline's or the office counter's hold, and its release from
the app (card-signed)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from mobile_jpki.pki.model import CertKind
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.protocol.documents import ReleaseDoc
from mobile_jpki.protocol.instructions import InstructionReason
from mobile_jpki.store.models import CertRecordStatus, serial_hex
from mobile_jpki.store.portal import CardStatus

from . import errors as E
from . import repo as Q
from .cms import read_document
from .context import ACTOR, PHONE_KINDS, Context, device, notify_changed
from .devices import use_nonce
from .instructions import queue_deletion
from .operators import ROLE_HOTLINE, ROLE_OFFICE, OperatorRef
from .signers import card_of_signer, check_time

CARD_KINDS = Q.CARD_KIND_VALUES


def hold_phone(ctx: Context, op: OperatorRef, *, person_id: str, now: dt.datetime) -> list[int]:
    """The 24/365 hotline's 一時利用停止: every good certificate of the person goes on hold —
    the phones' and, with ``PortalConfig.hotline_holds_card`` (the default: the seed's line is
    「マイナンバーカードの一時利用停止」), the active card's."""
    op.require(ROLE_HOTLINE, ROLE_OFFICE)
    held: list[int] = []
    kinds = [k.value for k in PHONE_KINDS]
    if ctx.config.hotline_holds_card:
        kinds += CARD_KINDS
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        ctx.lock_person(s, person_id)
        for cert in Q.good_person_certificates(s, person_id, kinds):
            if cert.kind in CARD_KINDS and not _active_card(s, cert.card_id):
                continue  # a replaced card's certificates are revoked, not held
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


def release_card(ctx: Context, op: OperatorRef, *, person_id: str, now: dt.datetime) -> list[int]:
    """The municipal office lifts the hold on the person's active card: both its
    certificates are simply un-held (JPKI-FACTS gives no card rule; docs/lifecycle.md)."""
    op.require(ROLE_OFFICE)
    released: list[int] = []
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        ctx.lock_person(s, person_id)
        released = _release_card_holds(ctx, s, person_id, None, now)
        if not released:
            raise E.Conflict("no certificate of this person's card is suspended")
        ctx.audit.record(
            s,
            at=now,
            actor=op.actor,
            action="portal.card.release",
            obj=f"person:{person_id}",
            payload={"released": [serial_hex(x) for x in released]},
        )
    return released


def _active_card(s: Session, card_id: str | None) -> bool:
    card = Q.card(s, card_id) if card_id else None
    return card is not None and card.status == CardStatus.ACTIVE.value


def _release_card_holds(
    ctx: Context, s: Session, person_id: str, card_id: str | None, now: dt.datetime
) -> list[int]:
    """Un-hold the held certificates of the person's active card (``card_id``, or any)."""
    released = []
    for cert in Q.held_card_certificates(s, person_id):
        if card_id not in (None, cert.card_id) or not _active_card(s, cert.card_id):
            continue
        ctx.authority.release_hold(int(cert.serial, 16), now, actor=ACTOR, session=s)
        released.append(int(cert.serial, 16))
    return released


def release_hold(
    ctx: Context, device_id: str, cms_der: bytes, *, now: dt.datetime
) -> dict[str, str]:
    """Release of a hotline suspension from the app (card-signed), lifecycle.release_plan:
    the auth certificate is un-held; the signing certificate is revoked (superseded) and the
    device gets an instruction clearing its signing slot, so that the app applies for its
    successor in the same flow (``reissue`` application). With
    ``PortalConfig.app_release_lifts_card_hold`` the card's own hold is lifted too: the
    person has just proven the card and its signing password.
    Returns {"phone-auth" | "phone-sign": "released" | "reapply", "card:<serial>": "released"}."""
    signed = ctx.verifier.verify(cms_der)
    doc = read_document(ReleaseDoc, signed.content)
    if doc.device_id != device_id:
        raise E.DeviceMismatch("not a release request of this device")
    check_time(ctx, doc.signed_at, now)
    result: dict[str, str] = {}
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        lifts_card = ctx.config.app_release_lifts_card_hold
        card = card_of_signer(ctx, s, signed.signer, now, allow_held=lifts_card)
        ctx.lock_person(s, card.person_id)
        use_nonce(s, doc.nonce, device_id, "release", now)
        phone = device(s, device_id)
        if phone.person_id != card.person_id:
            raise E.Forbidden("this phone is not the card holder's")
        for cert in Q.phone_certificates(s, device_id):
            if cert.status != CertRecordStatus.HELD.value:
                continue
            if cert.kind == CertKind.PHONE_AUTH.value:
                ctx.authority.release_hold(int(cert.serial, 16), now, actor=ACTOR, session=s)
                result[cert.kind] = "released"
            else:
                ctx.authority.revoke(
                    int(cert.serial, 16), Reason.SUPERSEDED, now, actor=ACTOR, session=s
                )
                queue_deletion(
                    ctx,
                    s,
                    Q.ref(phone),
                    [(cert.kind, cert.serial)],
                    InstructionReason.REISSUE_SIGNING,
                    now + ctx.config.deletion_window,
                    now,
                )
                result[cert.kind] = "reapply"
        if lifts_card:
            for serial in _release_card_holds(ctx, s, card.person_id, card.card_id, now):
                result[f"card:{serial_hex(serial)}"] = "released"
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
