"""ACTIVATE on a phone asks for the secrets of the slots that hold a key, not both (docs/apdu.md
"Lifecycle"): a phone that applied for one certificate (the seed's ⑤ lets either be unticked)
is activated without a password invented for the other; that one is set later with CHANGE
REFERENCE DATA P1 01, on the operational element, when the person applies for it."""

from __future__ import annotations

from applet_fakes import PHONE_PASSWORD, PHONE_PIN, Device, make_card, make_phone, spki

from mobile_jpki.applet import Lifecycle
from mobile_jpki.clock import FixedClock
from mobile_jpki.protocol.apdu import SW
from mobile_jpki.protocol.constants import EF

ACTIVATE = (0, 0x44, 0, 0)


def _factory_files(dev: Device) -> None:
    h = dev.host
    assert h.select_ap() == SW.OK
    assert h.update(EF.SIGN_CA_CERT, dev.sign_ca.der) == SW.OK
    assert h.update(EF.AUTH_CA_CERT, dev.auth_ca.der) == SW.OK
    assert h.update(EF.INSTRUCTION_KEY, spki(dev.instruction_key.public_key())) == SW.OK


def _install(dev: Device, key_ef: int, cert_ef: int) -> None:
    h = dev.host
    h.generate(key_ef)
    key = dev.pool.issued[-1]
    dev.keys[key_ef] = key
    ca = dev.sign_ca if key_ef == EF.SIGN_KEY else dev.auth_ca
    assert h.update(cert_ef, ca.issue(key.public_key())) == SW.OK


def test_phone_with_only_the_signing_slot_activates_with_its_password(clock: FixedClock) -> None:
    dev = make_phone(clock, personalised=False)
    h = dev.host
    _factory_files(dev)
    _install(dev, EF.SIGN_KEY, EF.SIGN_CERT)
    # A key without its secret: never activated (the key could not be used, nor protected).
    assert h.send(*ACTIVATE)[1] == SW.CONDITIONS_NOT_SATISFIED
    assert h.change(EF.SIGN_PASSWORD, PHONE_PASSWORD) == SW.OK
    # No auth key, so no auth PIN needed (before the fix: 69 85 here).
    assert h.send(*ACTIVATE)[1] == SW.OK
    assert dev.applet.state.lifecycle is Lifecycle.OPERATIONAL
    assert dev.applet.state.auth.secret is None

    # Later, the person applies for the user-authentication certificate on this element: an
    # absent slot takes a key and a certificate, and its never-set PIN takes P1 01 directly.
    h.select_ap()
    _install(dev, EF.AUTH_KEY, EF.AUTH_CERT)
    assert h.change(EF.AUTH_PIN, PHONE_PIN) == SW.OK
    assert h.verify(EF.AUTH_PIN, PHONE_PIN) == SW.OK
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("8F8F00")
    # Once set, the PIN is changed only after a VERIFY in the session (docs/apdu.md).
    h.select_ap()
    assert h.change(EF.AUTH_PIN, b"0000") == SW.SECURITY_STATUS_NOT_SATISFIED


def test_phone_with_only_the_auth_slot_activates_with_its_pin(clock: FixedClock) -> None:
    dev = make_phone(clock, personalised=False)
    h = dev.host
    _factory_files(dev)
    _install(dev, EF.AUTH_KEY, EF.AUTH_CERT)
    assert h.change(EF.SIGN_PASSWORD, PHONE_PASSWORD) == SW.OK  # a secret without a key
    assert h.send(*ACTIVATE)[1] == SW.CONDITIONS_NOT_SATISFIED  # the auth key's PIN is missing
    assert h.change(EF.AUTH_PIN, PHONE_PIN) == SW.OK
    assert h.send(*ACTIVATE)[1] == SW.OK


def test_phone_still_needs_its_ca_certificates_and_instruction_key(clock: FixedClock) -> None:
    dev = make_phone(clock, personalised=False)
    h = dev.host
    assert h.select_ap() == SW.OK
    assert h.update(EF.SIGN_CA_CERT, dev.sign_ca.der) == SW.OK
    assert h.update(EF.AUTH_CA_CERT, dev.auth_ca.der) == SW.OK
    assert h.send(*ACTIVATE)[1] == SW.CONDITIONS_NOT_SATISFIED  # no instruction key (0022)
    assert h.update(EF.INSTRUCTION_KEY, spki(dev.instruction_key.public_key())) == SW.OK
    assert h.send(*ACTIVATE)[1] == SW.OK  # no key yet, so no secret yet


def test_card_still_needs_both_secrets(clock: FixedClock) -> None:
    dev = make_card(clock, personalised=False)
    h = dev.host
    _factory_files(dev)
    _install(dev, EF.SIGN_KEY, EF.SIGN_CERT)
    assert h.change(EF.SIGN_PASSWORD, PHONE_PASSWORD) == SW.OK
    assert h.send(*ACTIVATE)[1] == SW.CONDITIONS_NOT_SATISFIED  # the card's PIN, always
    assert h.change(EF.AUTH_PIN, b"1234") == SW.OK
    assert h.send(*ACTIVATE)[1] == SW.OK
