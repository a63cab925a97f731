from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.attestation import verify_key_attestation
from mobile_jpki.protocol.constants import Slot
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import (
    DeviceExists,
    DeviceKind,
    DeviceNotFound,
    InvalidDeviceId,
    create_card,
    create_phone,
    device_path,
    list_devices,
    load_or_create_manufacturer,
    open_card,
    open_phone,
)
from mobile_jpki.reader.errors import (
    ApduError,
    ConditionsNotSatisfied,
    FileNotFound,
    InvalidSecret,
    SecurityStatusNotSatisfied,
    WrongSecret,
)
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.reader.personalise import (
    PersonalisationError,
    apply_phone,
    personalise_card,
    register_phone,
)

from .reader_fixtures import NOW, MiniCa

FAST = 10  # KDF iterations: the tests are about APDUs, not about brute-force cost


def _personalise(data_dir: Path, ca: MiniCa, card_id: str = "card") -> JpkiClient:
    applet = create_card(data_dir, card_id, clock=FixedClock(NOW), kdf_iterations=FAST)
    client = JpkiClient(InProcessConnection(applet))
    personalise_card(
        client,
        issue=ca.issue,
        sign_ca=ca.roots["sign"],
        auth_ca=ca.roots["auth"],
        instruction_public_key=ca.instruction_key.public_key(),
        sign_password="Pass1234",
        auth_pin="1234",
    )
    return client


def test_personalised_card_reads_verifies_and_signs(tmp_path: Path, mini_ca: MiniCa) -> None:
    client = _personalise(tmp_path, mini_ca)
    client.select_ap()  # a new session: personalisation left the secrets verified
    assert client.token_label() == "JPKIAPICCTOKEN2"
    assert client.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: True}
    assert client.read_certificate(Hierarchy.AUTH, ca=True) == mini_ca.roots["auth"]
    auth = client.read_certificate(Hierarchy.AUTH)  # free on a card
    with pytest.raises(SecurityStatusNotSatisfied):
        client.read_certificate(Hierarchy.SIGN)  # needs the signing password
    client.verify(Hierarchy.SIGN, "pass1234")  # upper-cased on the host
    sign = client.read_certificate(Hierarchy.SIGN)
    assert {sign, auth} <= set(mini_ca.issued)
    public = sign.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    key = ApduRSAPrivateKey(client, Hierarchy.SIGN, public)
    sig = key.sign(b"application", padding.PKCS1v15(), hashes.SHA256())
    public.verify(sig, b"application", padding.PKCS1v15(), hashes.SHA256())


def test_state_and_counters_survive_reopening(tmp_path: Path, mini_ca: MiniCa) -> None:
    client = _personalise(tmp_path, mini_ca)
    with pytest.raises(WrongSecret):
        client.verify(Hierarchy.AUTH, "0000")
    again = JpkiClient(InProcessConnection(open_card(tmp_path, "card", clock=FixedClock(NOW))))
    assert again.tries_left(Hierarchy.AUTH) == 2
    again.verify(Hierarchy.AUTH, "1234")
    assert again.tries_left(Hierarchy.AUTH) == 3
    # operational now: the card refuses a second personalisation
    with pytest.raises(ConditionsNotSatisfied):
        again.generate_key(Hierarchy.SIGN, os.urandom(16))


def test_bad_secret_refused_before_any_apdu(tmp_path: Path, mini_ca: MiniCa) -> None:
    applet = create_card(tmp_path, "c2", clock=FixedClock(NOW), kdf_iterations=FAST)
    client = JpkiClient(InProcessConnection(applet))
    with pytest.raises(InvalidSecret):
        personalise_card(
            client, issue=mini_ca.issue, sign_ca=mini_ca.roots["sign"],
            auth_ca=mini_ca.roots["auth"],
            instruction_public_key=mini_ca.instruction_key.public_key(),
            sign_password="password", auth_pin="1234",
        )  # fmt: skip
    with pytest.raises(FileNotFound):
        client.read_file(0x000A)  # nothing was written


def test_issuer_returning_a_certificate_for_another_key_is_caught(
    tmp_path: Path, mini_ca: MiniCa
) -> None:
    applet = create_card(tmp_path, "c3", clock=FixedClock(NOW), kdf_iterations=FAST)
    client = JpkiClient(InProcessConnection(applet))
    other = mini_ca.keys["auth"].public_key()
    with pytest.raises(PersonalisationError):
        personalise_card(
            client, issue=lambda kind, _pub: mini_ca.issue(kind, other),
            sign_ca=mini_ca.roots["sign"], auth_ca=mini_ca.roots["auth"],
            instruction_public_key=mini_ca.instruction_key.public_key(),
            sign_password="Pass1234", auth_pin="1234",
        )  # fmt: skip


