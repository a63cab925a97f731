"""What the app's answer must prove before anything is issued (issue 18 "Authentication means a
real check"):

1. the user-auth key signed the request's fresh challenge (:mod:`mobile_jpki.signing.login`'s
   DER, RSA PKCS#1 v1.5 with SHA-256 — what the JPKI applet computes);
2. the certificate chains to our user-auth root, is a user-auth certificate (card or phone),
   within its validity, and our own OCSP responder says ``good`` — an OCSP request built and
   answered for real (:class:`CaOcspFetcher`), so a revoked or held certificate, or one of a
   card under suspension (its certificates are held), is refused;
3. when the signing key is needed (a basic-four-facts scope or a sign transaction): the signing
   certificate passes the same checks under the signing root, its key signed the transaction's
   digest (or the challenge), and it belongs to the same person as the user-auth certificate.

Pure of HTTP; the CA is reached through :class:`~mobile_jpki.service.ca.CertificateAuthority`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from mobile_jpki.pki.identity import BasicFourFacts
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.service.authapp.repo import certificate_holder
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.signing.login import Challenge
from mobile_jpki.verify.certificate import (
    RevocationCheck,
    TrustAnchors,
    Usage,
    verify_certificate,
)
from mobile_jpki.verify.errors import FetchError
from mobile_jpki.verify.revocation_model import RevocationPolicy, Source


class CheckFailed(Exception):
    """One line saying which check failed; becomes ``access_denied``."""


class CaOcspFetcher:
    """The kit's fetcher interface answered by our own responder, in process: the OCSP request
    the kit builds goes to :meth:`CertificateAuthority.ocsp_answer` as it would over HTTP."""

    def __init__(self, ca: CertificateAuthority, now: dt.datetime) -> None:
        self.ca = ca
        self.now = now

    def fetch_ocsp(self, url: str, request_der: bytes) -> bytes:
        return self.ca.ocsp_answer(request_der, self.now).der

    def fetch_crl(self, url: str) -> bytes:
        raise FetchError(url, "the twin checks status by OCSP only")


OCSP_ONLY = RevocationPolicy(sources=(Source.OCSP,))


@dataclass(frozen=True)
class Proven:
    """What a passing answer established."""

    person_id: str
    auth_serial: int
    auth_kind: CertKind
    sign_serial: int | None
    facts: BasicFourFacts | None


def _load(der: bytes, what: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError:
        raise CheckFailed(f"the {what} certificate does not decode") from None


def _anchors(ca: CertificateAuthority, hierarchy: Hierarchy) -> TrustAnchors:
    return TrustAnchors(tuple(c.certificate for c in ca.cas() if c.hierarchy is hierarchy))


def _check_certificate(
    ca: CertificateAuthority,
    cert: x509.Certificate,
    hierarchy: Hierarchy,
    now: dt.datetime,
    what: str,
) -> tuple[CertKind, BasicFourFacts | None]:
    verdict = verify_certificate(
        cert,
        anchors=_anchors(ca, hierarchy),
        now=now,
        usage=Usage.SIGNING if hierarchy is Hierarchy.SIGN else Usage.AUTHENTICATION,
        expect=[k for k in CertKind if k.hierarchy is hierarchy],
        revocation=RevocationCheck(fetcher=CaOcspFetcher(ca, now), policy=OCSP_ONLY),
    )
    if not verdict.valid or verdict.kind is None:
        reasons = "; ".join(str(p) for p in verdict.problems) or "not a JPKI certificate"
        raise CheckFailed(f"the {what} certificate is refused: {reasons}")
    return verdict.kind, verdict.facts


def _rsa(cert: x509.Certificate, what: str) -> rsa.RSAPublicKey:
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise CheckFailed(f"the {what} certificate's key is not RSA")
    return key


def _holder(ca: CertificateAuthority, serial: int, what: str) -> str:
    person = certificate_holder(ca.db, serial)
    if person is None:
        raise CheckFailed(f"the {what} certificate is not one this service issued to a person")
    return person


def check_answer(
    ca: CertificateAuthority,
    *,
    challenge: Challenge,
    auth_signature: bytes,
    auth_certificate: bytes,
    sign: tuple[bytes, bytes] | None,
    sign_digest: bytes | None,
    needs_sign_key: bool,
    now: dt.datetime,
) -> Proven:
    """Check the app's answer; :class:`CheckFailed` on the first failing check.
    ``sign`` is (signature, certificate DER); ``sign_digest`` the transaction's SHA-256."""
    if now > challenge.expires_at:
        raise CheckFailed("the request has expired")
    auth_cert = _load(auth_certificate, "user-auth")
    try:
        _rsa(auth_cert, "user-auth").verify(
            auth_signature, challenge.to_be_signed(), padding.PKCS1v15(), hashes.SHA256()
        )
    except InvalidSignature:
        raise CheckFailed("the user-auth signature over the challenge does not verify") from None
    auth_kind, _ = _check_certificate(ca, auth_cert, Hierarchy.AUTH, now, "user-auth")
    person = _holder(ca, auth_cert.serial_number, "user-auth")
    if not needs_sign_key:
        return Proven(person, auth_cert.serial_number, auth_kind, None, None)
    if sign is None:
        raise CheckFailed("this request needs the signing certificate (signing password)")
    signature, der = sign
    sign_cert = _load(der, "signing")
    key = _rsa(sign_cert, "signing")
    try:
        if sign_digest is not None:
            key.verify(signature, sign_digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        else:
            key.verify(signature, challenge.to_be_signed(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise CheckFailed("the signature by the signing key does not verify") from None
    _, facts = _check_certificate(ca, sign_cert, Hierarchy.SIGN, now, "signing")
    if _holder(ca, sign_cert.serial_number, "signing") != person:
        raise CheckFailed("the signing and user-auth certificates belong to different people")
    return Proven(person, auth_cert.serial_number, auth_kind, sign_cert.serial_number, facts)
