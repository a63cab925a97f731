"""Signed management instructions to a device's element (docs/apdu.md "Signed management
instructions"): deletions queued (the 48-hour deletion after a device is retired, a signing
slot's deletion at release), signed for the element's challenge when the phone comes online,
acknowledged, or withdrawn when the device holds certificates again; the challenge-bound
password reset and slot clearance, handed over in the answer that makes them.

Why deletions are signed late and name their certificates: docs/security.md, "Management
instructions"."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mobile_jpki.pki.model import CertKind
from mobile_jpki.protocol.documents import ResetDoc
from mobile_jpki.protocol.instructions import (
    MAX_NAMED,
    Action,
    InstructionReason,
    build_instruction,
    certificate_digest,
)
from mobile_jpki.push import outbox
from mobile_jpki.store.models import CertRecordStatus

from . import errors as E
from . import repo as Q
from .cms import read_document
from .context import Context, device
from .devices import use_nonce
from .signers import card_of_signer, check_time

log = logging.getLogger(__name__)

DELETE_OF = {
    CertKind.PHONE_SIGN.value: Action.DELETE_SIGN,
    CertKind.PHONE_AUTH.value: Action.DELETE_AUTH,
}
CHALLENGE_MIN, CHALLENGE_MAX = 8, 64  # bytes of an element challenge the API accepts


@dataclass(frozen=True)
class PendingInstruction:
    id: str
    actions: int
    not_after: dt.datetime
    reason: str


def queue_deletion(
    ctx: Context,
    s: Session,
    target: Q.DeviceRef,
    certificates: Iterable[tuple[str, str]],
    why: InstructionReason,
    not_after: dt.datetime,
    now: dt.datetime,
) -> str | None:
    """Queue the deletion of ``certificates`` ((kind, hex serial) of phone certificates) from
    ``target``'s element, with its ``deletion-pending`` push. Nothing is signed yet: the
    phone asks for it with the element's challenge (:func:`sign_deletion`). Returns the
    instruction's id (None: nothing to delete)."""
    named = sorted({(kind, serial) for kind, serial in certificates if kind in DELETE_OF})
    if not named:
        return None
    actions = Action(0)
    for kind, _ in named:
        actions |= DELETE_OF[kind]
    instruction_id = ctx.new_id()
    conn = s.connection()
    Q.insert_instructions(
        conn,
        [
            {
                "id": instruction_id,
                "device_id": target.id,
                "actions": int(actions),
                "instruction": b"",
                "not_after": not_after,
                "reason": why.value,
                "created_at": now,
                "delivered_at": None,
                "acknowledged_at": None,
                "certificates": " ".join(serial for _, serial in named),
                "cancelled_at": None,
            }
        ],
    )
    Q.enqueue(
        conn,
        [
            Q.outbox_row(
                target,
                outbox.DELETION_PENDING,
                {"instruction": instruction_id, "not_after": not_after.isoformat()},
                now,
            )
        ],
    )
    return instruction_id


def _digests(
    certificates: Iterable[tuple[str, bytes]], actions: Action
) -> tuple[list[bytes], list[bytes]]:
    """The digests a deletion names for its signing slot and its auth slot."""
    sign, auth = [], []
    for kind, der in certificates:
        if kind == CertKind.PHONE_SIGN.value and actions & Action.DELETE_SIGN:
            sign.append(certificate_digest(der))
        elif kind == CertKind.PHONE_AUTH.value and actions & Action.DELETE_AUTH:
            auth.append(certificate_digest(der))
    return sign, auth


def hand_over(
    ctx: Context,
    s: Session,
    target: Q.DeviceRef,
    actions: Action,
    why: InstructionReason,
    not_after: dt.datetime,
    now: dt.datetime,
    challenge: bytes,
    *,
    certificates: Sequence[tuple[str, bytes]] = (),
    carried_out: bool = False,
) -> bytes:
    """An instruction signed now for the element's ``challenge`` and handed over in the
    answer that makes it (a reset, a slot clearance); recorded, never fetched again. A
    deletion among ``actions`` names ``certificates`` ((kind, DER)) of its slots."""
    sign, auth = _digests(certificates, actions)
    body = build_instruction(
        key=ctx.instruction_key,
        target_serial=bytes.fromhex(target.element_serial),
        actions=actions,
        not_after=not_after,
        challenge=challenge,
        sign_certificates=sign,
        auth_certificates=auth,
    )
    Q.insert_instructions(
        s.connection(),
        [
            {
                "id": ctx.new_id(),
                "device_id": target.id,
                "actions": int(actions),
                "instruction": body,
                "not_after": not_after,
                "reason": why.value,
                "created_at": now,
                "delivered_at": now,
                # Carried out at once by the app (a slot clearance): never pending.
                "acknowledged_at": now if carried_out else None,
                "certificates": None,
                "cancelled_at": None,
            }
        ],
    )
    return body


