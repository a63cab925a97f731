"""The register of residents and their cards, kept by the municipal office: persons, cards,
the certification of a card's on-chip keys, 異動 (new facts) and card replacement."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.lifecycle import kinds_for_age
from mobile_jpki.pki.identity import BasicFourFacts, Locality
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.pki.validity import EligibilityError, ValidityError, card_validity
from mobile_jpki.protocol.instructions import InstructionReason
from mobile_jpki.store.models import CertRecordStatus, serial_hex
from mobile_jpki.store.portal import CardStatus

from . import errors as E
from . import repo as Q
from .context import ACTOR, Context, facts_from_json, facts_to_json, notify_changed, unrevoked
from .operators import ROLE_OFFICE, OperatorRef
from .ports import IssueOrder
from .revocation import retire_devices


def register_person(
    ctx: Context, op: OperatorRef, *, facts: BasicFourFacts, locality: Locality, now: dt.datetime
) -> str:
    op.require(ROLE_OFFICE)
    person_id = ctx.new_id()
    with ctx.db.transaction() as s:
        Q.add_person(s, person_id, facts_to_json(facts, locality), now)
        ctx.audit.record(
            s,
            at=now,
            actor=op.actor,
            action="portal.person.register",
            obj=f"person:{person_id}",
        )
    return person_id


def register_card(
    ctx: Context,
    op: OperatorRef,
    *,
    person_id: str,
    applet_serial: bytes,
    expires_at: dt.datetime,
    now: dt.datetime,
) -> str:
    """Record a card being personalised at the office; its keys are certified next."""
    op.require(ROLE_OFFICE)
    if expires_at <= now:
        raise E.RequestInvalid("the card is already expired")
    if len(applet_serial) != 16:
        raise E.RequestInvalid("an applet serial is 16 bytes")
    card_id = ctx.new_id()
    with ctx.db.transaction() as s:
        ctx.lock_person(s, person_id)
        if Q.card_by_applet_serial(s, applet_serial.hex()):
            raise E.Conflict("this card is already registered")
        Q.add_card(
            s,
            card_id=card_id,
            person_id=person_id,
            applet_serial=applet_serial.hex(),
            status=CardStatus.ACTIVE.value,
            expires_at=expires_at,
            now=now,
        )
        ctx.audit.record(
            s,
            at=now,
            actor=op.actor,
            action="portal.card.register",
            obj=f"card:{card_id}",
            payload={"person": person_id},
        )
    return card_id


def card_certificates(
    ctx: Context, op: OperatorRef, *, card_id: str, now: dt.datetime
) -> frozenset[CertKind]:
    """The certificates the office certifies for this card (lifecycle.kinds_for_age): user
    authentication always, signing from age 15. Asked before the card makes any key, so an
    ineligible certificate is never attempted and nothing is left half-made."""
    op.require(ROLE_OFFICE)
    with ctx.db.transaction(write=False) as s:
        card = Q.card(s, card_id)
        if card is None:
            raise E.NoSuchObject("no such card")
        person = Q.person(s, card.person_id)
        if person is None:
            raise E.NoSuchObject("no such person")
        facts, _ = facts_from_json(person.facts_json)
    kinds = kinds_for_age(facts.date_of_birth, now)
    card_kind = {Hierarchy.SIGN: CertKind.CARD_SIGN, Hierarchy.AUTH: CertKind.CARD_AUTH}
    return frozenset(card_kind[h] for h in kinds)


def abandon_card(ctx: Context, op: OperatorRef, *, card_id: str, now: dt.datetime) -> list[int]:
    """A personalisation that failed (a card that stopped answering, a refused key): the
    record of a card that never became usable is removed, or — when a certificate was
    already issued for it — cancelled with that certificate revoked (cessationOfOperation),
    so no half-made card stays active. An activated card is replaced, never abandoned."""
    op.require(ROLE_OFFICE)
    revoked: list[int] = []
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        card = Q.card(s, card_id)
        if card is None:
            raise E.NoSuchObject("no such card")
        ctx.lock_person(s, card.person_id)
        if card.status != CardStatus.ACTIVE.value:
            return []
        if card.sign_serial is not None and card.auth_serial is not None:
            raise E.Conflict("the card is complete: replace it instead")
        for serial in (card.auth_serial, card.sign_serial):
            if serial is not None:
                ctx.authority.revoke(
                    int(serial, 16), Reason.CESSATION_OF_OPERATION, now, actor=ACTOR, session=s
                )
                revoked.append(int(serial, 16))
        if revoked:
            card.status = CardStatus.CANCELLED.value
        else:
            Q.delete_card(s, card)
        ctx.audit.record(
            s,
            at=now,
            actor=op.actor,
            action="portal.card.abandon",
            obj=f"card:{card_id}",
            payload={"revoked": [serial_hex(x) for x in revoked]},
        )
    return revoked


def certify_card_key(
    ctx: Context,
    op: OperatorRef,
    *,
    card_id: str,
    kind: CertKind,
    public_key: rsa.RSAPublicKey,
    now: dt.datetime,
) -> x509.Certificate:
    """Certify a key the card generated on chip (the office terminal drives the card
    through APDUs: ``reader.personalise_card`` calls this per key, auth first). Validity
    per :func:`~mobile_jpki.pki.validity.card_validity`: 5th birthday, card expiry, the
    signing certificate capped by the auth one; none for signing under 15."""
    op.require(ROLE_OFFICE)
    if kind not in (CertKind.CARD_SIGN, CertKind.CARD_AUTH):
        raise E.RequestInvalid("a card holds card-sign and card-auth certificates")
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        card = Q.card(s, card_id)
        if card is None:
            raise E.NoSuchObject("no such card")
        person = ctx.lock_person(s, card.person_id)
        if card.status != CardStatus.ACTIVE.value:
            raise E.Conflict("the card was replaced")
        current = card.sign_serial if kind is CertKind.CARD_SIGN else card.auth_serial
        if current is not None:
            raise E.Conflict(f"the card already has its {kind.value} certificate")
        facts, locality = facts_from_json(person.facts_json)
        signing = kind is CertKind.CARD_SIGN
        auth_end = None
        if signing:
            auth_row = Q.certificate(s, card.auth_serial) if card.auth_serial else None
            if auth_row is None:
                raise E.Conflict("certify the auth key first (the signing one is capped by it)")
            auth_end = auth_row.not_after
        try:
            nb, end = card_validity(
                date_of_birth=facts.date_of_birth,
                now=now,
                card_expires=card.expires_at,
                signing=signing,
                auth_not_after=auth_end,
            )
        except EligibilityError:
            raise E.NotEligible("signing certificates are issued from age 15") from None
        except ValidityError as exc:
            raise E.RequestInvalid(str(exc)) from None
        info = ctx.authority.issue(
            IssueOrder(
                kind,
                public_key,
                ctx.new_id(),
                nb,
                end,
                facts=facts if signing else None,
                locality=locality if signing else None,
                person_id=person.id,
                card_id=card.id,
            ),
            now,
            actor=op.actor,
            session=s,
        )
        if signing:
            card.sign_serial = serial_hex(info.serial)
        else:
            card.auth_serial = serial_hex(info.serial)
        ctx.audit.record(
            s,
            at=now,
            actor=op.actor,
            action="portal.card.certify",
            obj=f"card:{card.id}",
            payload={"kind": kind.value, "serial": serial_hex(info.serial)},
        )
        return info.certificate


def change_facts(
    ctx: Context,
    op: OperatorRef,
    *,
    person_id: str,
    facts: BasicFourFacts,
    locality: Locality,
    now: dt.datetime,
) -> list[int]:
    """異動: new facts; every signing certificate of the person, card and phone, is revoked
    with affiliationChanged (RFC 5280 §5.3.1); authentication certificates survive."""
    op.require(ROLE_OFFICE)
    revoked: list[int] = []
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        person = ctx.lock_person(s, person_id)
        person.facts_json = facts_to_json(facts, locality)
        person.version += 1
        person.updated_at = now
        kinds = [CertKind.CARD_SIGN.value]
        if ctx.config.move_revokes_phone_signing:
            kinds.append(CertKind.PHONE_SIGN.value)
        for cert in Q.unrevoked_person_certificates(s, person_id, kinds):
            serial = int(cert.serial, 16)
            ctx.authority.revoke(serial, Reason.AFFILIATION_CHANGED, now, actor=op.actor, session=s)
            revoked.append(serial)
            if cert.device_id:
                notify_changed(s, cert.device_id, now)
        ctx.audit.record(
            s,
            at=now,
            actor=op.actor,
            action="portal.person.move",
            obj=f"person:{person_id}",
            payload={"revoked": [serial_hex(x) for x in revoked]},
        )
    return revoked


def replace_card(ctx: Context, op: OperatorRef, *, card_id: str, now: dt.datetime) -> list[int]:
    """Card renewal or replacement: the card's certificates and every phone certificate of
    the person are revoked (superseded); the phone must apply again with the new card."""
    op.require(ROLE_OFFICE)
    revoked: list[int] = []
    ctx.ready_ca(now)
    with ctx.db.transaction() as s:
        card = Q.card(s, card_id)
        if card is None:
            raise E.NoSuchObject("no such card")
        ctx.lock_person(s, card.person_id)
        if card.status != CardStatus.ACTIVE.value:
            raise E.Conflict("the card was already replaced")
        card.status = CardStatus.REPLACED.value
        for serial in (card.sign_serial, card.auth_serial):
            if serial:
                row = Q.certificate(s, serial)
                if row is not None and row.status != CertRecordStatus.REVOKED.value:
                    ctx.authority.revoke(
                        int(serial, 16), Reason.SUPERSEDED, now, actor=ACTOR, session=s
                    )
                    revoked.append(int(serial, 16))
        holders = Q.holder_devices(s, card.person_id)
        revoked += retire_devices(
            ctx,
            s,
            holders,
            unrevoked(s, [], [d.id for d in holders]),
            Reason.SUPERSEDED,
            InstructionReason.CARD_REPLACED,
            now,
        )
        ctx.audit.record(
            s,
            at=now,
            actor=op.actor,
            action="portal.card.replace",
            obj=f"card:{card_id}",
            payload={"revoked": [serial_hex(x) for x in revoked]},
        )
    return revoked
