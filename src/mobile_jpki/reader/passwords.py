"""Host-side checks of JPKI secrets, applied before anything reaches the card.

JPKI-FACTS.md "Passwords and PINs": a signing password is 6-16 half-width characters from A-Z and
0-9 and mixes letters and digits; the official apps upper-case lowercase input before VERIFY (the
applet compares bytes). A user-authentication PIN is 4 digits. Checking here means a typo never
costs one of the 5 (or 3) tries.
"""

from __future__ import annotations

import re

from mobile_jpki.reader.errors import InvalidSecret

_SIGN_RE = re.compile(r"[A-Z0-9]{6,16}")
_PIN_RE = re.compile(r"[0-9]{4}")


def normalise_sign_password(password: str) -> str:
    """Upper-case and validate a signing password; raise :class:`InvalidSecret` if malformed."""
    value = password.upper() if password.isascii() else password
    if not _SIGN_RE.fullmatch(value):
        raise InvalidSecret(
            "a signing password is 6-16 half-width characters, letters A-Z and digits 0-9 only"
        )
    if value.isdigit() or value.isalpha():
        raise InvalidSecret("a signing password must mix letters and digits")
    return value


def validate_auth_pin(pin: str) -> str:
    """Validate a user-authentication PIN (exactly 4 half-width digits)."""
    if not (pin.isascii() and _PIN_RE.fullmatch(pin)):
        raise InvalidSecret("a user-authentication PIN is exactly 4 digits")
    return pin
