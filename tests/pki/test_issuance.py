"""Issuance: requests, serials, shards, and certificates that openssl accepts."""

from __future__ import annotations

import datetime as dt
import random
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from mobile_jpki.pki.identity import BasicFourFacts, Locality, ProfileError
from mobile_jpki.pki.issuance import (
    IssuanceError,
    IssuanceRequest,
    Issuer,
    build_ocsp_responder,
    issue,
    new_serial,
    shard_of,
)
from mobile_jpki.pki.model import CaIdentity, CertKind, Hierarchy, PublicUrls

NOW = dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2031, 1, 8, 14, 59, 59, tzinfo=dt.UTC)


def request(
    kind: CertKind,
    key: rsa.RSAPrivateKey,
    facts: BasicFourFacts | None = None,
    locality: Locality | None = None,
    serial: int = 0x1234,
    shard: int = 3,
) -> IssuanceRequest:
    return IssuanceRequest(
        kind=kind,
        subject_public_key=key.public_key(),
        serial=serial,
        subject_id="JPKI0000000001",
        not_before=NOW,
        not_after=LATER,
        shard=shard,
        facts=facts,
        locality=locality,
    )


def pem(path: Path, cert: x509.Certificate) -> Path:
    path.write_bytes(cert.public_bytes(Encoding.PEM))
    return path


