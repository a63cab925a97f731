"""Lifecycle: personalisation then ACTIVATE (docs/apdu.md "Lifecycle and personalisation")."""

from __future__ import annotations

import datetime as dt

from applet_fakes import (
    CARD_PASSWORD,
    CARD_PIN,
    NOW,
    Device,
    MiniCa,
    ec_key,
    enrol_keys,
    spki,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from mobile_jpki.applet import Lifecycle
from mobile_jpki.protocol.apdu import SW
from mobile_jpki.protocol.constants import EF


def test_personalisation_then_activation(blank_card: Device) -> None:
    h = blank_card.host
    h.select_ap()
    before = blank_card.applet.state
    assert before.lifecycle is Lifecycle.PERSONALISATION
    assert h.send(0, 0x44, 0, 0)[1] == SW.CONDITIONS_NOT_SATISFIED  # nothing written yet
    assert h.read(EF.CERTS_PRESENT) == bytes(3)
    assert h.select(EF.SIGN_CERT) == SW.FILE_NOT_FOUND  # empty certificate EF: no file
    assert h.update(EF.SIGN_CA_CERT, blank_card.sign_ca.der) == SW.OK
    assert h.update(EF.AUTH_CA_CERT, blank_card.auth_ca.der) == SW.OK
    assert h.update(EF.INSTRUCTION_KEY, spki(blank_card.instruction_key.public_key())) == SW.OK
    enrol_keys(blank_card)
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("8F8F00")
    assert h.send(0, 0x44, 0, 0)[1] == SW.CONDITIONS_NOT_SATISFIED  # secrets missing
    # A secret never set: VERIFY has nothing to compare, CHANGE sets it without VERIFY.
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.REFERENCE_DATA_BLOCKED
    assert h.change(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK
    assert h.send(0, 0x44, 0, 0)[1] == SW.CONDITIONS_NOT_SATISFIED  # PIN missing
    assert h.change(EF.AUTH_PIN, CARD_PIN) == SW.OK
    assert h.send(0, 0x44, 1, 0)[1] == SW.WRONG_P1P2
    assert h.send(0, 0x44, 0, 0)[1] == SW.OK
    assert blank_card.applet.state.lifecycle is Lifecycle.OPERATIONAL
    assert h.send(0, 0x44, 0, 0)[1] == SW.OK  # idempotent
    # Operational card: no more key generation or certificate writes.
    assert h.select(EF.SIGN_KEY) == SW.OK
    assert h.send(0, 0x46, 0, 0, b"C" * 8, ne=65536)[1] == SW.CONDITIONS_NOT_SATISFIED
    assert h.update(EF.SIGN_CA_CERT, blank_card.sign_ca.der) == SW.CONDITIONS_NOT_SATISFIED
    assert h.verify(EF.AUTH_PIN, CARD_PIN) == SW.OK
    cert = blank_card.auth_ca.issue(blank_card.keys[EF.AUTH_KEY].public_key())
    assert h.update(EF.AUTH_CERT, cert) == SW.CONDITIONS_NOT_SATISFIED


def test_signing_before_activation_is_refused(blank_card: Device) -> None:
    h = blank_card.host
    h.select_ap()
    h.generate(EF.SIGN_KEY)
    assert h.change(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK
    assert h.select(EF.SIGN_KEY) == SW.OK
    assert h.send(0x80, 0x2A, 0, 0x80, b"x" * 51, ne=256)[1] == SW.CONDITIONS_NOT_SATISFIED


def test_generate_refusals_and_it_removes_the_slot_certificate(blank_card: Device) -> None:
    h = blank_card.host
    h.select_ap()
    assert h.update(EF.SIGN_CA_CERT, blank_card.sign_ca.der) == SW.OK
    assert h.select(EF.SIGN_KEY) == SW.OK
    assert h.send(0, 0x46, 0, 0, b"C" * 7, ne=65536)[1] == SW.WRONG_LENGTH
    assert h.send(0, 0x46, 0, 0, b"C" * 65, ne=65536)[1] == SW.WRONG_LENGTH
    assert h.send(0, 0x46, 0, 1, b"C" * 8, ne=65536)[1] == SW.WRONG_P1P2
    assert h.select(EF.TOKEN_INFO) == SW.OK
    assert h.send(0, 0x46, 0, 0, b"C" * 8, ne=65536)[1] == SW.INCOMPATIBLE_FILE
    first = h.generate(EF.SIGN_KEY)
    key = blank_card.pool.issued[-1]
    assert first.spki == spki(key.public_key())
    assert h.update(EF.SIGN_CERT, blank_card.sign_ca.issue(key.public_key())) == SW.OK
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("8F0000")
    h.generate(EF.SIGN_KEY)
    assert h.read(EF.CERTS_PRESENT) == bytes(3)
    assert h.select(EF.SIGN_CERT) == SW.OK  # key present: the EF can take its certificate


def _other_dn_ca(ou: str) -> MiniCa:
    return MiniCa.make(ou, ec.generate_private_key(ec.SECP256R1()))


def test_certificate_writes_are_checked(blank_card: Device) -> None:
    h = blank_card.host
    h.select_ap()
    ca = blank_card.sign_ca
    # A CA EF takes only a self-signed CA certificate.
    assert h.update(EF.SIGN_CA_CERT, b"\x30\x03\x02\x01\x01") == SW.INCORRECT_DATA
    assert h.update(EF.SIGN_CA_CERT, ca.der + b"\x00") == SW.INCORRECT_DATA
    h.generate(EF.SIGN_KEY)
    key = blank_card.pool.issued[-1]
    assert h.update(EF.SIGN_CA_CERT, ca.issue(key.public_key())) == SW.INCORRECT_DATA
    # No CA yet: an end-entity certificate cannot be checked, so it is refused.
    assert h.update(EF.SIGN_CERT, ca.issue(key.public_key())) == SW.INCORRECT_DATA
    assert h.update(EF.SIGN_CA_CERT, ca.der) == SW.OK
    # Wrong key.
    other = blank_card.pool()
    assert h.update(EF.SIGN_CERT, ca.issue(other.public_key())) == SW.INCORRECT_DATA
    # A foreign CA.
    foreign = _other_dn_ca("sign")
    assert h.update(EF.SIGN_CERT, foreign.issue(key.public_key())) == SW.INCORRECT_DATA
    # Same DN, another generation's key: told apart by the key identifier and the signature.
    same_dn = MiniCa.make("sign", ec_key(9))
    assert same_dn.cert.subject == ca.cert.subject
    assert h.update(EF.SIGN_CERT, same_dn.issue(key.public_key())) == SW.INCORRECT_DATA
    # No authority key identifier.
    assert h.update(EF.SIGN_CERT, ca.issue(key.public_key(), aki=False)) == SW.INCORRECT_DATA
    # The auth CA does not issue signing certificates.
    assert h.update(EF.SIGN_CERT, blank_card.auth_ca.issue(key.public_key())) == SW.INCORRECT_DATA
    assert h.update(EF.SIGN_CERT, ca.issue(key.public_key())) == SW.OK
    # Whole certificate at offset 0 only.
    assert h.select(EF.SIGN_CERT) == SW.OK
    assert h.send(0, 0xD6, 0, 1, ca.der)[1] == SW.WRONG_P1P2
    assert h.send(0, 0xD6, 0, 0)[1] == SW.WRONG_LENGTH
    for ef in (EF.TOKEN_INFO, EF.SERIAL, EF.CERTS_PRESENT, EF.SIGN_KEY, EF.AUTH_PIN):
        assert h.update(ef, ca.der) == SW.INCOMPATIBLE_FILE


def test_ca_certificate_must_be_a_ca(blank_card: Device) -> None:
    key = ec_key(1)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not a CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(5)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    h = blank_card.host
    h.select_ap()
    assert h.update(EF.SIGN_CA_CERT, cert.public_bytes(Encoding.DER)) == SW.INCORRECT_DATA


def test_instruction_key_must_be_p256(blank_card: Device) -> None:
    h = blank_card.host
    h.select_ap()
    p384 = ec.generate_private_key(ec.SECP384R1()).public_key()
    assert h.update(EF.INSTRUCTION_KEY, spki(p384)) == SW.INCORRECT_DATA
    assert h.update(EF.INSTRUCTION_KEY, b"junk") == SW.INCORRECT_DATA
    rsa_spki = spki(blank_card.pool().public_key())
    assert h.update(EF.INSTRUCTION_KEY, rsa_spki) == SW.INCORRECT_DATA
    good = spki(blank_card.instruction_key.public_key())
    assert h.update(EF.INSTRUCTION_KEY, good) == SW.OK
    assert h.read(EF.INSTRUCTION_KEY) == good
