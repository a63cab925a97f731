"""A small self-contained CA for the CRL tests (root + RSA-2048 key, leaves), built with
cryptography's builders so the CRL tests do not depend on the profiles engineer's issuance code,
and the reference encoding for the golden tests: the same inputs through cryptography's
``CertificateRevocationListBuilder`` (quadratic, but exact for small N).

Keys are generated once per test session (RSA key generation dominates test time otherwise).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from mobile_jpki.pki import profiles
from mobile_jpki.pki.crl import CrlScope, crl_extensions
from mobile_jpki.pki.model import CaIdentity, Hierarchy, PublicUrls
from mobile_jpki.pki.revocation import Reason, RevokedEntry

URLS = PublicUrls("http://127.0.0.1:8000")
NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2035, 1, 1, tzinfo=dt.UTC)
ROOT_NAME = x509.Name(
    [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI-TEST"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature"),
        x509.NameAttribute(
            NameOID.ORGANIZATIONAL_UNIT_NAME,
            "Japan Agency for Local Authority Information Systems",
        ),
    ]
)


@cache
def rsa_key(label: str) -> rsa.RSAPrivateKey:
    """One RSA-2048 key per label per session."""
    del label
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def make_ca(generation: int = 2023) -> CaIdentity:
    key = rsa_key(f"root-{generation}")
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(ROOT_NAME)
        .issuer_name(ROOT_NAME)
        .public_key(key.public_key())
        .serial_number(generation)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return CaIdentity(
        ca_id=CaIdentity.make_id(Hierarchy.SIGN, generation),
        hierarchy=Hierarchy.SIGN,
        generation=generation,
        certificate=cert,
        key=key,
    )


def leaf(ca: CaIdentity, serial: int, shard: int) -> x509.Certificate:
    """An end-entity certificate of ``shard``: its CDP names the shard CRL, its freshestCRL the
    shard's delta, as issuance does."""
    key = rsa_key("leaf")
    # The issuance profile's own CDP and freshestCRL: the CRL tests then prove the two agree.
    cdp = profiles.crl_distribution_points(URLS, ca.ca_id, shard)
    freshest = profiles.freshest_crl(URLS, ca.ca_id, shard)
    issuer_key = ca.key
    assert isinstance(issuer_key, rsa.RSAPrivateKey)
    return (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"leaf-{serial:x}"),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(cdp.value, critical=cdp.critical)
        .add_extension(freshest.value, critical=freshest.critical)
        .sign(issuer_key, hashes.SHA256())
    )


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def reason_flag(reason: Reason) -> x509.ReasonFlags:
    return x509.ReasonFlags[reason.name.lower()]


def reference_crl(
    *,
    issuer: CaIdentity,
    urls: PublicUrls,
    entries: Iterable[RevokedEntry],
    crl_number: int,
    this_update: dt.datetime,
    next_update: dt.datetime,
    scope: CrlScope,
) -> bytes:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    for ext, critical in crl_extensions(
        issuer=issuer, urls=urls, crl_number=crl_number, scope=scope
    ):
        builder = builder.add_extension(ext, critical)
    for entry in entries:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        # RFC 5280 §5.3.1: reasonCode absent rather than unspecified.
        if entry.reason is not None and entry.reason is not Reason.UNSPECIFIED:
            revoked = revoked.add_extension(x509.CRLReason(reason_flag(entry.reason)), False)
        if entry.invalidity_date is not None:
            revoked = revoked.add_extension(x509.InvalidityDate(entry.invalidity_date), False)
        builder = builder.add_revoked_certificate(revoked.build())
    key = issuer.key
    assert isinstance(key, rsa.RSAPrivateKey)
    return builder.sign(key, hashes.SHA256()).public_bytes(Encoding.DER)


@cache
def make_profile_ca(generation: int = 2024) -> CaIdentity:
    """A root built with the issuance profile's own root extensions (CDP = [URI, DirName]), for
    the ARL's IDP to be checked against the real thing."""
    key = rsa_key(f"profile-root-{generation}")
    ca_id = CaIdentity.make_id(Hierarchy.SIGN, generation)
    builder = (
        x509.CertificateBuilder()
        .subject_name(ROOT_NAME)
        .issuer_name(ROOT_NAME)
        .public_key(key.public_key())
        .serial_number(generation)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )
    for ext in profiles.root_extensions(
        hierarchy=Hierarchy.SIGN, ca_id=ca_id, public_key=key.public_key(), urls=URLS
    ):
        builder = builder.add_extension(ext.value, critical=ext.critical)
    cert = builder.sign(key, hashes.SHA256())
    return CaIdentity(ca_id, Hierarchy.SIGN, generation, cert, key)
