"""The JPKI AP of the My Number Card and of the phone secure element, as a pure APDU state
machine (docs/apdu.md). No I/O: time, randomness, keys and storage are handed in."""

from __future__ import annotations

from .apdu import SW, ApduParseError, AppletError, CommandApdu, response, split_response
from .attestation import (
    AttestationError,
    GeneratedKey,
    Manufacturer,
    element_serial,
    verify_key_attestation,
)
from .constants import (
    ATR,
    EF,
    JPKI_AID,
    KENMEN_KAKUNIN_AID,
    KENMEN_NYURYOKU_AID,
    SERIAL_LENGTH,
    Lifecycle,
    Profile,
    Slot,
)
from .factory import new_card, new_secure_element
from .instructions import (
    Action,
    Instruction,
    InstructionError,
    build_instruction,
    instruction_apdu,
    parse_instruction,
    with_new_secrets,
)
from .jpki import JpkiApplet, Session, generate_rsa_key
from .secrets import (
    RetryCounter,
    SecretPolicy,
    is_valid_auth_pin,
    is_valid_signing_password,
)
from .signing import sign_digest_info
from .state import AppletState, MemoryStateStore, StateError, StateStore

__all__ = [
    "ATR",
    "EF",
    "JPKI_AID",
    "KENMEN_KAKUNIN_AID",
    "KENMEN_NYURYOKU_AID",
    "SERIAL_LENGTH",
    "SW",
    "Action",
    "ApduParseError",
    "AppletError",
    "AppletState",
    "AttestationError",
    "CommandApdu",
    "GeneratedKey",
    "Instruction",
    "InstructionError",
    "JpkiApplet",
    "Lifecycle",
    "Manufacturer",
    "MemoryStateStore",
    "Profile",
    "RetryCounter",
    "SecretPolicy",
    "Session",
    "Slot",
    "StateError",
    "StateStore",
    "build_instruction",
    "element_serial",
    "generate_rsa_key",
    "instruction_apdu",
    "is_valid_auth_pin",
    "is_valid_signing_password",
    "new_card",
    "new_secure_element",
    "parse_instruction",
    "response",
    "sign_digest_info",
    "split_response",
    "verify_key_attestation",
    "with_new_secrets",
]
