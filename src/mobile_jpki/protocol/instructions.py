"""Signed management instructions (docs/apdu.md "Signed management instructions").

Producer side (:func:`build_instruction`, :func:`with_new_secrets`, :func:`instruction_apdu`)
for the issuer, the portal service and the phone, and the parser the applet uses. Pure: keys,
time and challenges are handed in.

Every instruction is bound to the element's last GET CHALLENGE (tag 83), so it answers that
one challenge only and cannot be replayed; a deletion also names the certificates it deletes
(tags 84/85: SHA-256 of each certificate's DER), so a stale one cannot wipe a certificate
registered since (docs/security.md "Management instructions").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntFlag, StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from . import tlv
from .apdu import CLA_OF, CommandApdu, Ins
from .constants import SERIAL_LENGTH

TAG_BODY, TAG_SERIAL, TAG_ACTIONS, TAG_NOT_AFTER, TAG_CHALLENGE = 0xA0, 0x80, 0x81, 0x82, 0x83
# The certificates a deletion names, per slot: one or more SHA-256 digests of certificate DER,
# concatenated. 84 goes with action 01 (signing slot), 85 with action 02 (auth slot).
TAG_SIGN_CERTIFICATES, TAG_AUTH_CERTIFICATES = 0x84, 0x85
DIGEST_LENGTH = 32
MAX_NAMED = 64  # digests per slot: a device's whole history of one kind fits many times over
TAG_SIGNATURE, TAG_NEW_PASSWORD, TAG_NEW_PIN = 0x9E, 0xC1, 0xC2
_TIME_FORMAT = "%Y%m%d%H%M%SZ"


class Action(IntFlag):
    DELETE_SIGN = 0x01
    DELETE_AUTH = 0x02
    RESET_SIGN_PASSWORD = 0x10
    RESET_AUTH_PIN = 0x20
    ALLOW_REPERSONALISATION = 0x40

    @property
    def needs_challenge(self) -> bool:
        """Every action must be fresh: bound to a GET CHALLENGE. Deletions were once exempt
        (queued 48 hours ahead), which let a captured one be replayed (issue 16 §3)."""
        return bool(self)


ALL_ACTIONS = (
    Action.DELETE_SIGN
    | Action.DELETE_AUTH
    | Action.RESET_SIGN_PASSWORD
    | Action.RESET_AUTH_PIN
    | Action.ALLOW_REPERSONALISATION
)


class InstructionReason(StrEnum):
    """Why the service queued an instruction (``reason`` in the instructions API): the app
    names the cause on the old phone's notice, or carries the instruction out silently."""

    MODEL_CHANGE = "model-change"  # another phone applied: 48-hour deletion
    REVOKED_FROM_MY_PAGE = "revoked-from-my-page"  # 失効 from another phone: 48-hour deletion
    CARD_REPLACED = "card-replaced"  # the card was renewed or replaced: 48-hour deletion
    REISSUE_SIGNING = "reissue-signing"  # release after a hold: the signing slot is cleared
    PASSWORD_RESET = "password-reset"  # noqa: S105 - a reason, not a secret
    CLEAR_REVOKED = "clear-revoked"  # a phone that kept revoked certificates applies again


