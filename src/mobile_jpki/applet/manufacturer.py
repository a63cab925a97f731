"""The emulated secure-element manufacturer: a root that mints one attestation certificate per
element (docs/apdu.md, GENERATE ASYMMETRIC KEY PAIR). The format it writes and the checks the
portal runs on it are :mod:`mobile_jpki.protocol.attestation`; this is the factory's side of the
emulator. Pure: keys and ``now`` are handed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mobile_jpki.protocol.attestation import attestation_subject


@dataclass(frozen=True)
class Manufacturer:
    """A secure-element manufacturer: a root that mints per-element attestation certificates."""

    name: str
    key: ec.EllipticCurvePrivateKey
    root: x509.Certificate

    @classmethod
    def create(
        cls,
        *,
        key: ec.EllipticCurvePrivateKey,
        now: dt.datetime,
        name: str = "mobile-jpki test secure element manufacturer",
        lifetime: dt.timedelta = dt.timedelta(days=365 * 20),
    ) -> Manufacturer:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name} root"),
            ]
        )
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        root = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(name, key, root)

    def attest(
        self,
        *,
        element_key: ec.EllipticCurvePublicKey,
        serial: bytes,
        now: dt.datetime,
        lifetime: dt.timedelta = dt.timedelta(days=365 * 15),
    ) -> x509.Certificate:
        """Certify one element's attestation key; subject serialNumber = the serial in hex."""
        subject = attestation_subject(self.name, serial)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.root.subject)
            .public_key(element_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
