"""Signed management instructions to a device's element (docs/apdu.md "Signed management
instructions"): queued (the 48-hour deletion after a device is retired, a signing slot's
deletion at release, the challenge-bound password reset), handed out while valid, and
acknowledged."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mobile_jpki.protocol.documents import ResetDoc
from mobile_jpki.protocol.instructions import Action, InstructionReason, build_instruction
from mobile_jpki.push import outbox
from mobile_jpki.store.models import CertRecordStatus

from . import errors as E
from . import repo as Q
from .cms import read_document
from .context import Context, device
from .devices import use_nonce
from .signers import card_of_signer, check_time


@dataclass(frozen=True)
class PendingInstruction:
    id: str
    actions: int
    instruction: bytes
    not_after: dt.datetime
    reason: str


def queue_instruction(
    ctx: Context,
    s: Session,
    target: Q.DeviceRef,
    actions: Action,
    why: InstructionReason,
    not_after: dt.datetime,
    now: dt.datetime,
    challenge: bytes | None = None,
    *,
    delivered: bool = False,
    handed_over: bool = False,
) -> bytes:
    """A signed instruction for ``target`` (and, unless challenge-bound, its
    ``deletion-pending`` push); returns the instruction."""
    body = build_instruction(
        key=ctx.instruction_key,
        target_serial=bytes.fromhex(target.element_serial),
        actions=actions,
        not_after=not_after,
        challenge=challenge,
    )
    instruction_id = ctx.new_id()
    conn = s.connection()
    Q.insert_instructions(
        conn,
        [
            {
                "id": instruction_id,
                "device_id": target.id,
                "actions": int(actions),
                "instruction": body,
                "not_after": not_after,
                "reason": why.value,
                "created_at": now,
                "delivered_at": now if delivered else None,
                # Handed over in the answer that made it (challenge-bound, carried out at once):
                # never listed among the instructions the phone fetches when it comes online.
                "acknowledged_at": now if handed_over else None,
            }
        ],
    )
    if challenge is None:
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
    return body


def pending_instructions(
    ctx: Context, device_id: str, *, now: dt.datetime
) -> list[PendingInstruction]:
    """Instructions still valid for this device. After ``not_after`` the service no longer
    hands them out (and the element would refuse them: 69 82)."""
    with ctx.db.transaction() as s:
        out = []
        for row in Q.pending_instructions(s, device_id, now):
            if row.delivered_at is None:
                row.delivered_at = now
            out.append(
                PendingInstruction(row.id, row.actions, row.instruction, row.not_after, row.reason)
            )
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
        return [
            PendingInstruction(r.id, r.actions, r.instruction, r.not_after, r.reason) for r in rows
        ]


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
        instruction = queue_instruction(
            ctx,
            s,
            Q.ref(phone),
            action,
            InstructionReason.PASSWORD_RESET,
            now + ctx.config.reset_validity,
            now,
            challenge=bytes.fromhex(doc.element_challenge),
            delivered=True,  # handed over in this very answer
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
    if not 8 <= len(challenge) <= 64:
        raise E.RequestInvalid("an element challenge is 8 to 64 bytes")
    with ctx.db.transaction() as s:
        phone = device(s, device_id)
        kinds: dict[str, bool] = {}
        for cert in Q.phone_certificates(s, device_id):
            revoked = cert.status == CertRecordStatus.REVOKED.value
            kinds[cert.kind] = kinds.get(cert.kind, True) and revoked
        actions = Action(0)
        for kind, all_revoked in kinds.items():
            if all_revoked:
                actions |= Action.DELETE_SIGN if kind == "phone-sign" else Action.DELETE_AUTH
        if not actions:
            raise E.Conflict("no slot of this phone holds only revoked certificates")
        instruction = queue_instruction(
            ctx,
            s,
            Q.ref(phone),
            actions,
            InstructionReason.CLEAR_REVOKED,
            now + ctx.config.reset_validity,
            now,
            challenge=challenge,
            delivered=True,
            handed_over=True,
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
