"""Fixtures for the host-side tests: a tiny CA, and pcscd + vpcd with an emulated card."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from mobile_jpki.reader.pcscd import (
    PrivatePcscd,
    shared_pcscd,
    unavailable_reason,
    wait_for_card,
)

from .reader_fixtures import NOW, MiniCa, VpcdCard


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ca_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def mini_ca() -> MiniCa:
    return MiniCa()


@pytest.fixture(scope="session")
def private_pcscd() -> Iterator[PrivatePcscd]:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"pcscd/vpcd not usable here: {reason}")
    yield shared_pcscd()


@pytest.fixture(scope="module")
def vpcd_card(
    private_pcscd: PrivatePcscd, tmp_path_factory: pytest.TempPathFactory, mini_ca: MiniCa
) -> Iterator[VpcdCard]:
    from mobile_jpki.clock import FixedClock
    from mobile_jpki.reader.commands import JpkiClient
    from mobile_jpki.reader.connection import InProcessConnection
    from mobile_jpki.reader.emulated import create_card, open_card
    from mobile_jpki.reader.personalise import personalise_card
    from mobile_jpki.reader.vpcd import VpcdBridge

    data_dir = tmp_path_factory.mktemp("vpcd-data")
    clock = FixedClock(NOW)
    applet = create_card(data_dir, "card", clock=clock, kdf_iterations=10)
    made = personalise_card(
        JpkiClient(InProcessConnection(applet)),
        issue=mini_ca.issue,
        sign_ca=mini_ca.roots["sign"],
        auth_ca=mini_ca.roots["auth"],
        instruction_public_key=mini_ca.instruction_key.public_key(),
        sign_password="PASS1234",
        auth_pin="1234",
    )
    bridge = VpcdBridge(open_card(data_dir, "card", clock=clock), port=private_pcscd.vpcd_port(0))
    with bridge.running():
        reader = private_pcscd.reader_name(0)
        wait_for_card(reader)
        yield VpcdCard(
            reader=reader,
            data_dir=data_dir,
            sign_der=made.sign_certificate.public_bytes(Encoding.DER),
            auth_der=made.auth_certificate.public_bytes(Encoding.DER),
            sign_ca_der=mini_ca.roots["sign"].public_bytes(Encoding.DER),
            auth_ca_der=mini_ca.roots["auth"].public_bytes(Encoding.DER),
            sign_password="PASS1234",
            auth_pin="1234",
        )
