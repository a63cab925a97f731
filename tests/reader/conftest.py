"""Fixtures for the host-side tests: a tiny CA, and pcscd + vpcd with an emulated card."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from mobile_jpki.reader.pcscd import (
    PrivatePcscd,
    shared_pcscd,
    unavailable_reason,
    wait_for_card,
)

NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)


def make_cert(
    subject_cn: str,
    public_key: rsa.RSAPublicKey,
    issuer_key: rsa.RSAPrivateKey,
    issuer_cn: str | None = None,
    *,
    ca: bool = False,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject_cn),
        ]
    )
    issuer = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, issuer_cn or subject_cn),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365 * 5))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ca_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class MiniCa:
    """A two-root test CA (signing, auth) issuing end-entity certificates, like JPKI-TEST."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self.keys = {
            h: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for h in ("sign", "auth")
        }
        self.roots = {
            h: make_cert(f"JPKI-TEST {h} root", k.public_key(), k, ca=True)
            for h, k in self.keys.items()
        }
        self.instruction_key = ec.generate_private_key(ec.SECP256R1())
        self.issued: list[x509.Certificate] = []

    def issue(self, kind: object, public_key: rsa.RSAPublicKey) -> x509.Certificate:
        from mobile_jpki.pki.model import CertKind

        assert isinstance(kind, CertKind)
        h = kind.hierarchy.value
        cert = make_cert(f"holder {kind.value}", public_key, self.keys[h], f"JPKI-TEST {h} root")
        self.issued.append(cert)
        return cert


@pytest.fixture(scope="session")
def mini_ca() -> MiniCa:
    return MiniCa()


# -- pcscd + vpcd with an emulated card ------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class VpcdCard:
    """An emulated, personalised card sitting in a private pcscd's vpcd reader."""

    reader: str
    data_dir: Path
    sign_der: bytes
    auth_der: bytes
    sign_ca_der: bytes
    auth_ca_der: bytes
    sign_password: str
    auth_pin: str


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
