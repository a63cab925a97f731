"""Key attestation of the phone secure element (docs/apdu.md, GENERATE ASYMMETRIC KEY PAIR).

A manufacturer root (ECDSA P-256 by default) certifies one attestation key per secure element,
naming the element by its serial (subject serialNumber, hex); the element signs
``challenge ‖ role ‖ SPKI DER`` of every key it generates. The portal service checks that chain
before it lets a CA certify the key: only keys born inside a genuine element get phone
certificates. This module is the format, both ways: the response of GENERATE ASYMMETRIC KEY
PAIR, the attested bytes and their signature, and the checks. Pure: keys and ``now`` are handed
in. The emulated manufacturer lives with the emulator (``applet.manufacturer``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from cryptography.x509.oid import NameOID

from . import tlv
from .constants import Slot

TAG_SPKI, TAG_ATTESTATION = 0x81, 0x82


class AttestationError(ValueError):
    """The attestation does not prove the key was generated in a genuine element."""


@dataclass(frozen=True)
class GeneratedKey:
    """The answer to GENERATE ASYMMETRIC KEY PAIR: SPKI DER and, on a phone, the attestation."""

    spki: bytes
    attestation: bytes | None

    @classmethod
    def parse(cls, data: bytes) -> GeneratedKey:
        """Decode the BER-TLV response: ``81`` SPKI DER, then on a phone ``82`` the attestation.
        Raises :class:`ValueError` when it is malformed or lacks the public key."""
        try:
            fields = tlv.unique(tlv.parse(data), {TAG_SPKI, TAG_ATTESTATION})
        except tlv.TlvError as exc:
            raise ValueError(f"malformed key generation response: {exc}") from exc
        if TAG_SPKI not in fields:
            raise ValueError("key generation response without 81 SubjectPublicKeyInfo")
        return cls(fields[TAG_SPKI], fields.get(TAG_ATTESTATION))

    def encode(self) -> bytes:
        out = tlv.encode(TAG_SPKI, self.spki)
        if self.attestation is not None:
            out += tlv.encode(TAG_ATTESTATION, self.attestation)
        return out

    def public_key(self) -> rsa.RSAPublicKey:
        """The generated key (RSA-2048 in the JPKI AP); :class:`ValueError` for anything else."""
        key = load_der_public_key(self.spki)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the applet generated a non-RSA key")
        return key


def attested_data(challenge: bytes, slot: Slot, spki: bytes) -> bytes:
    return challenge + bytes((slot.role,)) + spki


def sign_attestation(
    key: ec.EllipticCurvePrivateKey, challenge: bytes, slot: Slot, spki: bytes
) -> bytes:
    return key.sign(attested_data(challenge, slot, spki), ec.ECDSA(hashes.SHA256()))


def verify_key_attestation(
    *,
    generated: GeneratedKey,
    challenge: bytes,
    slot: Slot,
    attestation_certificate: x509.Certificate,
    manufacturer_root: x509.Certificate,
    now: dt.datetime,
    expected_serial: bytes | None = None,
) -> None:
    """Raise :class:`AttestationError` unless the key was attested by an element whose
    attestation certificate the manufacturer root issued and which is valid at ``now``."""
    if generated.attestation is None:
        raise AttestationError("no attestation in the response")
    try:
        attestation_certificate.verify_directly_issued_by(manufacturer_root)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise AttestationError(f"attestation certificate not issued by the root: {exc}") from exc
    check_attestation_certificate(attestation_certificate, now=now, expected_serial=expected_serial)
    verify_attested_key(
        generated=generated,
        challenge=challenge,
        slot=slot,
        attestation_certificate=attestation_certificate,
    )


def check_attestation_certificate(
    certificate: x509.Certificate, *, now: dt.datetime, expected_serial: bytes | None = None
) -> None:
    """The checks of :func:`verify_key_attestation` on the attestation certificate itself,
    apart from its issuer's signature: valid at ``now``, of the expected element."""
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise AttestationError("attestation certificate not valid now")
    if expected_serial is not None and element_serial(certificate) != expected_serial:
        raise AttestationError("attestation certificate belongs to another element")


def verify_attested_key(
    *,
    generated: GeneratedKey,
    challenge: bytes,
    slot: Slot,
    attestation_certificate: x509.Certificate,
) -> None:
    """The element's signature over ``challenge ‖ role ‖ SPKI``, by the key of an attestation
    certificate the caller has already checked (:func:`verify_key_attestation` does both)."""
    if generated.attestation is None:
        raise AttestationError("no attestation in the response")
    public_key = attestation_certificate.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise AttestationError("attestation key is not ECDSA")
    try:
        public_key.verify(
            generated.attestation,
            attested_data(challenge, slot, generated.spki),
            ec.ECDSA(hashes.SHA256()),
        )
    except InvalidSignature as exc:
        raise AttestationError("attestation signature does not verify") from exc


def attestation_subject(organization: str, serial: bytes) -> x509.Name:
    """The subject of an element's attestation certificate: its maker and, as serialNumber,
    the element's serial in hex (what :func:`element_serial` reads back)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial.hex()),
        ]
    )


def element_serial(certificate: x509.Certificate) -> bytes:
    """The element serial from the attestation certificate's subject serialNumber (hex)."""
    values = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if len(values) != 1:
        raise AttestationError("attestation certificate has no single serialNumber")
    value = values[0].value
    try:
        return bytes.fromhex(value if isinstance(value, str) else value.decode())
    except ValueError as exc:
        raise AttestationError("serialNumber is not hex") from exc
