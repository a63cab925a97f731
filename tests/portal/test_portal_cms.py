"""The portal's lean CMS verifier against signing.cms (the same bytes the app sends)."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from conftest import START, pooled_key
from mobile_jpki.clock import FixedClock
from mobile_jpki.service.portal.cms import CmsDocumentVerifier, cms_document_signer
from mobile_jpki.service.portal.errors import SignatureInvalid
from mobile_jpki.signing.cms import sign_cms


def _cert(key: object) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(7)  # type: ignore[attr-defined]
        .not_valid_before(START).not_valid_after(START + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())  # type: ignore[arg-type]
    )  # fmt: skip


def test_round_trip_and_tampering() -> None:
    key = pooled_key()
    cert = _cert(key)
    der = cms_document_signer(FixedClock(START))(b'{"a":1}', key, cert)
    doc = CmsDocumentVerifier().verify(der)
    assert doc.content == b'{"a":1}' and doc.signer == cert
    tampered = der.replace(b'{"a":1}', b'{"a":2}')
    with pytest.raises(SignatureInvalid, match="digest"):
        CmsDocumentVerifier().verify(tampered)
    flipped = bytearray(der)
    flipped[-3] ^= 0x40
    with pytest.raises(SignatureInvalid):
        CmsDocumentVerifier().verify(bytes(flipped))


def test_refuses_detached_garbage_and_another_key() -> None:
    key, other = pooled_key(), pooled_key()
    cert = _cert(key)
    detached = sign_cms(b"x", key, cert, signing_time=START, detached=True)
    with pytest.raises(SignatureInvalid, match="encapsulated"):
        CmsDocumentVerifier().verify(detached)
    for garbage in (b"", b"\x30\x03\x02\x01\x01", b"not der at all"):
        with pytest.raises(SignatureInvalid):
            CmsDocumentVerifier().verify(garbage)
    forged = sign_cms(b"x", other, cert, signing_time=START, detached=False)  # cert of `key`
    with pytest.raises(SignatureInvalid):
        CmsDocumentVerifier().verify(forged)