def certificate_digest(der: bytes) -> bytes:
    """How a deletion names a certificate: SHA-256 of its DER (what the element holds)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize()


class InstructionError(ValueError):
    """Malformed instruction (the applet answers 6A 80)."""


@dataclass(frozen=True)
class Instruction:
    body: bytes  # the whole encoded A0 element: what the signature covers
    target_serial: bytes
    actions: Action
    not_after: dt.datetime
    challenge: bytes | None
    signature: bytes
    new_signing_password: bytes | None = None
    new_auth_pin: bytes | None = None
    # Certificate digests named per slot (84, 85): empty unless that slot's deletion is ordered.
    sign_certificates: frozenset[bytes] = frozenset()
    auth_certificates: frozenset[bytes] = frozenset()

    def signature_valid(self, public_key: ec.EllipticCurvePublicKey) -> bool:
        try:
            public_key.verify(self.signature, self.body, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def _time(value: dt.datetime) -> bytes:
    if value.tzinfo is None:
        raise ValueError("not_after must be timezone-aware")
    return value.astimezone(dt.UTC).strftime(_TIME_FORMAT).encode("ascii")


def build_instruction(
    *,
    key: ec.EllipticCurvePrivateKey,
    target_serial: bytes,
    actions: Action,
    not_after: dt.datetime,
    challenge: bytes,
    sign_certificates: Iterable[bytes] = (),
    auth_certificates: Iterable[bytes] = (),
) -> bytes:
    """Sign an instruction: ``A0 {80 serial, 81 actions, 82 not-after, 83 challenge,
    [84 signing-slot digests], [85 auth-slot digests]} 9E sig``.

    ``challenge`` is the element's last GET CHALLENGE; a deletion names, per slot it deletes,
    the SHA-256 of each certificate it may find there (:func:`certificate_digest`). Append
    new secrets with :func:`with_new_secrets` when resetting a password or PIN.
    """
    if len(target_serial) != SERIAL_LENGTH:
        raise ValueError("target_serial must be 16 bytes")
    if not actions or actions & ~ALL_ACTIONS:
        raise ValueError(f"bad actions {actions!r}")
    if not challenge:
        raise ValueError("every instruction is bound to the element's challenge")
    inner = (
        tlv.encode(TAG_SERIAL, target_serial)
        + tlv.encode(TAG_ACTIONS, bytes((int(actions),)))
        + tlv.encode(TAG_NOT_AFTER, _time(not_after))
        + tlv.encode(TAG_CHALLENGE, challenge)
    )
    for tag, flag, named in (
        (TAG_SIGN_CERTIFICATES, Action.DELETE_SIGN, list(sign_certificates)),
        (TAG_AUTH_CERTIFICATES, Action.DELETE_AUTH, list(auth_certificates)),
    ):
        if bool(actions & flag) != bool(named):
            raise ValueError(f"action {int(flag):02x} goes with the certificates it deletes")
        if any(len(d) != DIGEST_LENGTH for d in named) or len(named) > MAX_NAMED:
            raise ValueError("certificates are named by 1 to 64 SHA-256 digests")
        if named:
            inner += tlv.encode(tag, b"".join(dict.fromkeys(named)))
    body = tlv.encode(TAG_BODY, inner)
    signature = key.sign(body, ec.ECDSA(hashes.SHA256()))
    return body + tlv.encode(TAG_SIGNATURE, signature)


def with_new_secrets(
    instruction: bytes,
    *,
    signing_password: str | bytes | None = None,
    auth_pin: str | bytes | None = None,
) -> bytes:
    """Append C1 (new signing password) and/or C2 (new auth PIN). These are not signed: the
    holder chooses them; the signed body and its challenge authorise the reset itself."""
    out = instruction
    if signing_password is not None:
        value = (
            signing_password.encode("ascii")
            if isinstance(signing_password, str)
            else signing_password
        )
        out += tlv.encode(TAG_NEW_PASSWORD, value)
    if auth_pin is not None:
        value = auth_pin.encode("ascii") if isinstance(auth_pin, str) else auth_pin
        out += tlv.encode(TAG_NEW_PIN, value)
    return out


def instruction_apdu(instruction: bytes) -> bytes:
    """``80 E4 00 00 <extended Lc> <instruction>``."""
    return CommandApdu(CLA_OF[Ins.MANAGE], Ins.MANAGE, 0, 0, instruction, extended=True).to_bytes()


def parse_instruction(data: bytes) -> Instruction:
    """Decode without checking signature, serial, time or challenge (the applet does)."""
    try:
        outer = tlv.parse(data)
        fields = tlv.unique(outer, {TAG_BODY, TAG_SIGNATURE, TAG_NEW_PASSWORD, TAG_NEW_PIN})
        if TAG_BODY not in fields or TAG_SIGNATURE not in fields:
            raise InstructionError("body and signature are required")
        if outer[0].tag != TAG_BODY or outer[1].tag != TAG_SIGNATURE:
            raise InstructionError("body must come first, then the signature")
        body_element = outer[0].encoded
        inner = tlv.unique(
            tlv.parse(fields[TAG_BODY]),
            {
                TAG_SERIAL,
                TAG_ACTIONS,
                TAG_NOT_AFTER,
                TAG_CHALLENGE,
                TAG_SIGN_CERTIFICATES,
                TAG_AUTH_CERTIFICATES,
            },
        )
    except tlv.TlvError as exc:
        raise InstructionError(str(exc)) from exc
    if not {TAG_SERIAL, TAG_ACTIONS, TAG_NOT_AFTER} <= inner.keys():
        raise InstructionError("serial, actions and not-after are required")
    raw_actions = inner[TAG_ACTIONS]
    if len(raw_actions) != 1 or not raw_actions[0] or raw_actions[0] & ~ALL_ACTIONS:
        raise InstructionError("actions must be one byte of known bits")
    raw_time = inner[TAG_NOT_AFTER]
    try:
        if len(raw_time) != 15:
            raise ValueError("length")
        not_after = dt.datetime.strptime(raw_time.decode("ascii"), _TIME_FORMAT).replace(
            tzinfo=dt.UTC
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise InstructionError("not-after must be YYYYMMDDHHMMSSZ") from exc
    actions = Action(raw_actions[0])
    new_password = fields.get(TAG_NEW_PASSWORD)
    new_pin = fields.get(TAG_NEW_PIN)
    if (new_password is not None) != bool(actions & Action.RESET_SIGN_PASSWORD):
        raise InstructionError("C1 goes with action 10, and only with it")
    if (new_pin is not None) != bool(actions & Action.RESET_AUTH_PIN):
        raise InstructionError("C2 goes with action 20, and only with it")
    named = {}
    for tag, flag in (
        (TAG_SIGN_CERTIFICATES, Action.DELETE_SIGN),
        (TAG_AUTH_CERTIFICATES, Action.DELETE_AUTH),
    ):
        raw = inner.get(tag)
        if (raw is not None) != bool(actions & flag):
            raise InstructionError(f"{tag:02X} goes with action {int(flag):02x}, and only with it")
        digests = raw or b""
        if raw is not None and (
            not digests or len(digests) % DIGEST_LENGTH or len(digests) > MAX_NAMED * DIGEST_LENGTH
        ):
            raise InstructionError("certificates are named by 1 to 64 SHA-256 digests")
        named[tag] = frozenset(
            digests[i : i + DIGEST_LENGTH] for i in range(0, len(digests), DIGEST_LENGTH)
        )
    return Instruction(
        body=body_element,
        target_serial=inner[TAG_SERIAL],
        actions=actions,
        not_after=not_after,
        challenge=inner.get(TAG_CHALLENGE),
        signature=fields[TAG_SIGNATURE],
        new_signing_password=new_password,
        new_auth_pin=new_pin,
        sign_certificates=named[TAG_SIGN_CERTIFICATES],
        auth_certificates=named[TAG_AUTH_CERTIFICATES],
    )
