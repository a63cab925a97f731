"""The applet's persistent state (EEPROM of the card, secure storage of the phone).

Everything that survives a power cycle lives here; the RAM part (selected EF, verified secrets,
last challenge) lives in the applet. The state is an immutable value: the applet builds the next
state, saves it through a :class:`StateStore`, and only then adopts it and answers.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Protocol

from mobile_jpki.protocol.constants import PRESENT, Profile, Slot

from .secrets import (
    DEFAULT_KDF_ITERATIONS,
    RetryCounter,
    SecretPolicy,
    StoredSecret,
    hash_secret,
    label,
)

FORMAT_VERSION = 1


class Lifecycle(Enum):
    PERSONALISATION = "personalisation"
    OPERATIONAL = "operational"


class StateError(ValueError):
    """Stored bytes that are not a state this code understands."""


class StateStore(Protocol):
    """Where the applet keeps its state: a file for the emulator, memory for tests."""

    def load(self) -> bytes | None: ...

    def save(self, data: bytes) -> None: ...


class MemoryStateStore:
    """In-memory :class:`StateStore`; ``saves`` counts writes so tests can see ordering."""

    def __init__(self, data: bytes | None = None) -> None:
        self.data = data
        self.saves = 0

    def load(self) -> bytes | None:
        return self.data

    def save(self, data: bytes) -> None:
        self.data = bytes(data)
        self.saves += 1


@dataclass(frozen=True)
class SlotState:
    """One key slot: private key (PKCS#8 DER), its certificate, the CA certificate of its
    hierarchy (DER) and the secret guarding the key."""

    key: bytes | None = None
    certificate: bytes | None = None
    ca_certificate: bytes | None = None
    secret: StoredSecret | None = None


@dataclass(frozen=True)
class AppletState:
    serial: bytes
    profile: Profile
    salt: bytes
    policy: SecretPolicy
    lifecycle: Lifecycle = Lifecycle.PERSONALISATION
    kdf_iterations: int = DEFAULT_KDF_ITERATIONS
    sign: SlotState = field(default_factory=SlotState)
    auth: SlotState = field(default_factory=SlotState)
    biometric: bytes | None = None
    attestation_key: bytes | None = None
    attestation_certificate: bytes | None = None
    instruction_key: bytes | None = None

    def slot(self, slot: Slot) -> SlotState:
        return self.sign if slot is Slot.SIGN else self.auth

    def with_slot(self, slot: Slot, value: SlotState) -> AppletState:
        return replace(self, sign=value) if slot is Slot.SIGN else replace(self, auth=value)

    def certificates_present(self) -> bytes:
        """EF 0008: 8F 8F 00 both, 8F 00 00 signing only, 00 8F 00 auth only, 00 00 00 none."""
        return bytes(
            (
                PRESENT if self.sign.certificate else 0,
                PRESENT if self.auth.certificate else 0,
                0,
            )
        )

    def to_bytes(self) -> bytes:
        return json.dumps(_encode(self), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> AppletState:
        try:
            obj = json.loads(data)
            if obj.get("version") != FORMAT_VERSION:
                raise StateError(f"unsupported state version {obj.get('version')!r}")
            return _decode(obj)
        except StateError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StateError(f"unreadable applet state: {exc}") from exc


def _b(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


def _unb(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise StateError("expected base64 text")
    return base64.b64decode(value, validate=True)


def _encode_slot(s: SlotState) -> dict[str, Any]:
    secret = None
    if s.secret is not None:
        secret = {
            "digest": _b(s.secret.digest),
            "remaining": s.secret.counter.remaining,
            "maximum": s.secret.counter.maximum,
        }
    return {
        "key": _b(s.key),
        "certificate": _b(s.certificate),
        "ca_certificate": _b(s.ca_certificate),
        "secret": secret,
    }


def _decode_slot(obj: dict[str, Any]) -> SlotState:
    secret = None
    if obj["secret"] is not None:
        raw = obj["secret"]
        digest = _unb(raw["digest"])
        if digest is None:
            raise StateError("secret without digest")
        secret = StoredSecret(digest, RetryCounter(int(raw["remaining"]), int(raw["maximum"])))
    return SlotState(
        key=_unb(obj["key"]),
        certificate=_unb(obj["certificate"]),
        ca_certificate=_unb(obj["ca_certificate"]),
        secret=secret,
    )


def _encode(s: AppletState) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "serial": _b(s.serial),
        "profile": s.profile.name,
        "salt": _b(s.salt),
        "policy": {
            "signing_password_tries": s.policy.signing_password_tries,
            "auth_pin_tries": s.policy.auth_pin_tries,
        },
        "lifecycle": s.lifecycle.value,
        "kdf_iterations": s.kdf_iterations,
        "sign": _encode_slot(s.sign),
        "auth": _encode_slot(s.auth),
        "biometric": _b(s.biometric),
        "attestation_key": _b(s.attestation_key),
        "attestation_certificate": _b(s.attestation_certificate),
        "instruction_key": _b(s.instruction_key),
    }


def _decode(obj: dict[str, Any]) -> AppletState:
    serial = _unb(obj["serial"])
    salt = _unb(obj["salt"])
    if serial is None or salt is None:
        raise StateError("serial and salt are required")
    return AppletState(
        serial=serial,
        profile=Profile[obj["profile"]],
        salt=salt,
        policy=SecretPolicy(
            signing_password_tries=int(obj["policy"]["signing_password_tries"]),
            auth_pin_tries=int(obj["policy"]["auth_pin_tries"]),
        ),
        lifecycle=Lifecycle(obj["lifecycle"]),
        kdf_iterations=int(obj["kdf_iterations"]),
        sign=_decode_slot(obj["sign"]),
        auth=_decode_slot(obj["auth"]),
        biometric=_unb(obj["biometric"]),
        attestation_key=_unb(obj["attestation_key"]),
        attestation_certificate=_unb(obj["attestation_certificate"]),
        instruction_key=_unb(obj["instruction_key"]),
    )


def set_secret(state: AppletState, slot: Slot, value: bytes) -> AppletState:
    """A new secret with a full counter (CHANGE REFERENCE DATA, or a reset instruction)."""
    digest = hash_secret(value, salt=state.salt, label=label(slot), iterations=state.kdf_iterations)
    counter = RetryCounter.full(state.policy.tries(slot))
    return state.with_slot(slot, replace(state.slot(slot), secret=StoredSecret(digest, counter)))
