"""Revocation status from CRLs (RFC 5280 §5, §6.3): the certificate's shard CRL and its delta,
their signer (the issuer key: JPKI roots sign their own CRLs), scope and freshness.
Freshness and the time of interest: :mod:`mobile_jpki.verify.revocation`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mobile_jpki.pki.model import utc
from mobile_jpki.protocol.tlv import read_header
from mobile_jpki.verify.errors import FetchError, RevocationCheckError
from mobile_jpki.verify.fetch import CrlFetcher
from mobile_jpki.verify.revocation_model import (
    DEFAULT_POLICY,
    FLAG_CODES,
    Evidence,
    RevocationPolicy,
    RevocationResult,
    RevocationStatus,
    Source,
    check_fresh,
    status_at,
)
from mobile_jpki.verify.signatures import authority_key_id, subject_key_id, verify_signature

_REMOVE = 8


def _dp_uris(points: x509.CRLDistributionPoints | x509.FreshestCRL) -> list[str]:
    return [
        name.value
        for point in points
        for name in point.full_name or []
        if isinstance(name, x509.UniformResourceIdentifier)
    ]


def crl_urls(cert: x509.Certificate) -> list[str]:
    """CRL URLs from cRLDistributionPoints (RFC 5280 §4.2.1.13)."""
    try:
        return _dp_uris(cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value)
    except x509.ExtensionNotFound:
        return []


def delta_crl_urls(cert: x509.Certificate | x509.CertificateRevocationList) -> list[str]:
    """Delta CRL URLs from freshestCRL (RFC 5280 §4.2.1.15 / §5.2.6)."""
    try:
        return _dp_uris(cert.extensions.get_extension_for_class(x509.FreshestCRL).value)
    except x509.ExtensionNotFound:
        return []


def load_crl(der: bytes, what: str) -> x509.CertificateRevocationList:
    try:
        return x509.load_der_x509_crl(der)
    except ValueError:
        try:
            return x509.load_pem_x509_crl(der)
        except ValueError as exc:
            raise RevocationCheckError(Source.CRL, f"{what} is not a CRL: {exc}") from None


def _der(blob: bytes) -> bytes:
    """DER of a CRL given as DER or PEM."""
    if blob[:1] == b"\x30":
        return blob
    return load_crl(blob, "the CRL").public_bytes(serialization.Encoding.DER)


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return None


def _idp(crl: x509.CertificateRevocationList) -> x509.IssuingDistributionPoint | None:
    try:
        return crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return None


def _der_header(der: bytes, at: int) -> tuple[int, int]:
    """(offset of the contents, length of the contents) of the DER TLV at ``at`` (X.690 §8.1),
    read by the one BER/DER header reader (protocol.tlv)."""
    _, length, header = read_header(der, at, max_octets=4)  # a CRL may exceed 16 MiB
    return at + header, length


def tbs_certlist(der: bytes) -> bytes:
    """The tbsCertList TLV of a DER CRL, sliced from the received bytes.

    Measured: cryptography's ``CertificateRevocationList.tbs_certlist_bytes`` (and with it
    ``is_signature_valid``) re-encodes the list: 2.5 s for 300,000 entries, against 0.03 s to
    hash and verify the slice. JPKI CRLs reach millions of entries (``benchmarks/verify_crl.py``).
    The signature is over exactly these bytes (RFC 5280 §5.1.1.3), so the slice is also the
    more faithful check.
    """
    if not der or der[0] != 0x30:
        raise ValueError("not a DER SEQUENCE")
    contents, _ = _der_header(der, 0)
    if der[contents] != 0x30:
        raise ValueError("tbsCertList is not a SEQUENCE")
    inner, length = _der_header(der, contents)
    if inner + length > len(der):
        raise ValueError("truncated tbsCertList")
    return der[contents : inner + length]


def _check_crl_signed(
    crl: x509.CertificateRevocationList, der: bytes, issuer: x509.Certificate, what: str
) -> None:
    if crl.issuer != issuer.subject:
        raise RevocationCheckError(Source.CRL, f"{what} is issued by another CA")
    ski, aki = subject_key_id(issuer), authority_key_id(crl)
    if ski is not None and aki is not None and ski != aki:
        # Same DN, other generation's key (RFC 5280 §5.2.1).
        raise RevocationCheckError(Source.CRL, f"{what} is signed by another generation's key")
    if not verify_signature(
        issuer.public_key(), crl.signature, tbs_certlist(der), crl.signature_hash_algorithm
    ):
        raise RevocationCheckError(Source.CRL, f"bad signature on the {what}")


def _check_scope(
    crl: x509.CertificateRevocationList, cert: x509.Certificate, what: str
) -> x509.IssuingDistributionPoint | None:
    """RFC 5280 §6.3.3 (b): the CRL's scope must cover the certificate."""
    idp = _idp(crl)
    if idp is None:
        return None  # a complete CRL for everything the issuer issued
    if idp.indirect_crl or idp.only_some_reasons is not None:
        raise RevocationCheckError(Source.CRL, f"{what}: partitioned or indirect CRLs unsupported")
    if idp.only_contains_ca_certs or idp.only_contains_attribute_certs:
        raise RevocationCheckError(Source.CRL, f"{what} does not cover end-entity certificates")
    if idp.full_name is not None:
        cdp = set(crl_urls(cert))
        names = {n.value for n in idp.full_name if isinstance(n, x509.UniformResourceIdentifier)}
        if not cdp & names:
            raise RevocationCheckError(
                Source.CRL, f"{what} is for another shard than the certificate's distribution point"
            )
    return idp


