"""Every refusal is RFC 7807 problem+json with a stable code the app can show."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from portal_world import CARD_PASSWORD, World, facts, pooled_key
from sqlalchemy import select

from mobile_jpki.phone.client import PortalProblem
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationDoc, ApplicationKind, AttestedKey, canonical
from mobile_jpki.service.portal.cms import cms_document_signer
from mobile_jpki.store.portal import Application, Nonce

BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)
PW, PIN = "PHONE123", "1234"


def refused(call: object, *args: object, **kwargs: object) -> PortalProblem:
    with pytest.raises(PortalProblem) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value


def apply(phone: ScriptedPhone, card: object, **extra: object) -> str:
    return phone.apply(
        card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password=PW,
        auth_pin=PIN,
        **extra,
    )  # type: ignore[arg-type]


def test_problem_json_shape_and_operator_authentication(world: World) -> None:
    answer = world.http.post(
        "/operator/v1/persons", json={}, headers={"Authorization": "Bearer nope"}
    )
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.headers["www-authenticate"] == "Bearer"
    body = answer.json()
    assert (
        body["code"] == "unauthenticated"
        and body["type"] == "urn:mobile-jpki:problem:unauthenticated"
    )
    assert world.http.post("/portal/v1/nonces", json={"purpose": "application"}).status_code == 401


def test_terms_outdated(world: World) -> None:
    _, _, card = world.resident()
    problem = refused(apply, world.new_phone("p"), card, terms_version="2019-01")
    assert (problem.status, problem.code, problem.body["current"]) == (
        422,
        "terms-outdated",
        "2025-06",
    )


def test_application_sent_by_another_device(world: World) -> None:
    _, _, card = world.resident()
    a, b = world.new_phone("a"), world.new_phone("b")
    cms = a.prepare_application(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
    )
    assert refused(b.send_application, cms).code == "device-mismatch"


def test_keys_not_attested_by_this_element(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    nonce = phone.api.nonce("application")
    spki = pooled_key().public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    fake = AttestedKey(
        spki=base64.b64encode(spki).decode(), attestation=base64.b64encode(b"0" * 70).decode()
    )
    assert phone.device_id is not None
    doc = ApplicationDoc(
        device_id=phone.device_id,
        nonce=nonce,
        signed_at=world.clock.now(),
        application=ApplicationKind.FIRST,
        certificates=["phone-auth"],
        terms_version="2025-06",
        revoke_other_device=False,
        keys={"phone-auth": fake},
    )
    key, cert = ScriptedPhone.card_signing_key(card, CARD_PASSWORD)
    problem = refused(
        phone.send_application, cms_document_signer(world.clock)(canonical(doc), key, cert)
    )
    assert problem.code == "attestation-invalid"


def test_tampered_signature(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    cms = bytearray(
        phone.prepare_application(
            card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
        )
    )
    cms[-5] ^= 0x01  # inside the signature value
    assert refused(phone.send_application, bytes(cms)).code == "signature-invalid"


def test_held_card_certificate(world: World) -> None:
    _, card_id, card = world.resident()
    from mobile_jpki.store.portal import Card

    with world.db.transaction(write=False) as s:
        card_row = s.get(Card, card_id)
        assert card_row is not None and card_row.sign_serial is not None
        serial = int(card_row.sign_serial, 16)
    world.ca.hold(serial, world.clock.now())
    assert refused(apply, world.new_phone("p"), card).code == "card-certificate-held"


def test_stale_signature_and_expired_nonce(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    cms = phone.prepare_application(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
    )
    world.clock.advance(dt.timedelta(minutes=11))
    assert refused(phone.send_application, cms).code == "stale-signature"


def test_first_application_while_another_phone_holds_needs_consent(world: World) -> None:
    _, _, card = world.resident()
    old = world.new_phone("old")
    apply(old, card)
    world.work()
    problem = refused(world.new_phone("new").api.apply, b"")
    assert problem.status == 422  # an empty CMS is malformed, not a 500
    new = world.new_phone("new2")
    cms = new.prepare_application(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
    )
    problem = refused(new.api.apply, cms)
    assert (problem.status, problem.code) == (409, "revoke-consent-required")
    assert problem.body["title"] == "旧スマホ用電子証明書は失効されます"


def test_no_signing_certificate_under_15(world: World) -> None:
    person = world.operator.register_person(**facts(born=dt.date(2014, 1, 1)))
    card_id = world.operator.register_card(person, b"\x01" * 16, "2030-01-01T00:00:00+00:00")
    spki = pooled_key().public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert world.operator.certify_card_key(card_id, "card-auth", spki)
    problem = refused(world.operator.certify_card_key, card_id, "card-sign", spki)
    assert (problem.status, problem.code) == (422, "not-eligible")


def test_rate_limit_on_applications_per_card(world: World) -> None:
    world.service.config = dataclasses.replace(world.service.config, applications_per_card=2)
    _, _, card = world.resident()
    phone = world.new_phone("p")
    for _ in range(2):
        assert refused(apply, phone, card, terms_version="old").code == "terms-outdated"
    problem = refused(apply, phone, card)
    assert (problem.status, problem.code) == (429, "rate-limited")


def test_device_credential_lockout(world: World) -> None:
    phone = world.new_phone("p")
    real = phone.api.credential
    assert real is not None
    device_id = real.split(".")[0]
    phone.api.credential = f"{device_id}.{'0' * 64}"
    for _ in range(10):
        assert refused(phone.api.nonce, "application").code == "unauthenticated"
    phone.api.credential = real
    assert refused(phone.api.nonce, "application").code == "rate-limited"
    world.clock.advance(dt.timedelta(minutes=16))
    assert phone.api.nonce("application")


def test_enrolment_needs_a_known_manufacturer(world: World) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    from mobile_jpki.applet import Manufacturer

    rogue = Manufacturer.create(key=ec.generate_private_key(ec.SECP256R1()), now=world.clock.now())
    cert = rogue.attest(
        element_key=ec.generate_private_key(ec.SECP256R1()).public_key(),
        serial=b"\x02" * 16,
        now=world.clock.now(),
    )
    problem = refused(world.new_phone("x", enrol=False).api.enrol, cert.public_bytes(Encoding.DER))
    assert problem.code == "attestation-invalid"


def test_operator_roles_are_least_privilege(world: World) -> None:
    person, card_id, _ = world.resident()
    # The office takes holds at its counter too; a person without a phone: the card's two.
    assert len(world.operator.hold_phone(person)) == 2
    assert refused(world.hotline.replace_card, card_id).code == "forbidden"
    problem = refused(world.hotline.register_person, **facts())
    assert (problem.status, problem.code) == (403, "forbidden")


def test_a_right_credential_resets_the_failure_count(world: World) -> None:
    phone = world.new_phone("p")
    real = phone.api.credential
    assert real is not None
    wrong = f"{real.split('.')[0]}.{'0' * 64}"
    for _ in range(2):
        phone.api.credential = wrong
        for _ in range(9):
            assert refused(phone.api.nonce, "application").code == "unauthenticated"
        phone.api.credential = real
        assert phone.api.nonce("application")  # 9 + 9 wrong never reach the lock of 10


def test_a_made_up_certificate_copying_a_card_serial_is_not_counted(world: World) -> None:
    """Rate limiting counts only signatures by the card itself: a forged signer certificate
    with the card's serial is refused as unknown and cannot exhaust the card's quota."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    world.service.config = dataclasses.replace(world.service.config, applications_per_card=1)
    _, _, card = world.resident()
    phone = world.new_phone("p")
    _, real = ScriptedPhone.card_signing_key(card, CARD_PASSWORD)
    forger = pooled_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "forger")])
    fake = (
        x509.CertificateBuilder().subject_name(name).issuer_name(real.issuer)
        .public_key(forger.public_key()).serial_number(real.serial_number)
        .not_valid_before(real.not_valid_before_utc).not_valid_after(real.not_valid_after_utc)
        .sign(forger, hashes.SHA256())
    )  # fmt: skip
    assert phone.device_id is not None
    doc = ApplicationDoc(
        device_id=phone.device_id, nonce=phone.api.nonce("application"),
        signed_at=world.clock.now(), application=ApplicationKind.FIRST,
        certificates=["phone-auth"], terms_version="2025-06", revoke_other_device=False,
        keys={"phone-auth": AttestedKey(spki="AA==", attestation="AA==")},
    )  # fmt: skip
    forged = cms_document_signer(world.clock)(canonical(doc), forger, fake)
    for _ in range(3):
        assert refused(phone.send_application, forged).code == "card-certificate-unknown"
    assert apply(phone, card)  # the card's own quota is untouched


