"""pki.ocsp: request parsing limits and response encoding, checked against openssl."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import core
from asn1crypto import ocsp as aocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mobile_jpki.pki import ocsp
from mobile_jpki.pki.revocation import Reason

NOW = dt.datetime(2026, 4, 1, 9, tzinfo=dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@pytest.fixture(scope="module")
def pki() -> tuple[x509.Certificate, ocsp.Responder]:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("ca"))
        .issuer_name(_name("ca"))
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=9))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    r_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    responder = (
        x509.CertificateBuilder()
        .subject_name(_name("ocsp"))
        .issuer_name(ca.subject)
        .public_key(r_key.public_key())
        .serial_number(2)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=9))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ca, ocsp.Responder(responder, r_key)


def _request(
    ca: x509.Certificate, serials: list[int], *, nonce_ext: bytes | None = None, alg: str = "sha1"
) -> bytes:
    halg = ocsp.HashAlgorithm(alg) if alg in ("sha1", "sha256") else ocsp.HashAlgorithm.SHA1
    _, nh, kh = ocsp.issuer_key(ca, halg)
    tbs: dict[str, object] = {
        "request_list": [
            {
                "req_cert": {
                    "hash_algorithm": {"algorithm": alg},
                    "issuer_name_hash": nh,
                    "issuer_key_hash": kh,
                    "serial_number": s,
                }
            }
            for s in serials
        ]
    }
    if nonce_ext is not None:
        return _with_raw_nonce(serials, ca, halg, alg, nonce_ext)
    return bytes(aocsp.OCSPRequest({"tbs_request": tbs}).dump())


def _tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = (
        bytes([n])
        if n < 128
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + content


def _with_raw_nonce(
    serials: list[int], ca: x509.Certificate, halg: ocsp.HashAlgorithm, alg: str, raw: bytes
) -> bytes:
    """A request whose nonce extnValue holds ``raw`` verbatim (encodings asn1crypto would
    refuse to make)."""
    _, nh, kh = ocsp.issuer_key(ca, halg)
    requests = aocsp.Requests(
        [
            {
                "req_cert": {
                    "hash_algorithm": {"algorithm": alg},
                    "issuer_name_hash": nh,
                    "issuer_key_hash": kh,
                    "serial_number": s,
                }
            }
            for s in serials
        ]
    ).dump()
    ext = _tlv(0x30, core.ObjectIdentifier("1.3.6.1.5.5.7.48.1.2").dump() + _tlv(0x04, raw))
    tbs = _tlv(0x30, requests + _tlv(0xA2, _tlv(0x30, ext)))
    return _tlv(0x30, tbs)


@pytest.mark.parametrize("size", [1, 16, 32])
def test_nonce_sizes_accepted(pki: tuple[x509.Certificate, ocsp.Responder], size: int) -> None:
    ca, _ = pki
    raw = core.OctetString(b"\x07" * size).dump()
    req = ocsp.parse_request(_request(ca, [5], nonce_ext=raw))
    assert req.nonce == raw


@pytest.mark.parametrize(
    "raw", [core.OctetString(b"").dump(), core.OctetString(b"\x01" * 33).dump(), b"\x01\x02\x03"]
)
def test_bad_nonces_are_malformed(pki: tuple[x509.Certificate, ocsp.Responder], raw: bytes) -> None:
    ca, _ = pki
    with pytest.raises(ocsp.MalformedRequest):
        ocsp.parse_request(_request(ca, [5], nonce_ext=raw))


@pytest.mark.parametrize("der", [b"", b"\x30\x00", b"\x30\x03\x02\x01\x01", b"garbage" * 10])
def test_garbage_is_malformed(der: bytes) -> None:
    with pytest.raises(ocsp.MalformedRequest) as err:
        ocsp.parse_request(der)
    assert err.value.status is ocsp.ResponseStatus.MALFORMED_REQUEST


def test_unsupported_hash_is_malformed(pki: tuple[x509.Certificate, ocsp.Responder]) -> None:
    ca, _ = pki
    with pytest.raises(ocsp.MalformedRequest):
        ocsp.parse_request(_request(ca, [5], alg="md5"))


def test_error_response_has_no_body() -> None:
    der = ocsp.error_response(ocsp.ResponseStatus.UNAUTHORIZED)
    assert der == bytes.fromhex("30030a0106")
    with pytest.raises(ValueError):
        ocsp.error_response(ocsp.ResponseStatus.SUCCESSFUL)


def test_round_trip_several_statuses(pki: tuple[x509.Certificate, ocsp.Responder]) -> None:
    ca, responder = pki
    req = ocsp.parse_request(_request(ca, [10, 11, 12, 13], alg="sha256"))
    statuses = [
        ocsp.CertStatus.GOOD,
        ocsp.CertStatus.REVOKED,
        ocsp.CertStatus.REVOKED,
        ocsp.CertStatus.UNKNOWN,
    ]
    reasons = [None, Reason.KEY_COMPROMISE, None, None]
    answers = [
        ocsp.SingleAnswer(
            cid,
            st,
            NOW,
            NOW + dt.timedelta(days=1),
            revoked_at=NOW - dt.timedelta(hours=1) if st is ocsp.CertStatus.REVOKED else None,
            reason=r,
        )
        for cid, st, r in zip(req.cert_ids, statuses, reasons, strict=True)
    ]
    der = ocsp.build_response(responder=responder, answers=answers, produced_at=NOW)
    parsed = ocsp.parse_response(der)
    assert [a.status for a in parsed.answers] == statuses
    assert [a.reason for a in parsed.answers] == reasons
    assert parsed.answers[0].cert_id == req.cert_ids[0]
    # cryptography reads our encoding too (first SingleResponse, responder byKey).
    loaded = x509_ocsp.load_der_ocsp_response(der)
    assert loaded.responder_key_hash == responder.key_hash
    assert len(list(loaded.responses)) == 4
    assert loaded.certificates[0] == responder.certificate


def test_revoked_needs_a_time(pki: tuple[x509.Certificate, ocsp.Responder]) -> None:
    ca, responder = pki
    cid = ocsp.cert_id(responder.certificate, ca, ocsp.HashAlgorithm.SHA1)
    with pytest.raises(ValueError):
        ocsp.build_response(
            responder=responder,
            produced_at=NOW,
            answers=[ocsp.SingleAnswer(cid, ocsp.CertStatus.REVOKED, NOW, None)],
        )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_openssl_verifies_signature_and_nonce(
    pki: tuple[x509.Certificate, ocsp.Responder], tmp_path: Path
) -> None:
    ca, responder = pki
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    req_der = _request(ca, [77, 78], nonce_ext=core.OctetString(b"\x05" * 20).dump())
    (tmp_path / "req.der").write_bytes(req_der)
    req = ocsp.parse_request(req_der)
    answers = [
        ocsp.SingleAnswer(c, ocsp.CertStatus.GOOD, NOW, NOW + dt.timedelta(days=1))
        for c in req.cert_ids
    ]
    (tmp_path / "resp.der").write_bytes(
        ocsp.build_response(responder=responder, answers=answers, produced_at=NOW, nonce=req.nonce)
    )
    done = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-respin",
            str(tmp_path / "resp.der"),
            "-reqin",
            str(tmp_path / "req.der"),
            "-CAfile",
            str(ca_pem),
            "-attime",
            str(int(NOW.timestamp())),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert "Response verify OK" in done.stdout + done.stderr
    assert "Nonce Verify error" not in done.stdout + done.stderr
