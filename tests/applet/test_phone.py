"""The phone secure element: attestation, auth certificate access, biometrics, slot rules."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from applet_fakes import NOW, PHONE_PASSWORD, PHONE_PIN, PHONE_SERIAL, Device, make_phone, order
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from mobile_jpki.clock import FixedClock
from mobile_jpki.protocol.apdu import SW
from mobile_jpki.protocol.attestation import (
    AttestationError,
    GeneratedKey,
    element_serial,
    verify_key_attestation,
)
from mobile_jpki.protocol.constants import EF, Profile, Slot

TOKEN = b"T" * 32


@pytest.fixture
def fresh_phone(clock: FixedClock) -> Device:
    return make_phone(clock, registered=False)


def test_token_labels(clock: FixedClock) -> None:
    for profile, label in ((Profile.PHONE_ANDROID, b"JPKIAPGPSETOKEN"),
                           (Profile.PHONE_IOS, b"JPKIAPIOSTOKEN")):  # fmt: skip
        dev = make_phone(clock, profile=profile, registered=False)
        dev.host.select_ap()
        assert dev.host.read(EF.TOKEN_INFO) == label.ljust(32, b" ")


def test_key_attestation_chains_to_the_manufacturer(fresh_phone: Device) -> None:
    h = fresh_phone.host
    h.select_ap()
    assert h.read(EF.CERTS_PRESENT) == bytes(3)
    challenge = b"portal-nonce-123"
    generated = h.generate(EF.AUTH_KEY, challenge)
    attestation_cert = x509.load_der_x509_certificate(h.read(EF.ATTESTATION_CERT))
    assert element_serial(attestation_cert) == PHONE_SERIAL
    assert fresh_phone.manufacturer is not None
    root = fresh_phone.manufacturer.root
    verify_key_attestation(
        generated=generated,
        challenge=challenge,
        slot=Slot.AUTH,
        attestation_certificate=attestation_cert,
        manufacturer_root=root,
        now=NOW,
        expected_serial=PHONE_SERIAL,
    )
    with pytest.raises(AttestationError):  # the role byte is bound
        verify_key_attestation(
            generated=generated, challenge=challenge, slot=Slot.SIGN,
            attestation_certificate=attestation_cert, manufacturer_root=root, now=NOW,
        )  # fmt: skip
    with pytest.raises(AttestationError):  # so is the challenge
        verify_key_attestation(
            generated=generated, challenge=b"another-nonce-00", slot=Slot.AUTH,
            attestation_certificate=attestation_cert, manufacturer_root=root, now=NOW,
        )  # fmt: skip
    with pytest.raises(AttestationError):  # and the key
        swapped = dataclasses.replace(generated, spki=h.generate(EF.SIGN_KEY).spki)
        verify_key_attestation(
            generated=swapped, challenge=challenge, slot=Slot.AUTH,
            attestation_certificate=attestation_cert, manufacturer_root=root, now=NOW,
        )  # fmt: skip
    other_root = type(fresh_phone.manufacturer).create(
        key=ec.generate_private_key(ec.SECP256R1()), now=NOW
    )
    with pytest.raises(AttestationError):
        verify_key_attestation(
            generated=generated, challenge=challenge, slot=Slot.AUTH,
            attestation_certificate=attestation_cert, manufacturer_root=other_root.root, now=NOW,
        )  # fmt: skip
    with pytest.raises(AttestationError):
        verify_key_attestation(
            generated=generated, challenge=challenge, slot=Slot.AUTH,
            attestation_certificate=attestation_cert, manufacturer_root=root, now=NOW,
            expected_serial=bytes(16),
        )  # fmt: skip


def test_registration_on_empty_slots_then_locked(fresh_phone: Device) -> None:
    h = fresh_phone.host
    h.select_ap()
    assert h.select(EF.SIGN_CERT) == SW.FILE_NOT_FOUND
    h.generate(EF.SIGN_KEY)
    key = fresh_phone.pool.issued[-1]
    foreign = type(fresh_phone.sign_ca).make("sign", ec.generate_private_key(ec.SECP256R1()))
    assert h.update(EF.SIGN_CERT, foreign.issue(key.public_key())) == SW.INCORRECT_DATA
    other = fresh_phone.pool()
    assert h.update(EF.SIGN_CERT, fresh_phone.sign_ca.issue(other.public_key())) == (
        SW.INCORRECT_DATA
    )
    assert h.update(EF.SIGN_CERT, fresh_phone.sign_ca.issue(key.public_key())) == SW.OK
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("8F0000")
    # The slot is complete: no new key, no new certificate without action 40.
    assert h.select(EF.SIGN_KEY) == SW.OK
    assert h.send(0, 0x46, 0, 0, b"C" * 8, ne=65536)[1] == SW.CONDITIONS_NOT_SATISFIED
    assert h.update(EF.SIGN_CERT, fresh_phone.sign_ca.issue(key.public_key())) == (
        SW.CONDITIONS_NOT_SATISFIED
    )
    assert order(fresh_phone, 0x40, challenge=True) == SW.OK
    assert h.update(EF.SIGN_CERT, fresh_phone.sign_ca.issue(key.public_key())) == SW.OK


def test_auth_certificate_needs_pin_or_biometric(phone: Device) -> None:
    h = phone.host
    h.select_ap()
    assert h.select(EF.AUTH_CERT) == SW.OK
    assert h.send(0, 0xB0, 0, 0, ne=4)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.verify(EF.SIGN_PASSWORD, PHONE_PASSWORD) == SW.OK  # the wrong secret
    assert h.select(EF.AUTH_CERT) == SW.OK
    assert h.send(0, 0xB0, 0, 0, ne=4)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.verify(EF.AUTH_PIN, PHONE_PIN) == SW.OK
    cert = x509.load_der_x509_certificate(h.read(EF.AUTH_CERT))
    assert cert.public_key() == phone.keys[EF.AUTH_KEY].public_key()


def test_biometric_flows(phone: Device) -> None:
    h = phone.host
    h.select_ap()
    assert h.select(EF.AUTH_PIN) == SW.OK
    assert h.send(0, 0x20, 0, 0x81, TOKEN)[1] == SW.CONDITIONS_NOT_SATISFIED  # none enrolled
    assert h.send(0, 0x24, 1, 0x81, TOKEN)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.verify(EF.AUTH_PIN, PHONE_PIN) == SW.OK
    assert h.send(0, 0x24, 1, 0x81, b"short")[1] == SW.INCORRECT_DATA
    assert h.send(0, 0x24, 1, 0x81, TOKEN)[1] == SW.OK
    h.select_ap()
    assert h.select(EF.AUTH_PIN) == SW.OK
    assert h.send(0, 0x20, 0, 0x81, TOKEN)[1] == SW.OK
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + b"\x22" * 32
    assert h.sign(EF.AUTH_KEY, digest_info)[1] == SW.OK
    assert h.read(EF.AUTH_CERT)
    # Biometrics never open the signing key, nor change the PIN.
    assert h.sign(EF.SIGN_KEY, digest_info)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.select(EF.SIGN_PASSWORD) == SW.OK
    assert h.send(0, 0x20, 0, 0x81, TOKEN)[1] == SW.INCOMPATIBLE_FILE
    assert h.change(EF.AUTH_PIN, b"0000") == SW.SECURITY_STATUS_NOT_SATISFIED
    # A wrong token counts against the PIN; a blocked PIN blocks biometrics too.
    assert h.send(0, 0x20, 0, 0x81, b"W" * 32)[1] == 0x63C2
    assert h.send(0, 0x20, 0, 0x81, b"W" * 2)[1] == SW.WRONG_LENGTH
    assert h.send(0, 0x20, 0, 0x81, TOKEN)[1] == SW.OK
    assert h.send(0, 0x20, 0, 0x80)[1] == 0x63C2  # a token match does not refill the PIN
    assert h.send(0, 0x20, 0, 0x80, b"0000")[1] == 0x63C1
    assert h.send(0, 0x20, 0, 0x80, b"0000")[1] == SW.REFERENCE_DATA_BLOCKED
    assert h.send(0, 0x20, 0, 0x81, TOKEN)[1] == SW.AUTH_METHOD_BLOCKED
    assert h.select(EF.AUTH_CERT) == SW.OK
    assert h.send(0, 0xB0, 0, 0, ne=4)[1] == SW.SECURITY_STATUS_NOT_SATISFIED


def test_deletion_and_reregistration(phone: Device) -> None:
    h = phone.host
    h.select_ap()
    assert h.verify(EF.AUTH_PIN, PHONE_PIN) == SW.OK
    assert h.send(0, 0x24, 1, 0x81, TOKEN)[1] == SW.OK
    assert order(phone, 0x03) == SW.OK  # the 48-hour deletion after a model change
    assert h.read(EF.CERTS_PRESENT) == bytes(3)
    assert h.select(EF.SIGN_CERT) == SW.FILE_NOT_FOUND
    assert h.select(EF.AUTH_CERT) == SW.FILE_NOT_FOUND
    assert phone.applet.state.biometric is None
    assert order(phone, 0x03) == SW.OK
    # An empty slot takes a fresh application without any instruction.
    generated = h.generate(EF.AUTH_KEY)
    assert GeneratedKey.parse(generated.encode()) == generated
    key = phone.pool.issued[-1]
    assert h.update(EF.AUTH_CERT, phone.auth_ca.issue(key.public_key())) == SW.OK
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("008F00")


def test_configurable_auth_pin_tries(clock: FixedClock) -> None:
    from mobile_jpki.applet import MemoryStateStore, SecretPolicy, new_secure_element

    dev = make_phone(clock, registered=False)
    assert dev.manufacturer is not None
    store = MemoryStateStore()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = dev.manufacturer.attest(element_key=key.public_key(), serial=bytes(16), now=NOW)
    applet = new_secure_element(
        bytes(16), store, key, cert, clock=clock, policy=SecretPolicy(auth_pin_tries=5),
        kdf_iterations=1000,
    )  # fmt: skip
    assert applet.state.policy.auth_pin_tries == 5
    with pytest.raises(ValueError):  # never overwrite an existing element
        new_secure_element(bytes(16), store, key, cert, clock=clock)
    with pytest.raises(ValueError):  # certificate for another key
        new_secure_element(bytes(16), MemoryStateStore(), ec.generate_private_key(ec.SECP256R1()),
                           cert, clock=clock)  # fmt: skip
    late = NOW + dt.timedelta(days=365 * 30)
    with pytest.raises(AttestationError):
        verify_key_attestation(
            generated=GeneratedKey(b"x", b"y"), challenge=b"c" * 8, slot=Slot.AUTH,
            attestation_certificate=cert, manufacturer_root=dev.manufacturer.root, now=late,
        )  # fmt: skip
