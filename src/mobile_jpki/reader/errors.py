"""The host side's one error hierarchy: every refusal of the card carries its status word.

A caller that only cares "did the card say no" catches :class:`ApduError`; one that must tell a
wrong password from a blocked one catches the subclass. Status words are ISO 7816-4 §5.6 (table 5
and 6); the JPKI meanings are in docs/apdu.md.
"""

from __future__ import annotations

from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.apdu import SW, is_wrong_secret
from mobile_jpki.protocol.apdu import tries_left as _tries_left


def secret_name(secret: Hierarchy | None) -> str:
    """What a person calls the secret of a slot: the signing key's is the 6-16 character
    password (パスワード), the user-authentication key's the 4-digit PIN (暗証番号)."""
    if secret is None:
        return "password or PIN"
    return "password" if secret is Hierarchy.SIGN else "PIN"


class ReaderError(Exception):
    """Base of everything raised by :mod:`mobile_jpki.reader`."""


class TransportError(ReaderError):
    """The connection itself failed: no reader, no card, pcscd down, vpcd gone."""


class NoReader(TransportError):
    """No PC/SC reader (or none with the requested name) is available."""


class NoCard(TransportError):
    """The reader is there but holds no card (or the card does not answer)."""


class InvalidSecret(ReaderError, ValueError):
    """A secret was refused on the host before it reached the card: a typo never costs a try."""

    def __init__(self, message: str) -> None:
        super().__init__(message)


class ApduError(ReaderError):
    """The card answered a status word other than ``90 00``."""

    def __init__(self, sw: int, message: str | None = None) -> None:
        self.sw = sw
        super().__init__(message or f"card refused the command: SW {sw:04X}")

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF


class WrongSecret(ApduError):
    """``63 Cx``: wrong password/PIN, ``x`` tries left (ISO 7816-4 §5.6, SW2 ``Cx``).

    ``secret`` is the slot the VERIFY named (its P2/current EF): the status word alone does not
    say which secret was wrong, the command does, so :meth:`JpkiClient.verify` fills it in."""

    def __init__(self, tries_left: int, secret: Hierarchy | None = None) -> None:
        self.tries_left = tries_left
        self.secret = secret
        super().__init__(
            _tries_left(tries_left), f"wrong {secret_name(secret)} ({tries_left} tries left)"
        )


class SecretBlocked(ApduError):
    """``69 84``: the secret is blocked (reference data not usable); ``secret`` as above."""

    def __init__(
        self, sw: int = SW.REFERENCE_DATA_BLOCKED, secret: Hierarchy | None = None
    ) -> None:
        self.secret = secret
        super().__init__(sw, f"the {secret_name(secret)} is blocked")


class AuthenticationMethodBlocked(ApduError):
    """``69 83``: e.g. biometrics while the auth PIN is blocked."""

    def __init__(self, sw: int = SW.AUTH_METHOD_BLOCKED) -> None:
        super().__init__(sw, "authentication method blocked")


class SecurityStatusNotSatisfied(ApduError):
    """``69 82``: verify the secret first (or a management instruction was refused)."""

    def __init__(self, sw: int = SW.SECURITY_STATUS_NOT_SATISFIED) -> None:
        super().__init__(sw, "security status not satisfied: verify the password or PIN first")


class ConditionsNotSatisfied(ApduError):
    """``69 85``: wrong lifecycle state (e.g. key generation on an operational card)."""

    def __init__(self, sw: int = SW.CONDITIONS_NOT_SATISFIED) -> None:
        super().__init__(sw, "conditions of use not satisfied (lifecycle state)")


class FileNotFound(ApduError):
    """``6A 82``: no such application or elementary file (or an empty certificate slot)."""

    def __init__(self, sw: int = SW.FILE_NOT_FOUND) -> None:
        super().__init__(sw, "file or application not found")


class WrongLength(ApduError):
    """``67 00``: Lc/Le outside what the command accepts."""

    def __init__(self, sw: int = SW.WRONG_LENGTH) -> None:
        super().__init__(sw, "wrong length")


class IncorrectData(ApduError):
    """``6A 80``: the data field was refused (bad certificate, bad secret format, malformed)."""

    def __init__(self, sw: int = SW.INCORRECT_DATA) -> None:
        super().__init__(sw, "incorrect data in the command")


class NotSupported(ApduError):
    """``6D 00``/``6E 00``/``6A 86``/``69 81``: the card does not do this."""


def error_for(sw: int) -> ApduError:
    """The most specific :class:`ApduError` for a status word."""
    if is_wrong_secret(sw):
        return WrongSecret(sw & 0x0F)
    cls = _SIMPLE.get(sw)
    if cls is not None:
        return cls(sw)
    if sw in _NOT_SUPPORTED:
        return NotSupported(sw)
    return ApduError(sw)


_SIMPLE: dict[int, type[ApduError]] = {
    SW.REFERENCE_DATA_BLOCKED: SecretBlocked,
    SW.AUTH_METHOD_BLOCKED: AuthenticationMethodBlocked,
    SW.SECURITY_STATUS_NOT_SATISFIED: SecurityStatusNotSatisfied,
    SW.CONDITIONS_NOT_SATISFIED: ConditionsNotSatisfied,
    SW.FILE_NOT_FOUND: FileNotFound,
    SW.WRONG_LENGTH: WrongLength,
    SW.INCORRECT_DATA: IncorrectData,
}
_NOT_SUPPORTED = frozenset(
    {SW.INS_NOT_SUPPORTED, SW.CLA_NOT_SUPPORTED, SW.WRONG_P1P2, SW.INCOMPATIBLE_FILE}
)
