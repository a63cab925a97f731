"""The TSA certificate profile: RFC 3161 §2.3 purposes, chained to the signing root."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from mobile_jpki.pki.issuance import IssuanceError, build_tsa_certificate
from mobile_jpki.pki.model import CaIdentity, Hierarchy, PublicUrls
from mobile_jpki.pki.tsa import TimeStampAuthority

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)


def test_tsa_certificate_has_only_the_time_stamping_purpose(
    sign_ca: CaIdentity, new_key: Callable[[], rsa.RSAPrivateKey], urls: PublicUrls
) -> None:
    key = new_key()
    cert = build_tsa_certificate(sign_ca, key.public_key(), 77, NOW, urls=urls)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.content_commitment
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = sign_ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "Time-Stamping Authority"
    )
    assert cert.not_valid_after_utc <= sign_ca.certificate.not_valid_after_utc
    # Revocation-checkable: a strict PAdES validator needs a status source for the TSA too.
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    assert not aia.critical
    assert [(d.access_method, d.access_location.value) for d in aia.value] == [
        (AuthorityInformationAccessOID.OCSP, urls.ocsp(Hierarchy.SIGN))
    ]
    TimeStampAuthority(certificate=cert, key=key)  # accepted by the RFC 3161 responder


def test_openssl_accepts_it_for_time_stamp_signing(
    sign_ca: CaIdentity,
    new_key: Callable[[], rsa.RSAPrivateKey],
    urls: PublicUrls,
    tmp_path: Path,
) -> None:
    cert = build_tsa_certificate(sign_ca, new_key().public_key(), 78, NOW, urls=urls)
    root = tmp_path / "root.pem"
    leaf = tmp_path / "tsa.pem"
    root.write_bytes(sign_ca.certificate.public_bytes(Encoding.PEM))
    leaf.write_bytes(cert.public_bytes(Encoding.PEM))
    at = str(int((NOW + dt.timedelta(days=1)).timestamp()))
    done = subprocess.run(
        ["openssl", "verify", "-attime", at, "-purpose", "timestampsign", "-CAfile", root, leaf],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_no_tsa_certificate_from_an_expired_root(
    sign_ca: CaIdentity, new_key: Callable[[], rsa.RSAPrivateKey], urls: PublicUrls
) -> None:
    late = sign_ca.certificate.not_valid_after_utc + dt.timedelta(days=1)
    with pytest.raises(IssuanceError, match="expired"):
        build_tsa_certificate(sign_ca, new_key().public_key(), 79, late, urls=urls)