def test_a_refusal_under_the_person_lock_rolls_back_and_still_counts(world: World) -> None:
    """The application runs in ONE transaction: its checks under the person's lock run in a
    SAVEPOINT, so a refusal there leaves no application and no used nonce behind, while the
    card's attempt counter, bumped before it, commits (refused attempts count)."""
    world.service.config = dataclasses.replace(world.service.config, applications_per_card=3)
    _, _, card = world.resident()
    apply(world.new_phone("old"), card)  # attempt 1
    world.work()
    new = world.new_phone("new")
    cms = new.prepare_application(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
    )
    for _ in range(2):  # attempts 2 and 3: the same document, its nonce still unused
        assert refused(new.api.apply, cms).code == "revoke-consent-required"
    with world.db.transaction(write=False) as s:
        assert not s.scalars(
            select(Application).where(Application.device_id == new.device_id)
        ).all()
        used = s.scalars(
            select(Nonce).where(Nonce.device_id == new.device_id, Nonce.used_at.is_not(None))
        )
        assert not used.all()
    assert refused(new.api.apply, cms).code == "rate-limited"  # attempt 4


def test_the_rate_window_starts_again_when_it_is_over(world: World) -> None:
    world.service.config = dataclasses.replace(world.service.config, applications_per_card=1)
    _, _, card = world.resident()
    phone = world.new_phone("p")
    assert refused(apply, phone, card, terms_version="old").code == "terms-outdated"
    world.clock.advance(dt.timedelta(hours=23))
    problem = refused(apply, phone, card)
    # Retry-After: what is left of the window that opened 23 hours ago (RFC 9110 §10.2.3).
    assert (problem.code, problem.body["retry_after"]) == ("rate-limited", 3601)
    world.clock.advance(dt.timedelta(hours=1))
    assert apply(phone, card)  # a new window: counted as its first attempt
