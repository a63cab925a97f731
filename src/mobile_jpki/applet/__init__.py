"""The JPKI AP of the My Number Card and of the phone secure element, as a pure APDU state
machine (docs/apdu.md): the emulator. No I/O: time, randomness, keys and storage are handed in.

What crosses the wire — APDUs, status words, file identifiers, key attestations, management
instructions — is :mod:`mobile_jpki.protocol`, shared with the reader, the phone and the portal.
"""

from __future__ import annotations

from .errors import AppletError
from .factory import new_card, new_secure_element
from .jpki import JpkiApplet, Session, generate_rsa_key
from .manufacturer import Manufacturer
from .secrets import (
    RetryCounter,
    SecretPolicy,
    is_valid_auth_pin,
    is_valid_signing_password,
)
from .signing import sign_digest_info
from .state import AppletState, Lifecycle, MemoryStateStore, StateError, StateStore

__all__ = [
    "AppletError",
    "AppletState",
    "JpkiApplet",
    "Lifecycle",
    "Manufacturer",
    "MemoryStateStore",
    "RetryCounter",
    "SecretPolicy",
    "Session",
    "StateError",
    "StateStore",
    "generate_rsa_key",
    "is_valid_auth_pin",
    "is_valid_signing_password",
    "new_card",
    "new_secure_element",
    "sign_digest_info",
]
