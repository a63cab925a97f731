"""Attestation certificates remembered per DER (service/portal/attestations.py): what may
change is still checked on every application."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from portal_world import CARD_PASSWORD, World

from mobile_jpki.applet import Manufacturer
from mobile_jpki.phone.client import PortalProblem
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.attestation import AttestationError
from mobile_jpki.service.portal.attestations import AttestationCertificates

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
SERIAL = b"\x01" * 16


def _maker() -> Manufacturer:
    return Manufacturer.create(key=ec.generate_private_key(ec.SECP256R1()), now=NOW)


def _element(maker: Manufacturer, serial: bytes = SERIAL) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = maker.attest(element_key=key.public_key(), serial=serial, now=NOW)
    return cert.public_bytes(Encoding.DER)


def test_a_remembered_certificate_is_refused_once_its_root_is_removed() -> None:
    maker, other = _maker(), _maker()
    der = _element(maker)
    checked = AttestationCertificates()
    first = checked.check(der, [maker.root], now=NOW, expected_serial=SERIAL)
    assert checked.check(der, [other.root, maker.root], now=NOW, expected_serial=SERIAL) is first
    with pytest.raises(AttestationError, match="known manufacturer"):
        checked.check(der, [other.root], now=NOW, expected_serial=SERIAL)


def test_validity_and_serial_are_checked_on_every_use() -> None:
    maker = _maker()
    der = _element(maker)
    checked = AttestationCertificates()
    checked.check(der, [maker.root], now=NOW, expected_serial=SERIAL)
    with pytest.raises(AttestationError, match="another element"):
        checked.check(der, [maker.root], now=NOW, expected_serial=b"\x02" * 16)
    with pytest.raises(AttestationError, match="not valid now"):
        checked.check(der, [maker.root], now=NOW + dt.timedelta(days=365 * 16))


def test_other_bytes_are_checked_afresh() -> None:
    maker, rogue = _maker(), _maker()
    checked = AttestationCertificates(size=1)
    checked.check(_element(maker), [maker.root], now=NOW)
    with pytest.raises(AttestationError, match="known manufacturer"):
        checked.check(_element(rogue), [maker.root], now=NOW)
    with pytest.raises(AttestationError, match="not DER"):
        checked.check(b"\x30\x03\x02\x01\x00", [maker.root], now=NOW)


def test_an_application_after_its_manufacturer_was_removed_is_refused(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    # Checked (and remembered) once: a first application of this device.
    world.apply_for_auth(phone, card)
    world.work()
    world.service.manufacturer_roots.clear()
    with pytest.raises(PortalProblem) as info:
        phone.apply(
            card,
            card_password=CARD_PASSWORD,
            certificates=(Hierarchy.SIGN,),
            sign_password="PHONE123",
            auth_pin="1234",
        )
    assert info.value.code == "attestation-invalid"
