"""Verify a login assertion (see :mod:`mobile_jpki.signing.login`): the relying party's half of
JPKI-style user authentication.

Checks, in this order: the nonce is one this relying party issued and has not been used
(taken from the injected :class:`NonceStore` *before* anything else, so a failed attempt also
burns it: no replays, no retries on the same challenge); the signed challenge is the stored one;
audience; expiry; the signature by the certificate's key; the certificate's verdict as a
user-authentication certificate (chain, validity, revocation). The identity is the
certificate's subject CN (an opaque identifier: the auth certificate holds no personal data)
and its serial; a relying party links it to an account once, e.g. after a signing-certificate
based enrolment.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from mobile_jpki.pki.model import CertKind, utc
from mobile_jpki.signing.login import Challenge, LoginAssertion
from mobile_jpki.verify.certificate import (
    CertificateVerdict,
    RevocationCheck,
    TrustAnchors,
    Usage,
    verify_certificate,
)
from mobile_jpki.verify.signatures import verify_signature


class NonceStore(Protocol):
    def remember(self, challenge: Challenge) -> None:
        """Record an issued challenge."""
        ...

    def take(self, nonce: bytes, now: dt.datetime) -> Challenge | None:
        """Remove and return the challenge with ``nonce``; ``None`` if unknown, used or expired.
        Must be atomic across the relying party's processes (a DB row delete, Redis GETDEL)."""
        ...


class MemoryNonceStore:
    """In-process store (one process; tests, the example app)."""

    def __init__(self) -> None:
        self._items: dict[bytes, Challenge] = {}
        self._lock = threading.Lock()

    def remember(self, challenge: Challenge) -> None:
        with self._lock:
            self._items[challenge.nonce] = challenge

    def take(self, nonce: bytes, now: dt.datetime) -> Challenge | None:
        with self._lock:
            found = self._items.pop(nonce, None)
            now = utc(now)
            # Forget challenges expired for a while (kept briefly so a late answer is told
            # "expired" rather than "unknown").
            horizon = now - dt.timedelta(minutes=10)
            for key in [k for k, c in self._items.items() if c.expires_at < horizon]:
                del self._items[key]
            return found


class LoginFailure(StrEnum):
    UNKNOWN_CHALLENGE = "unknown-challenge"  # never issued, already used (replay) or purged
    CHALLENGE_MISMATCH = "challenge-mismatch"
    WRONG_AUDIENCE = "wrong-audience"
    EXPIRED_CHALLENGE = "expired-challenge"
    BAD_SIGNATURE = "bad-signature"
    MALFORMED = "malformed"
    CERTIFICATE = "certificate"  # see LoginResult.certificate for why


@dataclass(frozen=True)
class LoginResult:
    failure: LoginFailure | None
    message: str
    certificate: CertificateVerdict | None = None

    @property
    def valid(self) -> bool:
        return self.failure is None

    @property
    def subject_id(self) -> str | None:
        return self.certificate.subject_id if self.certificate else None

    @property
    def serial(self) -> int | None:
        return self.certificate.certificate.serial_number if self.certificate else None

    @property
    def kind(self) -> CertKind | None:
        return self.certificate.kind if self.certificate else None


def verify_login(
    assertion: LoginAssertion,
    *,
    audience: str,
    nonce_store: NonceStore,
    anchors: TrustAnchors,
    now: dt.datetime,
    revocation: RevocationCheck | None,
    expect: tuple[CertKind, ...] = (CertKind.CARD_AUTH, CertKind.PHONE_AUTH),
) -> LoginResult:
    now = utc(now)
    issued = nonce_store.take(assertion.challenge.nonce, now)
    if issued is None:
        return LoginResult(LoginFailure.UNKNOWN_CHALLENGE, "challenge unknown or already used")
    if issued != assertion.challenge:
        return LoginResult(LoginFailure.CHALLENGE_MISMATCH, "the signed challenge was altered")
    if issued.audience != audience:
        return LoginResult(LoginFailure.WRONG_AUDIENCE, f"made for {issued.audience!r}")
    if now > issued.expires_at:
        return LoginResult(LoginFailure.EXPIRED_CHALLENGE, f"expired {issued.expires_at}")
    try:
        cert = x509.load_der_x509_certificate(assertion.certificate)
    except ValueError as exc:
        return LoginResult(LoginFailure.MALFORMED, f"not a certificate: {exc}")
    if not verify_signature(
        cert.public_key(), assertion.signature, issued.to_be_signed(), hashes.SHA256()
    ):
        return LoginResult(LoginFailure.BAD_SIGNATURE, "the signature does not verify")
    verdict = verify_certificate(
        cert,
        anchors=anchors,
        now=now,
        usage=Usage.AUTHENTICATION,
        expect=expect,
        revocation=revocation,
    )
    if not verdict.valid:
        return LoginResult(LoginFailure.CERTIFICATE, verdict.summary(), verdict)
    return LoginResult(None, f"authenticated {verdict.subject_id}", verdict)
