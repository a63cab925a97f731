"""Signed management instructions (docs/apdu.md "Signed management instructions").

Producer side (:func:`build_instruction`, :func:`with_new_secrets`, :func:`instruction_apdu`)
for the issuer, the portal service and the phone, and the parser the applet uses. Pure: keys,
time and challenges are handed in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntFlag, StrEnum

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from . import tlv
from .apdu import CLA_OF, CommandApdu, Ins
from .constants import SERIAL_LENGTH

TAG_BODY, TAG_SERIAL, TAG_ACTIONS, TAG_NOT_AFTER, TAG_CHALLENGE = 0xA0, 0x80, 0x81, 0x82, 0x83
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
        """Actions that change secrets or keys must be fresh: bound to a GET CHALLENGE."""
        risky = Action.RESET_SIGN_PASSWORD | Action.RESET_AUTH_PIN | Action.ALLOW_REPERSONALISATION
        return bool(self & risky)


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
    challenge: bytes | None = None,
) -> bytes:
    """Sign an instruction: ``A0 {80 serial, 81 actions, 82 not-after, [83 challenge]} 9E sig``.

    Append new secrets with :func:`with_new_secrets` when resetting a password or PIN.
    """
    if len(target_serial) != SERIAL_LENGTH:
        raise ValueError("target_serial must be 16 bytes")
    if not actions or actions & ~ALL_ACTIONS:
        raise ValueError(f"bad actions {actions!r}")
    if actions.needs_challenge and not challenge:
        raise ValueError("actions 10, 20 and 40 need the card's challenge")
    inner = (
        tlv.encode(TAG_SERIAL, target_serial)
        + tlv.encode(TAG_ACTIONS, bytes((int(actions),)))
        + tlv.encode(TAG_NOT_AFTER, _time(not_after))
    )
    if challenge is not None:
        inner += tlv.encode(TAG_CHALLENGE, challenge)
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
            tlv.parse(fields[TAG_BODY]), {TAG_SERIAL, TAG_ACTIONS, TAG_NOT_AFTER, TAG_CHALLENGE}
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
    return Instruction(
        body=body_element,
        target_serial=inner[TAG_SERIAL],
        actions=actions,
        not_after=not_after,
        challenge=inner.get(TAG_CHALLENGE),
        signature=fields[TAG_SIGNATURE],
        new_signing_password=new_password,
        new_auth_pin=new_pin,
    )