def pending_instructions(
    ctx: Context, device_id: str, *, now: dt.datetime
) -> list[PendingInstruction]:
    """Deletions queued for this device, still valid and not withdrawn. After ``not_after``
    the service no longer lists or signs them (and the element would refuse one signed
    earlier: 69 82)."""
    with ctx.db.transaction() as s:
        out = []
        for row in Q.pending_instructions(s, device_id, now):
            if row.delivered_at is None:
                row.delivered_at = now
            out.append(PendingInstruction(row.id, row.actions, row.not_after, row.reason))
        return out


# The deletions an old phone is told about (the others are carried out without a notice).
NOTIFIED_DELETIONS = (
    InstructionReason.MODEL_CHANGE,
    InstructionReason.REVOKED_FROM_MY_PAGE,
    InstructionReason.CARD_REPLACED,
)


def lapsed_instructions(
    ctx: Context, device_id: str, *, now: dt.datetime
) -> list[PendingInstruction]:
    """Deletion instructions this device did not carry out within their window (it stayed
    offline past the 48 hours): its element keeps the revoked certificates (JPKI-FACTS "One
    phone per person"), and the app tells the person so, once. Read-only; none once the device
    has applied again (機種変更 back: its slots are cleared then, ``clear_revoked``)."""
    with ctx.db.transaction(write=False) as s:
        rows = Q.lapsed_instructions(s, device_id, now, [r.value for r in NOTIFIED_DELETIONS])
        return [PendingInstruction(r.id, r.actions, r.not_after, r.reason) for r in rows]


def sign_deletion(
    ctx: Context, device_id: str, instruction_id: str, challenge: bytes, *, now: dt.datetime
) -> bytes:
    """A queued deletion signed for the element's ``challenge`` (its last GET CHALLENGE),
    naming the SHA-256 of each certificate it deletes. The element accepts it once, for that
    challenge, until ``not_after`` — the queued deadline, or ``reset_validity`` from now if
    sooner — and only while each slot it deletes holds one of the named certificates or none
    (docs/apdu.md)."""
    if not CHALLENGE_MIN <= len(challenge) <= CHALLENGE_MAX:
        raise E.RequestInvalid("an element challenge is 8 to 64 bytes")
    with ctx.db.transaction() as s:
        row = Q.instruction(s, instruction_id)
        if row is None or row.device_id != device_id or row.certificates is None:
            raise E.NoSuchObject("no such deletion for this device")
        if row.cancelled_at is not None:
            raise E.NoSuchObject("withdrawn: this phone holds certificates again")
        if row.acknowledged_at is not None:
            raise E.Conflict("this deletion was carried out already")
        if now > row.not_after:
            raise E.InstructionExpired("the instruction expired before it was carried out")
        certificates = []
        for serial in row.certificates.split():
            cert = Q.certificate(s, serial)
            if cert is not None:
                certificates.append((cert.kind, cert.der))
        actions = Action(row.actions)
        sign, auth = _digests(certificates, actions)
        phone = device(s, device_id)
        body = build_instruction(
            key=ctx.instruction_key,
            target_serial=bytes.fromhex(phone.element_serial),
            actions=actions,
            not_after=min(row.not_after, now + ctx.config.reset_validity),
            challenge=challenge,
            sign_certificates=sign,
            auth_certificates=auth,
        )
        row.instruction = body
        row.delivered_at = row.delivered_at or now
        return body


def acknowledge_instruction(
    ctx: Context, device_id: str, instruction_id: str, *, now: dt.datetime
) -> None:
    with ctx.db.transaction() as s:
        row = Q.instruction(s, instruction_id)
        if row is None or row.device_id != device_id:
            raise E.NoSuchObject("no such instruction for this device")
        if row.acknowledged_at is not None:
            return
        if now > row.not_after:
            raise E.InstructionExpired("the instruction expired before it was carried out")
        row.acknowledged_at = now
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.instruction.ack",
            obj=f"instruction:{row.id}",
            payload={"actions": row.actions, "reason": row.reason},
        )