def test_phone_application_and_registration(tmp_path: Path, mini_ca: MiniCa) -> None:
    clock = FixedClock(NOW)
    maker = load_or_create_manufacturer(tmp_path, now=NOW)
    create_phone(tmp_path, "new-phone", clock=clock, kdf_iterations=FAST)
    client = JpkiClient(InProcessConnection(open_phone(tmp_path, "new-phone", clock=clock)))
    assert client.token_label() == "JPKIAPGPSETOKEN"
    challenge = os.urandom(32)
    application = apply_phone(
        client,
        roles=[Hierarchy.SIGN, Hierarchy.AUTH],
        challenge=challenge,
        sign_password="Phone123",
        auth_pin="9876",
        sign_ca=mini_ca.roots["sign"],
        auth_ca=mini_ca.roots["auth"],
        instruction_public_key=mini_ca.instruction_key.public_key(),
    )
    from mobile_jpki.protocol.attestation import GeneratedKey

    for role, slot in ((Hierarchy.SIGN, Slot.SIGN), (Hierarchy.AUTH, Slot.AUTH)):
        got = application.keys[role]
        verify_key_attestation(
            generated=GeneratedKey(got.spki, got.attestation),
            challenge=challenge,
            slot=slot,
            attestation_certificate=application.attestation_certificate,
            manufacturer_root=maker.root,
            now=NOW,
            expected_serial=application.serial,
        )
    from mobile_jpki.pki.model import CertKind

    certs = {
        Hierarchy.SIGN: mini_ca.issue(
            CertKind.PHONE_SIGN, application.keys[Hierarchy.SIGN].public_key()
        ),
        Hierarchy.AUTH: mini_ca.issue(
            CertKind.PHONE_AUTH, application.keys[Hierarchy.AUTH].public_key()
        ),
    }
    register_phone(client, certs, activate=True)
    client.reconnect()
    with pytest.raises(SecurityStatusNotSatisfied):
        client.read_certificate(Hierarchy.AUTH)  # a phone guards its auth certificate
    client.verify(Hierarchy.AUTH, "9876")
    assert client.read_certificate(Hierarchy.AUTH) == certs[Hierarchy.AUTH]


def test_device_ids_and_layout(tmp_path: Path) -> None:
    for bad in ("", "../x", "/etc", "a/b", "A", "-x", "x" * 64, "card.state", "card\n"):
        with pytest.raises(InvalidDeviceId):
            device_path(tmp_path, DeviceKind.CARD, bad)
    with pytest.raises(DeviceNotFound, match="no emulated card 'nope'"):
        open_card(tmp_path, "nope")
    create_card(tmp_path, "card-1", clock=FixedClock(NOW), kdf_iterations=FAST)
    with pytest.raises(DeviceExists):
        create_card(tmp_path, "card-1", clock=FixedClock(NOW), kdf_iterations=FAST)
    assert (tmp_path / "devices" / "cards" / "card-1.state").is_file()
    assert list_devices(tmp_path, DeviceKind.CARD) == ["card-1"]
    assert list_devices(tmp_path, DeviceKind.PHONE) == []


def test_two_opens_of_one_device_never_lose_a_counter_decrement(
    tmp_path: Path, mini_ca: MiniCa
) -> None:
    _personalise(tmp_path, mini_ca)
    first = JpkiClient(InProcessConnection(open_card(tmp_path, "card", clock=FixedClock(NOW))))
    second = JpkiClient(InProcessConnection(open_card(tmp_path, "card", clock=FixedClock(NOW))))
    with pytest.raises(WrongSecret):
        first.verify(Hierarchy.AUTH, "0000")
    # the second holder's copy is stale: its save is refused, so the applet answers an error
    # instead of writing back a counter with the first decrement undone
    with pytest.raises(ApduError):
        second.verify(Hierarchy.AUTH, "0000")
    fresh = JpkiClient(InProcessConnection(open_card(tmp_path, "card", clock=FixedClock(NOW))))
    assert fresh.tries_left(Hierarchy.AUTH) == 2
