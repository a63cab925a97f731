from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mobile_jpki.pki.tsa import (
    TSA_POLICY,
    TimeStampAuthority,
    build_request,
    read_response,
    respond,
)

NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


@pytest.fixture(scope="module")
def pki() -> tuple[x509.Certificate, TimeStampAuthority]:
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start, end = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=365)
    ca = (
        x509.CertificateBuilder(
            _name("test root"), _name("test root"), ca_key.public_key(), 1, start, end
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder(
            _name("test root"), _name("test TSA"), tsa_key.public_key(), 2, start, end
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .add_extension(
            x509.KeyUsage(True, True, False, False, False, False, False, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return ca, TimeStampAuthority(cert, tsa_key)


def test_granted_token_echoes_nonce_and_imprint(
    pki: tuple[x509.Certificate, TimeStampAuthority],
) -> None:
    _, tsa = pki
    digest = hashlib.sha256(b"hello").digest()
    der = respond(build_request(digest, nonce=1234), tsa=tsa, now=NOW, serial=77)
    resp = tsp.TimeStampResp.load(der)
    assert resp["status"]["status"].native == "granted"
    info = resp["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 1234
    assert info["serial_number"].native == 77
    assert info["policy"].dotted == TSA_POLICY
    assert info["message_imprint"]["hashed_message"].native == digest
    assert info["gen_time"].native == NOW
    assert len(resp["time_stamp_token"]["content"]["certificates"]) == 1


@pytest.mark.parametrize(
    ("request_der", "failure"),
    [
        (b"\x30\x03\x02\x01\x01", "bad_data_format"),
        (build_request(b"x" * 20, hash_algorithm="sha1"), "bad_alg"),
        (build_request(b"x" * 31), "bad_data_format"),
    ],
)
def test_refusals(
    pki: tuple[x509.Certificate, TimeStampAuthority], request_der: bytes, failure: str
) -> None:
    reply = read_response(respond(request_der, tsa=pki[1], now=NOW, serial=1))
    assert reply.status == "rejection" and not reply.granted
    assert failure in reply.failures


def test_tsa_certificate_must_be_time_stamping_only(
    pki: tuple[x509.Certificate, TimeStampAuthority],
) -> None:
    ca, tsa = pki
    with pytest.raises(ValueError, match="timeStamping"):
        TimeStampAuthority(ca, tsa.key)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_openssl_ts_verify(
    pki: tuple[x509.Certificate, TimeStampAuthority], tmp_path: Path
) -> None:
    ca, tsa = pki
    data = tmp_path / "data.bin"
    data.write_bytes(b"document to stamp")
    req = build_request(hashlib.sha256(data.read_bytes()).digest(), nonce=99)
    (tmp_path / "resp.tsr").write_bytes(
        respond(req, tsa=tsa, now=dt.datetime.now(dt.UTC), serial=5)
    )
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    out = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-data",
            str(data),
            "-in",
            str(tmp_path / "resp.tsr"),
            "-CAfile",
            str(tmp_path / "ca.pem"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Verification: OK" in out.stdout, out.stdout + out.stderr
