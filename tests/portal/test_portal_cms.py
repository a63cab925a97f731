"""The portal's lean CMS verifier against signing.cms (the same bytes the app sends)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from portal_world import START, pooled_key

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


def test_verifies_an_openssl_cms_as_received(tmp_path: Path) -> None:
    """A third party's CMS (OpenSSL: rsaEncryption as signature algorithm, SHA-512, ESS
    signing-certificate-v2 with an explicit hash algorithm) verifies over the attribute bytes
    as received; a flipped signed-attribute byte does not."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl not installed")
    key = pooled_key()
    cert = _cert(key)
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "m").write_bytes(b'{"a":1}')
    subprocess.run(
        [openssl, "cms", "-sign", "-cades", "-md", "sha512", "-nodetach", "-binary",
         "-in", "m", "-signer", "c.pem", "-inkey", "k.pem", "-outform", "DER", "-out", "o.der"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    der = (tmp_path / "o.der").read_bytes()
    doc = CmsDocumentVerifier().verify(der)
    assert doc.content == b'{"a":1}' and doc.signer == cert
    # signingTime's UTCTime digits sit inside the signed attributes: change one of them.
    when = der.rindex(b"\x17\x0d") + 2
    tampered = bytearray(der)
    tampered[when + 11] ^= 0x01
    with pytest.raises(SignatureInvalid, match="does not verify"):
        CmsDocumentVerifier().verify(bytes(tampered))


def test_verifier_needs_no_other_module_imported(tmp_path: Path) -> None:
    """signingCertificateV2's ASN.1 type is registered by asn1crypto.tsp: the verifier
    imports it itself, not by luck of what the process imported before (``serve``)."""
    key = pooled_key()
    der = cms_document_signer(FixedClock(START))(b'{"a":1}', key, _cert(key))
    (tmp_path / "doc.der").write_bytes(der)
    code = (
        "import pathlib, sys\n"
        "from mobile_jpki.service.portal.cms import CmsDocumentVerifier\n"
        "doc = CmsDocumentVerifier().verify(pathlib.Path(sys.argv[1]).read_bytes())\n"
        "assert 'mobile_jpki.signing.cms' not in sys.modules\n"
        "print(doc.content.decode())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "doc.der")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert out.stdout.strip() == '{"a":1}'
