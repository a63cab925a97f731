"""The portal's side of docs/lifecycle.md: the hotline holds the card too, the office releases
it, a phone holding only user-auth revokes it with its PIN, ⑧'s holder inquiry, a card for a
person under 15, and a card whose personalisation fails leaving no active record."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from portal_world import CARD_PASSWORD, CARD_PIN, World, facts
from sqlalchemy import select
from test_portal_refusals import refused

from mobile_jpki.phone.client import PortalClient
from mobile_jpki.phone.office import issue_card
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.errors import ApduError, FileNotFound
from mobile_jpki.store.models import Certificate, CertRecordStatus
from mobile_jpki.store.portal import Card, CardStatus

PW, PIN = "PHONE123", "1234"
BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)


def _card_states(world: World, person_id: str) -> dict[str, str]:
    with world.db.transaction(write=False) as s:
        rows = s.scalars(
            select(Certificate).where(
                Certificate.person_id == person_id,
                Certificate.kind.in_([CertKind.CARD_SIGN.value, CertKind.CARD_AUTH.value]),
            )
        ).all()
        return {r.kind: r.status for r in rows}


def _registered(world: World, card: JpkiClient, name: str, certs: Any = BOTH) -> ScriptedPhone:
    phone = world.new_phone(name)
    phone.apply(card, card_password=CARD_PASSWORD, certificates=certs, sign_password=PW,
                auth_pin=PIN, consent=True)  # fmt: skip
    world.work()
    phone.register(sign_password=PW, auth_pin=PIN)
    return phone


def test_the_hotline_holds_the_card_and_the_office_releases_it(world: World) -> None:
    person, _, card = world.resident()
    _registered(world, card, "p")
    world.hotline.hold_phone(person)
    assert _card_states(world, person) == {"card-sign": "held", "card-auth": "held"}
    # While held, the card cannot sign an application.
    other = world.new_phone("q")
    with pytest.raises(Exception, match="card-certificate-held"):
        other.apply(card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW,
                    auth_pin=PIN, consent=True)  # fmt: skip
    assert len(world.operator.release_card(person)) == 2
    assert _card_states(world, person) == {"card-sign": "good", "card-auth": "good"}
    assert refused(world.operator.release_card, person).code == "conflict"  # nothing held


def test_a_phone_holding_only_user_auth_revokes_it_with_its_pin(world: World) -> None:
    _, _, card = world.resident()
    phone = _registered(world, card, "auth-only", certs=(Hierarchy.AUTH,))
    assert phone.element.presence() == {Hierarchy.SIGN: False, Hierarchy.AUTH: True}
    with pytest.raises(ValueError, match="user-auth PIN"):
        phone.revoke(certificates=[Hierarchy.AUTH], sign_password=PW)
    serials = phone.revoke(certificates=[Hierarchy.AUTH], auth_pin=PIN)
    assert len(serials) == 1
    assert {c["kind"]: c["status"] for c in phone.check_validity()} == {"phone-auth": "revoked"}


def test_the_user_auth_key_cannot_revoke_the_signing_certificate(world: World) -> None:
    """The service checks that a revocation is signed by the key of the certificate acted on:
    a stolen unlocked PIN does not revoke (or keep alive) the signing certificate."""
    _, _, card = world.resident()
    phone = _registered(world, card, "both")
    from mobile_jpki.phone.steps import KIND_OF
    from mobile_jpki.protocol.documents import DocType, RevocationDoc, canonical
    from mobile_jpki.reader.key import ApduRSAPrivateKey

    phone.element.select_ap()
    phone.element.verify(Hierarchy.AUTH, PIN)
    cert = phone.element.read_certificate(Hierarchy.AUTH)
    doc = RevocationDoc(
        type=DocType.PHONE_REVOCATION,
        device_id=phone.device_id or "",
        nonce=phone.api.nonce("revocation"),
        signed_at=world.clock.now(),
        certificates=[KIND_OF[Hierarchy.SIGN]],
    )
    key = ApduRSAPrivateKey(phone.element, Hierarchy.AUTH, cert.public_key())  # type: ignore[arg-type]
    cms = phone.sign_document(canonical(doc), key, cert)
    assert refused(phone.api.revoke, cms).code == "signature-invalid"


def test_the_holder_inquiry_answers_only_the_cards_holder(world: World) -> None:
    _, _, card = world.resident()
    new = world.new_phone("new")
    assert new.other_phone_holds(card, card_password=CARD_PASSWORD) is False
    _registered(world, card, "old")
    assert new.other_phone_holds(card, card_password=CARD_PASSWORD) is True
    # Another person's card learns nothing about this one.
    _, _, stranger = world.resident()
    assert new.other_phone_holds(stranger, card_password=CARD_PASSWORD) is False


def test_a_card_for_a_person_under_15_carries_user_auth_only(world: World) -> None:
    person = world.operator.register_person(**facts(born=dt.date(2014, 1, 1)))
    card = world.new_card_applet()
    card_id, done = issue_card(
        world.operator, PortalClient(world.http), card, person_id=person,
        expires_at=world.clock.now() + dt.timedelta(days=3650),
        sign_password=CARD_PASSWORD, auth_pin=CARD_PIN,
        card_instruction_key=world.card_issuer_key.public_key(),
    )  # fmt: skip
    assert done.sign_certificate is None
    assert _card_states(world, person) == {"card-auth": "good"}
    card.select_ap()
    card.verify(Hierarchy.AUTH, CARD_PIN)  # activated with its PIN alone
    with pytest.raises(FileNotFound):
        card.read_certificate(Hierarchy.SIGN)
    with world.db.transaction(write=False) as s:
        row = s.get(Card, card_id)
        assert row is not None and row.status == CardStatus.ACTIVE.value
        assert row.sign_serial is None


class _FailingCard(JpkiClient):
    """A card that stops answering after its first key (pulled from the reader)."""

    def __init__(self, inner: JpkiClient) -> None:
        super().__init__(inner.conn)
        self.keys = 0

    def generate_key(self, hierarchy: Hierarchy, challenge: bytes) -> Any:
        self.keys += 1
        if self.keys > 1:
            raise ApduError(0x6F00, "the card left the field")
        return super().generate_key(hierarchy, challenge)


def test_a_failed_personalisation_leaves_no_active_card(world: World) -> None:
    person = world.operator.register_person(**facts())
    card = _FailingCard(world.new_card_applet())
    with pytest.raises(ApduError):
        issue_card(
            world.operator, PortalClient(world.http), card, person_id=person,
            expires_at=world.clock.now() + dt.timedelta(days=3650),
            sign_password=CARD_PASSWORD, auth_pin=CARD_PIN,
            card_instruction_key=world.card_issuer_key.public_key(),
        )  # fmt: skip
    with world.db.transaction(write=False) as s:
        cards = s.scalars(select(Card).where(Card.person_id == person)).all()
        assert [c.status for c in cards] == [CardStatus.CANCELLED.value]
    # The user-auth certificate issued before the failure is revoked.
    assert _card_states(world, person) == {"card-auth": CertRecordStatus.REVOKED.value}


def test_a_phone_that_kept_revoked_certificates_applies_again(world: World) -> None:
    """機種変更 back to a phone that came online after the 48 hours (it kept its revoked
    certificates): its slots are cleared by a challenge-bound instruction, then it applies."""
    _, _, card = world.resident()
    old = _registered(world, card, "old")
    _registered(world, card, "new")  # a model change: old's certificates are revoked
    world.clock.advance(dt.timedelta(hours=49))
    assert old.sync_instructions() == []  # too late: the element keeps them
    assert old.element.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: True}
    old.apply(card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password="BACK1234",
              auth_pin="4321", consent=True, model_change=True)  # fmt: skip
    world.work()
    assert sorted(old.register(sign_password="BACK1234", auth_pin="4321")) == [
        "phone-auth",
        "phone-sign",
    ]
    good = {c["kind"] for c in old.check_validity() if c["status"] == "good"}
    assert good == {"phone-sign", "phone-auth"}
    assert {e["state"] for e in old.my_page()["entries"]} == {"registered"}


def test_a_slot_clearance_never_touches_a_good_certificate_nor_replays(world: World) -> None:
    _, _, card = world.resident()
    phone = _registered(world, card, "p")
    phone.element.select_ap()
    assert refused(phone.api.clear_revoked, phone.element.get_challenge(16)).code == "conflict"
    # After a model change elsewhere, a clearance works once: the element's challenge is
    # single-use, so the same instruction sent again is refused.
    _registered(world, card, "q")
    phone.element.select_ap()
    instruction = phone.api.clear_revoked(phone.element.get_challenge(16))
    phone.element.send_instruction(instruction)
    assert phone.element.presence() == {Hierarchy.SIGN: False, Hierarchy.AUTH: False}
    with pytest.raises(ApduError):
        phone.element.send_instruction(instruction)


def test_a_malformed_element_challenge_is_refused_not_a_500(world: World) -> None:
    """Found by schemathesis: an odd number of hex digits reached bytes.fromhex (a 500). It is
    refused as any request that does not match the API (400)."""
    phone = world.new_phone("p")
    for bad in ("0" * 17, "zz" * 8, "00" * 65):
        problem = refused(
            phone.api._call, "POST", "/portal/v1/slot-clearances", json={"element_challenge": bad}
        )
        assert problem.status == 400, (bad, problem.status)
