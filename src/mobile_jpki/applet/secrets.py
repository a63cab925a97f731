"""Secret formats, retry counters and how secrets are kept (JPKI-FACTS.md "Passwords and PINs").

Secrets are stored as a salted PBKDF2-HMAC-SHA256 hash (RFC 8018 §5.2), never in plaintext:
the emulated element's state is a file on disk. For a 4-digit PIN this only stops casual
reading — 10⁴ candidates are cheap whatever the iteration count — which is why the retry
counter, not the hash, is the protection, as on the real card.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from mobile_jpki.protocol.constants import Profile, Slot

PASSWORD_MIN, PASSWORD_MAX = 6, 16
PIN_LENGTH = 4
BIOMETRIC_MIN, BIOMETRIC_MAX = 16, 64
DEFAULT_KDF_ITERATIONS = 10_000
BIOMETRIC_LABEL = b"biometric"

_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_DIGITS = frozenset(b"0123456789")


def length_ok(slot: Slot, value: bytes) -> bool:
    """Length check done before a VERIFY counts a try (docs/apdu.md: 67 00, not counted)."""
    if slot is Slot.SIGN:
        return PASSWORD_MIN <= len(value) <= PASSWORD_MAX
    return len(value) == PIN_LENGTH


def is_valid_signing_password(value: bytes) -> bool:
    """6 to 16 of A-Z and 0-9, mixing letters and digits. Upper-casing is the host's job."""
    return (
        PASSWORD_MIN <= len(value) <= PASSWORD_MAX
        and all(b in _ALNUM for b in value)
        and any(b in _DIGITS for b in value)
        and any(b not in _DIGITS for b in value)
    )


def is_valid_auth_pin(value: bytes) -> bool:
    """Exactly 4 digits."""
    return len(value) == PIN_LENGTH and all(b in _DIGITS for b in value)


def is_valid(slot: Slot, value: bytes) -> bool:
    return is_valid_signing_password(value) if slot is Slot.SIGN else is_valid_auth_pin(value)


@dataclass(frozen=True)
class RetryCounter:
    """Tries left out of a maximum; ``remaining == 0`` means blocked."""

    remaining: int
    maximum: int

    def __post_init__(self) -> None:
        if not 1 <= self.maximum <= 15 or not 0 <= self.remaining <= self.maximum:
            # 15: the most a 63 Cx status word can report (ISO 7816-4 §5.6).
            raise ValueError(f"bad retry counter {self.remaining}/{self.maximum}")

    @classmethod
    def full(cls, maximum: int) -> RetryCounter:
        return cls(maximum, maximum)

    @property
    def blocked(self) -> bool:
        return self.remaining == 0

    def decremented(self) -> RetryCounter:
        return RetryCounter(max(self.remaining - 1, 0), self.maximum)

    def reset(self) -> RetryCounter:
        return RetryCounter(self.maximum, self.maximum)


@dataclass(frozen=True)
class SecretPolicy:
    """Tries per secret. Phone auth PIN tries are *uncertain* in public sources: default 3."""

    signing_password_tries: int = Slot.SIGN.max_tries
    auth_pin_tries: int = Slot.AUTH.max_tries

    def tries(self, slot: Slot) -> int:
        return self.signing_password_tries if slot is Slot.SIGN else self.auth_pin_tries

    @classmethod
    def for_profile(cls, profile: Profile, *, phone_auth_pin_tries: int = 3) -> SecretPolicy:
        if profile is Profile.CARD:
            return cls()
        return cls(auth_pin_tries=phone_auth_pin_tries)


@dataclass(frozen=True)
class StoredSecret:
    """A secret's hash and its retry counter."""

    digest: bytes
    counter: RetryCounter


def hash_secret(value: bytes, *, salt: bytes, label: bytes, iterations: int) -> bytes:
    """PBKDF2-HMAC-SHA256 over the secret; ``label`` separates slots and the biometric token
    so one value used twice gives two unrelated hashes."""
    return hashlib.pbkdf2_hmac("sha256", value, salt + b"|" + label, iterations)


def matches(value: bytes, digest: bytes, *, salt: bytes, label: bytes, iterations: int) -> bool:
    candidate = hash_secret(value, salt=salt, label=label, iterations=iterations)
    return hmac.compare_digest(candidate, digest)


def label(slot: Slot) -> bytes:
    """Hash domain of a slot's secret."""
    return slot.value.encode("ascii")
