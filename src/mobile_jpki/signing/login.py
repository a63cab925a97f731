"""Login assertions: user authentication like JPKI's 利用者証明 (user-authentication) service.

The relying party issues a :class:`Challenge` (random nonce, its own identifier as audience,
issued-at, expiry); the card or phone signs the challenge's canonical DER encoding with the
*user-authentication* key, after the 4-digit PIN or biometrics (the caller's business); the
relying party verifies it with :func:`mobile_jpki.verify.login.verify_login`.

Why a DER structure with a context string: the signed bytes must be unambiguous (no JSON
canonicalisation questions) and must never be mistakable for anything else the same key signs
(domain separation, as in WebAuthn's clientDataJSON type or TLS 1.3's context string).

    LoginChallenge ::= SEQUENCE {
        context    UTF8String ("mobile-jpki login v1"),
        nonce      OCTET STRING (SIZE (16..64)),
        audience   UTF8String,
        issuedAt   GeneralizedTime,
        expiresAt  GeneralizedTime }
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from mobile_jpki.pki.model import utc
from mobile_jpki.signing.cms import raw_sign

CONTEXT = "mobile-jpki login v1"
NONCE_BYTES = 32
DEFAULT_TTL = dt.timedelta(minutes=2)


class _Tbs(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 - asn1crypto's schema attribute
        ("context", core.UTF8String),
        ("nonce", core.OctetString),
        ("audience", core.UTF8String),
        ("issued_at", core.GeneralizedTime),
        ("expires_at", core.GeneralizedTime),
    ]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Challenge:
    nonce: bytes
    audience: str
    issued_at: dt.datetime
    expires_at: dt.datetime

    def __post_init__(self) -> None:
        if not 16 <= len(self.nonce) <= 64:
            raise ValueError("a login nonce has 16 to 64 random bytes")
        if not self.audience:
            raise ValueError("the audience (relying-party identifier) must not be empty")
        object.__setattr__(self, "issued_at", utc(self.issued_at))
        object.__setattr__(self, "expires_at", utc(self.expires_at))
        if self.expires_at <= self.issued_at:
            raise ValueError("a challenge must expire after it is issued")

    def to_be_signed(self) -> bytes:
        """The canonical DER the key signs."""
        return bytes(
            _Tbs(
                {
                    "context": CONTEXT,
                    "nonce": self.nonce,
                    "audience": self.audience,
                    "issued_at": self.issued_at,
                    "expires_at": self.expires_at,
                }
            ).dump()
        )

    def to_dict(self) -> dict[str, str]:
        return {
            "nonce": _b64(self.nonce),
            "audience": self.audience,
            "issued_at": self.issued_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> Challenge:
        return cls(
            nonce=_unb64(d["nonce"]),
            audience=d["audience"],
            issued_at=dt.datetime.fromisoformat(d["issued_at"]),
            expires_at=dt.datetime.fromisoformat(d["expires_at"]),
        )


def new_challenge(
    audience: str,
    *,
    now: dt.datetime,
    ttl: dt.timedelta = DEFAULT_TTL,
    randbytes: Callable[[int], bytes] = secrets.token_bytes,
) -> Challenge:
    return Challenge(randbytes(NONCE_BYTES), audience, now, utc(now) + ttl)


@dataclass(frozen=True)
class LoginAssertion:
    """What the phone or card sends back: the challenge, its signature, the auth certificate."""

    challenge: Challenge
    signature: bytes
    certificate: bytes  # DER

    def to_json(self) -> str:
        return json.dumps(
            {
                "challenge": self.challenge.to_dict(),
                "signature": _b64(self.signature),
                "certificate": _b64(self.certificate),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> LoginAssertion:
        d = json.loads(text)
        return cls(
            Challenge.from_dict(d["challenge"]), _unb64(d["signature"]), _unb64(d["certificate"])
        )


def sign_login(
    challenge: Challenge, key: PrivateKeyTypes, certificate: x509.Certificate
) -> LoginAssertion:
    """Sign ``challenge`` with the user-authentication key (sha256WithRSAEncryption: the JPKI
    applet's PKCS#1 v1.5)."""
    _, signature = raw_sign(key, challenge.to_be_signed())
    return LoginAssertion(
        challenge, signature, certificate.public_bytes(serialization.Encoding.DER)
    )