def verify_crls(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    full_der: bytes,
    delta_der: bytes | None = None,
    *,
    now: dt.datetime,
    at: dt.datetime | None = None,
    policy: RevocationPolicy = DEFAULT_POLICY,
) -> RevocationResult:
    """Status of ``cert`` from its shard's complete CRL and, if given and applicable, the delta.

    The delta applies only when (RFC 5280 §5.2.4) it carries deltaCRLIndicator, has the same
    issuer, key and IssuingDistributionPoint as the complete CRL, names a base CRL number ≤ the
    complete CRL's number, and its own number is greater. An inapplicable delta is ignored with
    a note (the complete CRL alone still answers within its nextUpdate).
    """
    try:
        return _verify_crls(cert, issuer, full_der, delta_der, now=now, at=at, policy=policy)
    except (ValueError, KeyError) as exc:
        # cryptography parses a CRL lazily: a damaged extension or entry surfaces only when it
        # is read. Untrusted bytes from the network get a verdict, never a stray exception.
        raise RevocationCheckError(Source.CRL, f"malformed CRL: {exc}") from None


def _verify_crls(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    full_der: bytes,
    delta_der: bytes | None,
    *,
    now: dt.datetime,
    at: dt.datetime | None,
    policy: RevocationPolicy,
) -> RevocationResult:
    now = utc(now)
    full = load_crl(full_der, "the CRL")
    try:
        full.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        raise RevocationCheckError(Source.CRL, "a delta CRL was given as the complete CRL")
    except x509.ExtensionNotFound:
        pass
    _check_crl_signed(full, _der(full_der), issuer, "CRL")
    full_idp = _check_scope(full, cert, "CRL")
    next_update = full.next_update_utc
    check_fresh(Source.CRL, full.last_update_utc, next_update, now=now, at=at, policy=policy)
    evidence = Evidence(crls=(full_der,))
    notes: list[str] = []
    entry = full.get_revoked_certificate_by_serial_number(cert.serial_number)
    this_update = full.last_update_utc

    if delta_der is not None:
        try:
            delta = load_crl(delta_der, "the delta CRL")
            try:
                base = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value
            except x509.ExtensionNotFound:
                raise RevocationCheckError(Source.CRL, "not a delta CRL") from None
            full_number, delta_number = _crl_number(full), _crl_number(delta)
            if full_number is None or delta_number is None:
                raise RevocationCheckError(Source.CRL, "a CRL without cRLNumber")
            if base.crl_number > full_number:
                raise RevocationCheckError(
                    Source.CRL,
                    f"delta is based on CRL {base.crl_number}, newer than ours ({full_number})",
                )
            if delta_number <= full_number:
                raise RevocationCheckError(Source.CRL, "delta is not newer than the complete CRL")
            _check_crl_signed(delta, _der(delta_der), issuer, "delta CRL")
            if _idp(delta) != full_idp:
                raise RevocationCheckError(Source.CRL, "delta has another scope (IDP)")
            check_fresh(
                Source.CRL,
                delta.last_update_utc,
                delta.next_update_utc,
                now=now,
                at=at,
                policy=policy,
            )
        except RevocationCheckError as exc:
            notes.append(f"delta CRL ignored: {exc.detail}")
        else:
            evidence = evidence + Evidence(crls=(delta_der,))
            this_update, next_update = delta.last_update_utc, delta.next_update_utc
            delta_entry = delta.get_revoked_certificate_by_serial_number(cert.serial_number)
            if delta_entry is not None:
                # removeFromCRL (RFC 5280 §5.3.1): a released hold; otherwise the delta's newer
                # entry (e.g. hold → revoked) wins.
                entry = None if _entry_reason(delta_entry) == _REMOVE else delta_entry

    common = {
        "this_update": this_update,
        "next_update": next_update,
        "evidence": evidence,
        "notes": tuple(notes),
    }
    if entry is None:
        return RevocationResult(RevocationStatus.GOOD, Source.CRL, **common)  # type: ignore[arg-type]
    return status_at(Source.CRL, _entry_reason(entry), entry.revocation_date_utc, at, **common)


def _entry_reason(entry: x509.RevokedCertificate) -> int | None:
    try:
        flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None
    return FLAG_CODES[flag]


def check_crl(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    fetcher: CrlFetcher,
    *,
    now: dt.datetime,
    policy: RevocationPolicy = DEFAULT_POLICY,
) -> RevocationResult:
    """Download the certificate's shard CRL (and its delta) and check it."""
    urls = crl_urls(cert)
    if not urls:
        raise RevocationCheckError(Source.CRL, "the certificate names no CRL distribution point")
    errors = []
    for url in urls:
        try:
            full_der = fetcher.fetch_crl(url)
        except FetchError as exc:
            errors.append(str(exc))
            continue
        delta_der = None
        if policy.use_delta_crl:
            delta_urls = delta_crl_urls(cert) or delta_crl_urls(load_crl(full_der, "the CRL"))
            for delta_url in delta_urls:
                try:
                    delta_der = fetcher.fetch_crl(delta_url)
                    break
                except FetchError:
                    continue  # the complete CRL alone is still a valid answer
        try:
            return verify_crls(cert, issuer, full_der, delta_der, now=now, policy=policy)
        except RevocationCheckError as exc:
            errors.append(str(exc))
    raise RevocationCheckError(Source.CRL, "; ".join(errors))


__all__: Sequence[str] = [
    "check_crl",
    "crl_urls",
    "delta_crl_urls",
    "load_crl",
    "tbs_certlist",
    "verify_crls",
]
