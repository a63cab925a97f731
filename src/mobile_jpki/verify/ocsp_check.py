"""Revocation status from OCSP (RFC 6960): build the request, check the response and its
signer, ask the responder the certificate names.

The response is signed by the issuer itself or by a delegated responder whose certificate
carries id-kp-OCSPSigning and is issued by the same issuer key (RFC 6960 §4.2.2.2).
Freshness and the time of interest: :mod:`mobile_jpki.verify.revocation`.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence

from asn1crypto import keys as akeys
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from mobile_jpki.pki.model import utc
from mobile_jpki.verify.errors import FetchError, RevocationCheckError
from mobile_jpki.verify.fetch import OcspFetcher
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


def _spki_bits(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # RFC 6960 §4.1.1: the hash of the BIT STRING value, without tag, length and unused-bits byte.
    return bytes(akeys.PublicKeyInfo.load(spki)["public_key"].contents[1:])


def _digest(alg: hashes.HashAlgorithm, data: bytes) -> bytes:
    h = hashes.Hash(alg)
    h.update(data)
    return h.finalize()


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    """OCSP responder URLs from authorityInfoAccess (RFC 5280 §4.2.2.1)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return [
        d.access_location.value
        for d in aia
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
    ]


def build_ocsp_request(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    policy: RevocationPolicy = DEFAULT_POLICY,
    nonce: bytes | None = None,
) -> bytes:
    """A DER OCSPRequest for one certificate (RFC 6960 §4.1.1), with ``nonce`` (RFC 8954) if
    given."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, policy.cert_id_hash())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _ocsp_signer(resp: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    """The certificate whose key must have signed ``resp``: the issuer itself, or a delegated
    responder issued by it (RFC 6960 §4.2.2.2)."""

    def names(cert: x509.Certificate) -> bool:
        if resp.responder_key_hash is not None:
            # ResponderID byKey is SHA-1 by definition (RFC 6960 §4.2.1), not a choice of ours.
            key_hash = _digest(hashes.SHA1(), _spki_bits(cert))  # noqa: S303
            return resp.responder_key_hash == key_hash
        return resp.responder_name == cert.subject

    if names(issuer):
        return issuer
    for cand in resp.certificates:
        if not names(cand):
            continue
        try:
            cand.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature):
            raise RevocationCheckError(
                Source.OCSP, "the responder certificate is not issued by the certificate's issuer"
            ) from None
        ski, aki = subject_key_id(issuer), authority_key_id(cand)
        if ski is not None and aki is not None and ski != aki:
            raise RevocationCheckError(
                Source.OCSP, "the responder certificate is issued by another issuer key"
            )
        try:
            eku = cand.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            eku = x509.ExtendedKeyUsage([])
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            raise RevocationCheckError(
                Source.OCSP, "the responder certificate lacks extKeyUsage id-kp-OCSPSigning"
            )
        produced = resp.produced_at_utc
        if not cand.not_valid_before_utc <= produced <= cand.not_valid_after_utc:
            raise RevocationCheckError(
                Source.OCSP, "the responder certificate was not valid when the response was made"
            )
        return cand
    raise RevocationCheckError(Source.OCSP, "response signed by an unknown responder")


def verify_ocsp_response(
    der: bytes,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    *,
    now: dt.datetime,
    at: dt.datetime | None = None,
    policy: RevocationPolicy = DEFAULT_POLICY,
    nonce: bytes | None = None,
) -> RevocationResult:
    """Check a DER OCSPResponse about ``cert`` (issued by ``issuer``) and read its status.

    ``nonce``: what we sent; a response echoing another nonce is refused (a replayed or
    mis-cached answer), one echoing none is refused only under ``policy.require_nonce``.
    Raises :class:`RevocationCheckError` when the response cannot be relied on.
    """
    now = utc(now)
    try:
        resp = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise RevocationCheckError(Source.OCSP, f"not an OCSP response: {exc}") from None
    if resp.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise RevocationCheckError(
            Source.OCSP, f"responder answered {resp.response_status.name.lower()}"
        )
    signer = _ocsp_signer(resp, issuer)
    if not verify_signature(
        signer.public_key(), resp.signature, resp.tbs_response_bytes, resp.signature_hash_algorithm
    ):
        raise RevocationCheckError(Source.OCSP, "bad signature on the OCSP response")
    if nonce is not None:
        try:
            ext = resp.extensions.get_extension_for_class(x509.OCSPNonce)
            echoed: bytes | None = ext.value.nonce
        except x509.ExtensionNotFound:
            echoed = None
        if echoed is not None and echoed != nonce:
            raise RevocationCheckError(Source.OCSP, "the response echoes another request's nonce")
        if echoed is None and policy.require_nonce:
            raise RevocationCheckError(Source.OCSP, "the response does not echo our nonce")
    name_bytes = cert.issuer.public_bytes()
    key_bits = _spki_bits(issuer)
    for single in resp.responses:
        alg = single.hash_algorithm
        if (
            single.serial_number == cert.serial_number
            and single.issuer_name_hash == _digest(alg, name_bytes)
            and single.issuer_key_hash == _digest(alg, key_bits)
        ):
            break
    else:
        raise RevocationCheckError(Source.OCSP, "the response is about another certificate")
    this_update, next_update = single.this_update_utc, single.next_update_utc
    check_fresh(Source.OCSP, this_update, next_update, now=now, at=at, policy=policy)
    common = {
        "this_update": this_update,
        "next_update": next_update,
        "evidence": Evidence(ocsp_responses=(der,)),
    }
    status = single.certificate_status
    if status is ocsp.OCSPCertStatus.GOOD:
        return RevocationResult(RevocationStatus.GOOD, Source.OCSP, **common)  # type: ignore[arg-type]
    if status is ocsp.OCSPCertStatus.UNKNOWN:
        return RevocationResult(RevocationStatus.UNKNOWN, Source.OCSP, **common)  # type: ignore[arg-type]
    revoked_at = single.revocation_time_utc
    assert revoked_at is not None  # noqa: S101 - REVOKED always carries revocationTime
    flag = single.revocation_reason
    code = FLAG_CODES[flag] if flag is not None else None
    return status_at(Source.OCSP, code, revoked_at, at, **common)


def check_ocsp(
    cert: x509.Certificate,
    issuer: x509.Certificate,
    fetcher: OcspFetcher,
    *,
    now: dt.datetime,
    policy: RevocationPolicy = DEFAULT_POLICY,
    randbytes: Callable[[int], bytes] = secrets.token_bytes,
) -> RevocationResult:
    """Ask the responder named in the certificate's AIA."""
    urls = ocsp_urls(cert)
    if not urls:
        raise RevocationCheckError(Source.OCSP, "the certificate names no OCSP responder")
    nonce = randbytes(32) if policy.send_nonce else None
    request = build_ocsp_request(cert, issuer, policy=policy, nonce=nonce)
    errors = []
    for url in urls:
        try:
            der = fetcher.fetch_ocsp(url, request)
            return verify_ocsp_response(der, cert, issuer, now=now, policy=policy, nonce=nonce)
        except (FetchError, RevocationCheckError) as exc:
            errors.append(str(exc))
    raise RevocationCheckError(Source.OCSP, "; ".join(errors))


__all__: Sequence[str] = ["build_ocsp_request", "check_ocsp", "ocsp_urls", "verify_ocsp_response"]
