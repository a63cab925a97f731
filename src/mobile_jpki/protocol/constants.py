"""Identifiers of the JPKI AP: AIDs, ATR, elementary files, key slots, token labels
(docs/apdu.md "Applications and answer to reset", "Elementary files")."""

from __future__ import annotations

from enum import Enum, IntEnum

from mobile_jpki.pki.model import Hierarchy

JPKI_AID = bytes.fromhex("D392F000260100000001")
"""JPKI AP (公的個人認証AP)."""

KENMEN_NYURYOKU_AID = bytes.fromhex("D3921000310001010408")
"""券面入力補助AP: not emulated (SELECT answers 6A 82)."""

KENMEN_KAKUNIN_AID = bytes.fromhex("D3921000310001010402")
"""券面確認AP: not emulated."""

ATR = bytes.fromhex("3BE000FF8131FE4514")
"""Contact ATR of the card; the secure element shows the same bytes through vpcd."""

SERIAL_LENGTH = 16
"""EF 0021 (ours): the applet's serial, the target of management instructions."""
TOKEN_INFO_LENGTH = 32
CERTS_PRESENT_LENGTH = 3
PRESENT = 0x8F
"""EF 0008 "which certificates are present": one byte per slot (signing, auth), 8F when present."""


class EF(IntEnum):
    """Elementary file identifiers of the JPKI AP."""

    SIGN_CERT = 0x0001
    SIGN_CA_CERT = 0x0002
    TOKEN_INFO = 0x0006
    CERTS_PRESENT = 0x0008
    AUTH_CERT = 0x000A
    AUTH_CA_CERT = 0x000B
    AUTH_KEY = 0x0017
    AUTH_PIN = 0x0018
    SIGN_KEY = 0x001A
    SIGN_PASSWORD = 0x001B
    ATTESTATION_CERT = 0x0020  # ours, phone only
    SERIAL = 0x0021  # ours
    INSTRUCTION_KEY = 0x0022  # ours


class Slot(Enum):
    """A key slot: its key, certificate, CA certificate and the secret guarding the key.

    One per JPKI hierarchy, with the same value (``Slot(hierarchy.value)``)."""

    SIGN = "sign"
    AUTH = "auth"

    @classmethod
    def of_hierarchy(cls, hierarchy: Hierarchy) -> Slot:
        return cls.SIGN if hierarchy is Hierarchy.SIGN else cls.AUTH

    @property
    def hierarchy(self) -> Hierarchy:
        return Hierarchy.SIGN if self is Slot.SIGN else Hierarchy.AUTH

    @property
    def key_ef(self) -> EF:
        return EF.SIGN_KEY if self is Slot.SIGN else EF.AUTH_KEY

    @property
    def cert_ef(self) -> EF:
        return EF.SIGN_CERT if self is Slot.SIGN else EF.AUTH_CERT

    @property
    def ca_ef(self) -> EF:
        return EF.SIGN_CA_CERT if self is Slot.SIGN else EF.AUTH_CA_CERT

    @property
    def secret_ef(self) -> EF:
        return EF.SIGN_PASSWORD if self is Slot.SIGN else EF.AUTH_PIN

    @property
    def role(self) -> int:
        """Role byte bound into a key attestation: 01 signing, 02 auth (docs/apdu.md)."""
        return 0x01 if self is Slot.SIGN else 0x02

    @property
    def max_tries(self) -> int:
        """The card's tries for this slot's secret: 5 for the signing password, 3 for the
        user-authentication PIN (JPKI-FACTS.md "Passwords and PINs")."""
        return 5 if self is Slot.SIGN else 3

    @classmethod
    def of(cls, ef: int) -> Slot | None:
        for slot in cls:
            if ef in (slot.key_ef, slot.cert_ef, slot.ca_ef, slot.secret_ef):
                return slot
        return None


KEY_EFS = frozenset({EF.SIGN_KEY, EF.AUTH_KEY})
SECRET_EFS = frozenset({EF.SIGN_PASSWORD, EF.AUTH_PIN})
EE_CERT_EFS = frozenset({EF.SIGN_CERT, EF.AUTH_CERT})
CA_CERT_EFS = frozenset({EF.SIGN_CA_CERT, EF.AUTH_CA_CERT})


class Profile(Enum):
    """Where the applet lives; the value is the token label in EF 0006."""

    CARD = "JPKIAPICCTOKEN2"
    PHONE_ANDROID = "JPKIAPGPSETOKEN"
    PHONE_IOS = "JPKIAPIOSTOKEN"

    @property
    def is_phone(self) -> bool:
        return self is not Profile.CARD

    @property
    def token_info(self) -> bytes:
        """EF 0006: the label padded with spaces to 32 bytes."""
        return self.value.encode("ascii").ljust(TOKEN_INFO_LENGTH, b" ")