def openssl_verify(tmp_path: Path, root: x509.Certificate, leaf: x509.Certificate) -> str:
    ca = pem(tmp_path / "root.pem", root)
    ee = pem(tmp_path / "ee.pem", leaf)
    # -attime: verify inside the certificates' validity, independent of the wall clock.
    out = subprocess.run(
        ["openssl", "verify", "-attime", str(int(NOW.timestamp()) + 60), "-CAfile", ca, ee],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout + out.stderr


def test_new_serial_is_positive_and_at_most_16_octets() -> None:
    rng = random.Random(1)
    serials = {new_serial(rng.randbytes) for _ in range(200)}
    assert len(serials) == 200
    assert all(0 < s < 2**127 for s in serials)
    assert new_serial(lambda n: b"\xff" * n) == 2**127 - 1  # top bit cleared: never negative


def test_new_serial_retries_zero() -> None:
    draws = iter([b"\x00" * 16, b"\x00" * 15 + b"\x05"])
    assert new_serial(lambda n: next(draws)) == 5


def test_shard_of() -> None:
    assert shard_of(10, 4) == 2
    assert shard_of(10, 1) == 0
    with pytest.raises(ValueError):
        shard_of(10, 0)


def test_signing_request_needs_facts(
    new_key: Callable[[], rsa.RSAPrivateKey], facts: BasicFourFacts, locality: Locality
) -> None:
    with pytest.raises(IssuanceError, match="basic four facts"):
        request(CertKind.PHONE_SIGN, new_key(), None, locality)
    with pytest.raises(IssuanceError, match="basic four facts"):
        request(CertKind.CARD_SIGN, new_key(), facts, None)
    with pytest.raises(IssuanceError, match="no personal data"):
        request(CertKind.CARD_AUTH, new_key(), facts, None)
    with pytest.raises(IssuanceError, match="no personal data"):
        request(CertKind.PHONE_AUTH, new_key(), None, locality)


@pytest.mark.parametrize("serial", [0, -1, 2**160])
def test_request_rejects_bad_serial(new_key: Callable[[], rsa.RSAPrivateKey], serial: int) -> None:
    with pytest.raises(IssuanceError, match="serial"):
        request(CertKind.CARD_AUTH, new_key(), serial=serial)


def test_twenty_octet_serial_is_the_limit(
    auth_ca: CaIdentity, urls: PublicUrls, new_key: Callable[[], rsa.RSAPrivateKey]
) -> None:
    cert = issue(auth_ca, request(CertKind.CARD_AUTH, new_key(), serial=2**159 - 1), urls)
    assert cert.serial_number == 2**159 - 1
    with pytest.raises(IssuanceError):
        request(CertKind.CARD_AUTH, new_key(), serial=2**159)


def test_request_rejects_weak_or_odd_keys() -> None:
    small = rsa.generate_private_key(65537, 1024)  # noqa: S505 - the point: must be refused
    with pytest.raises(ProfileError, match="RSA-1024"):
        request(CertKind.CARD_AUTH, small)
    odd_e = rsa.generate_private_key(3, 2048)
    with pytest.raises(ProfileError, match="65537"):
        request(CertKind.CARD_AUTH, odd_e)


def test_issuer_refuses_the_other_hierarchy(
    sign_ca: CaIdentity, urls: PublicUrls, new_key: Callable[[], rsa.RSAPrivateKey]
) -> None:
    with pytest.raises(IssuanceError, match="does not issue"):
        issue(sign_ca, request(CertKind.CARD_AUTH, new_key()), urls)


def test_issuer_refuses_certificate_outliving_root(
    auth_ca: CaIdentity, urls: PublicUrls, new_key: Callable[[], rsa.RSAPrivateKey]
) -> None:
    req = IssuanceRequest(
        kind=CertKind.CARD_AUTH,
        subject_public_key=new_key().public_key(),
        serial=7,
        subject_id="X1",
        not_before=NOW,
        not_after=auth_ca.certificate.not_valid_after_utc + dt.timedelta(seconds=1),
        shard=0,
    )
    with pytest.raises(IssuanceError, match="after the CA"):
        issue(auth_ca, req, urls)


def test_issuer_refuses_mismatched_key(
    auth_ca: CaIdentity, sign_ca: CaIdentity, urls: PublicUrls
) -> None:
    wrong = CaIdentity(auth_ca.ca_id, auth_ca.hierarchy, 1, auth_ca.certificate, sign_ca.key)
    with pytest.raises(IssuanceError, match="does not belong"):
        Issuer(wrong, urls)


@pytest.mark.parametrize("kind", list(CertKind))
def test_openssl_verifies_every_kind(
    tmp_path: Path,
    sign_ca: CaIdentity,
    auth_ca: CaIdentity,
    urls: PublicUrls,
    new_key: Callable[[], rsa.RSAPrivateKey],
    facts: BasicFourFacts,
    locality: Locality,
    kind: CertKind,
) -> None:
    signing = kind.hierarchy.value == "sign"
    ca = sign_ca if signing else auth_ca
    cert = issue(
        ca,
        request(kind, new_key(), facts if signing else None, locality if signing else None),
        urls,
    )
    assert "ee.pem: OK" in openssl_verify(tmp_path, ca.certificate, cert)
    text = subprocess.run(
        ["openssl", "x509", "-noout", "-text", "-in", tmp_path / "ee.pem"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "sha256WithRSAEncryption" in text
    assert "Public-Key: (2048 bit)" in text


def test_generation_two_verifies_only_against_generation_two(
    tmp_path: Path,
    key_pool: list[rsa.RSAPrivateKey],
    ca_factory: Callable[[Hierarchy, int, rsa.RSAPrivateKey], CaIdentity],
    sign_ca: CaIdentity,
    urls: PublicUrls,
    new_key: Callable[[], rsa.RSAPrivateKey],
    facts: BasicFourFacts,
    locality: Locality,
) -> None:
    gen2 = ca_factory(sign_ca.hierarchy, 2, key_pool[5])
    assert gen2.certificate.subject == sign_ca.certificate.subject
    assert gen2.certificate.serial_number != sign_ca.certificate.serial_number
    cert = issue(gen2, request(CertKind.CARD_SIGN, new_key(), facts, locality), urls)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    gen1_ski = sign_ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    gen2_ski = gen2.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert aki.key_identifier == gen2_ski.value.digest != gen1_ski.value.digest
    assert "ee.pem: OK" in openssl_verify(tmp_path, gen2.certificate, cert)
    assert "ee.pem: OK" not in openssl_verify(tmp_path, sign_ca.certificate, cert)
    # The CDP names the generation's own CRL: a generation's serials are its own.
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert "/crl/sign-2/3.crl" in str(cdp[0].full_name)


def test_ocsp_responder_certificate(
    tmp_path: Path,
    sign_ca: CaIdentity,
    urls: PublicUrls,
    new_key: Callable[[], rsa.RSAPrivateKey],
) -> None:
    cert = build_ocsp_responder(sign_ca, new_key().public_key(), 99, NOW, urls=urls)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=7)
    exts = {e.oid.dotted_string: e for e in cert.extensions}
    assert exts["2.5.29.37"].value == x509.ExtendedKeyUsage([x509.OID_OCSP_SIGNING])
    assert "1.3.6.1.5.5.7.48.1.5" in exts  # id-pkix-ocsp-nocheck
    ku = exts["2.5.29.15"]
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    assert "2.5.29.31" not in exts and "1.3.6.1.5.5.7.1.1" not in exts  # nocheck: no CDP/AIA
    out = openssl_verify(tmp_path, sign_ca.certificate, cert)
    assert "ee.pem: OK" in out
    short = build_ocsp_responder(
        sign_ca, new_key().public_key(), 100, NOW, dt.timedelta(hours=1), urls=urls
    )
    assert short.not_valid_after_utc == NOW + dt.timedelta(hours=1)