def record_refusal(
    ctx: Context, device_id: str, instruction_id: str, sw: int, reason: str, *, now: dt.datetime
) -> None:
    """The phone's element answered ``sw`` (an ISO 7816-4 §5.6 error status word) to this
    instruction where the phone expected it accepted: most often 69 82 for a signature made
    with another instruction key than the one the element was personalised with, i.e. hosts
    that do not share the key (docs/deploy.md). Recorded on the row and in the audit log, so
    the failure is seen at the service, not only on the phone; the first report is kept."""
    with ctx.db.transaction() as s:
        row = Q.instruction(s, instruction_id)
        if row is None or row.device_id != device_id:
            raise E.NoSuchObject("no such instruction for this device")
        if row.refused_at is not None:
            return
        row.refused_at = now
        row.refused_sw = f"{sw:04X}"
        row.refused_reason = reason[:200]
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.instruction.refused",
            obj=f"instruction:{row.id}",
            payload={"sw": row.refused_sw, "reason": row.refused_reason, "actions": row.actions},
        )
    log.warning(
        "the element of device %s refused instruction %s: SW %04X (%s)",
        device_id,
        instruction_id,
        sw,
        reason[:200],
    )


def password_reset(ctx: Context, device_id: str, cms_der: bytes, *, now: dt.datetime) -> bytes:
    """初期化: a card-signed request returns a reset instruction bound to the element's
    challenge; the app appends the new secret (C1/C2) and sends it to the element."""
    signed = ctx.verifier.verify(cms_der)
    doc = read_document(ResetDoc, signed.content)
    if doc.device_id != device_id:
        raise E.DeviceMismatch("not a reset request of this device")
    check_time(ctx, doc.signed_at, now)
    with ctx.db.transaction() as s:
        card = card_of_signer(ctx, s, signed.signer, now)
        ctx.lock_person(s, card.person_id)
        use_nonce(s, doc.nonce, device_id, "reset", now)
        phone = device(s, device_id)
        if phone.person_id != card.person_id or not phone.holder:
            raise E.Forbidden("this phone holds no certificates of the card holder")
        action = (
            Action.RESET_SIGN_PASSWORD if doc.certificate == "phone-sign" else Action.RESET_AUTH_PIN
        )
        instruction = hand_over(
            ctx,
            s,
            Q.ref(phone),
            action,
            InstructionReason.PASSWORD_RESET,
            now + ctx.config.reset_validity,
            now,
            bytes.fromhex(doc.element_challenge),
        )
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.phone.reset",
            obj=f"device:{device_id}",
            payload={"certificate": doc.certificate},
        )
        return instruction


def clear_revoked(ctx: Context, device_id: str, challenge: bytes, *, now: dt.datetime) -> bytes:
    """An instruction deleting this element's slots whose certificates are all revoked, bound
    to the element's challenge (single use) and valid ``reset_validity``.

    A phone that came online after the 48-hour window keeps its revoked certificates
    (JPKI-FACTS "One phone per person"), and its element refuses a new key over a slot that
    holds one: without this, 機種変更 back to that phone would be a dead end. Deleting revoked
    certificates harms no one, so the device's own credential suffices; a slot holding any
    certificate that is not revoked is never touched (docs/lifecycle.md)."""
    if not CHALLENGE_MIN <= len(challenge) <= CHALLENGE_MAX:
        raise E.RequestInvalid("an element challenge is 8 to 64 bytes")
    with ctx.db.transaction() as s:
        phone = device(s, device_id)
        kinds: dict[str, bool] = {}
        issued = Q.phone_certificates(s, device_id)
        for cert in issued:
            revoked = cert.status == CertRecordStatus.REVOKED.value
            kinds[cert.kind] = kinds.get(cert.kind, True) and revoked
        actions = Action(0)
        for kind, all_revoked in kinds.items():
            if all_revoked and kind in DELETE_OF:
                actions |= DELETE_OF[kind]
        if not actions:
            raise E.Conflict("no slot of this phone holds only revoked certificates")
        # It names the certificates of those kinds issued to this device (all revoked),
        # whichever the slot still holds: the newest MAX_NAMED of each kind. A slot's
        # certificate must be cleared before a new key is made there (69 85 otherwise,
        # docs/apdu.md), so the one it holds is never older than those issued after it.
        newest = sorted(issued, key=lambda c: c.issued_at, reverse=True)
        named: list[tuple[str, bytes]] = []
        for kind in DELETE_OF:
            named += [(c.kind, c.der) for c in newest if c.kind == kind][:MAX_NAMED]
        instruction = hand_over(
            ctx,
            s,
            Q.ref(phone),
            actions,
            InstructionReason.CLEAR_REVOKED,
            now + ctx.config.reset_validity,
            now,
            challenge,
            certificates=named,
            carried_out=True,
        )
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.phone.clear-revoked",
            obj=f"device:{device_id}",
            payload={"actions": int(actions)},
        )
        return instruction
