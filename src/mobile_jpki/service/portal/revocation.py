"""Revocation of phone certificates: retiring devices (the shared step of a model change,
card replacement and 別のスマホの失効, with the 48-hour deletion instruction), 失効 from the
phone itself, and from my page for another phone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from mobile_jpki.lifecycle import revocation_secret
from mobile_jpki.pki.model import CertKind
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.protocol.documents import DocType, RevocationDoc
from mobile_jpki.protocol.instructions import InstructionReason
from mobile_jpki.store.models import CertRecordStatus, serial_hex

from . import errors as E
from . import repo as Q
from .cms import read_document
from .context import ACTOR, PHONE_KIND_VALUES, Context, device, unrevoked
from .devices import use_nonce
from .instructions import queue_deletion
from .ports import SignedWrites
from .signers import card_of_signer, check_time


def retire_devices(
    ctx: Context,
    s: Session,
    devices: Sequence[Q.DeviceRef],
    certs: Sequence[Q.UnrevokedCertificate],
    reason: Reason,
    why: InstructionReason,
    now: dt.datetime,
    *,
    later: SignedWrites | None = None,
) -> list[int]:
    """Revoke every unrevoked phone certificate of ``devices`` (among ``certs``, which
    must hold them all), stop them being holders, supersede their unfinished applications
    and queue a signed deletion instruction valid ``deletion_window`` from now for each
    that had any (docs/apdu.md "Signed management instructions")."""
    if not devices:
        return []
    per_device: dict[str, list[Q.UnrevokedCertificate]] = {d.id: [] for d in devices}
    for cert in sorted(certs, key=lambda c: c.serial):
        if cert.device_id in per_device and cert.kind in PHONE_KIND_VALUES:
            if cert.status != CertRecordStatus.REVOKED.value:
                per_device[cert.device_id].append(cert)
    revoked = [int(c.serial, 16) for d in devices for c in per_device[d.id]]
    # One batch: the rows locked in one statement, their answers and CRL changes written
    # with one executemany each.
    ctx.authority.revoke_many(revoked, reason, now, actor=ACTOR, session=s, later=later)
    conn = s.connection()
    Q.retire(conn, [d.id for d in devices], now)
    not_after = now + ctx.config.deletion_window
    for target in devices:
        # The deletion names exactly the certificates revoked here: a slot holding any other
        # (registered since, on a device that became a holder again) refuses it.
        queue_deletion(
            ctx, s, target, [(c.kind, c.serial) for c in per_device[target.id]], why, not_after, now
        )
        ctx.audit.record(
            s,
            at=now,
            actor="service",
            action="portal.device.retire",
            obj=f"device:{target.id}",
            payload={
                "reason": int(reason),
                "why": why,
                "revoked": [c.serial for c in per_device[target.id]],
            },
        )
    return revoked


def revoke_from_phone(
    ctx: Context, device_id: str, cms_der: bytes, *, now: dt.datetime
) -> list[int]:
    """失効 from the phone, signed inside its element by the key of the certificate it acts on
    (lifecycle.revocation_secret): the signing key (after the signing password) for any
    choice that includes the signing certificate, the user-auth key (after its PIN) for the
    user-auth certificate alone — so a phone holding only that one can revoke it."""
    signed = ctx.verifier.verify(cms_der)
    doc = read_document(RevocationDoc, signed.content)
    if doc.type is not DocType.PHONE_REVOCATION or doc.device_id != device_id:
        raise E.DeviceMismatch("not a revocation of this device")
    check_time(ctx, doc.signed_at, now)
    revoked: list[int] = []
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        row = Q.certificate(s, serial_hex(signed.signer.serial_number))
        if (
            row is None
            or row.device_id != device_id
            or row.der != signed.signer.public_bytes(serialization.Encoding.DER)
            or row.status == CertRecordStatus.REVOKED.value
        ):
            raise E.SignatureInvalid("not signed by a current phone certificate of this device")
        if row.person_id is None:
            raise E.SignatureInvalid("not a certificate of a person")
        chosen = frozenset(CertKind(k).hierarchy for k in doc.certificates)
        if CertKind(row.kind).hierarchy is not revocation_secret(chosen):
            raise E.SignatureInvalid(
                "a revocation is signed by the key of the certificate it acts on"
            )
        ctx.lock_person(s, row.person_id)
        use_nonce(s, doc.nonce, device_id, "revocation", now)
        phone = device(s, device_id)
        wanted = set(doc.certificates)
        for cert in Q.phone_certificates(s, device_id):
            if cert.kind in wanted and cert.status != CertRecordStatus.REVOKED.value:
                ctx.authority.revoke(
                    int(cert.serial, 16),
                    Reason.CESSATION_OF_OPERATION,
                    now,
                    actor=ACTOR,
                    session=s,
                )
                revoked.append(int(cert.serial, 16))
        s.flush()
        if all(
            c.status == CertRecordStatus.REVOKED.value for c in Q.phone_certificates(s, device_id)
        ):
            phone.holder = False
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.phone.revoke",
            obj=f"device:{device_id}",
            payload={"revoked": [serial_hex(x) for x in revoked]},
        )
    return revoked


def revoke_other_device(
    ctx: Context, device_id: str, cms_der: bytes, *, now: dt.datetime
) -> list[int]:
    """My page → 別のスマホのスマホ用電子証明書 → 失効: card-signed; the other phone's
    certificates are revoked and it gets the 48-hour deletion instruction."""
    signed = ctx.verifier.verify(cms_der)
    doc = read_document(RevocationDoc, signed.content)
    if doc.type is not DocType.REVOKE_OTHER_DEVICE or doc.device_id != device_id:
        raise E.DeviceMismatch("not a revocation request of this device")
    check_time(ctx, doc.signed_at, now)
    revoked: list[int] = []
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        card = card_of_signer(ctx, s, signed.signer, now)
        ctx.lock_person(s, card.person_id)
        use_nonce(s, doc.nonce, device_id, "revocation", now)
        others = Q.other_holders(s.connection(), card.person_id, device_id)
        if not others:
            raise E.NoSuchObject("no other phone holds certificates of this person")
        revoked += retire_devices(
            ctx,
            s,
            others,
            unrevoked(s, [], [o.id for o in others]),
            Reason.CESSATION_OF_OPERATION,
            InstructionReason.REVOKED_FROM_MY_PAGE,
            now,
        )
        ctx.audit.record(
            s,
            at=now,
            actor=f"device:{device_id}",
            action="portal.phone.revoke-other",
            obj=f"person:{card.person_id}",
            payload={"revoked": [serial_hex(x) for x in revoked]},
        )
    return revoked
