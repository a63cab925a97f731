"""Helpers for the reader tests (a tiny CA, the vpcd card record).

A uniquely named module rather than ``from conftest import``: several test directories have a
conftest.py, and only one of them can be the module named ``conftest``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

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
