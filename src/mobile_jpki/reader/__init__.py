"""The host side of the JPKI applet: connections, typed commands, card-backed keys, devices.

- :mod:`.connection` ``CardConnection`` (raw APDUs) and ``InProcessConnection``;
  :mod:`.pcsc` ``PcscConnection`` (real readers); :mod:`.vpcd` ``VpcdBridge`` (emulator → PC/SC)
- :mod:`.commands` ``JpkiClient``: typed JPKI commands over any connection
- :mod:`.key` ``ApduRSAPrivateKey``: a ``cryptography`` RSA key whose ``sign()`` runs on the chip
- :mod:`.emulated`, :mod:`.statefile`: emulated devices in a data directory
- :mod:`.personalise`: card issuance and the phone's application/registration, device side
- :mod:`.errors`: one error hierarchy, status words included
"""

from __future__ import annotations

from .commands import EF, SLOTS, GeneratedKey, JpkiClient, build_apdu
from .connection import CardConnection, InProcessConnection, TracingConnection
from .errors import (
    ApduError,
    AuthenticationMethodBlocked,
    ConditionsNotSatisfied,
    FileNotFound,
    IncorrectData,
    InvalidSecret,
    NoCard,
    NoReader,
    NotSupported,
    ReaderError,
    SecretBlocked,
    SecurityStatusNotSatisfied,
    TransportError,
    WrongLength,
    WrongSecret,
)
from .key import ApduRSAPrivateKey, KeyNotExtractable

__all__ = [
    "EF",
    "SLOTS",
    "ApduError",
    "ApduRSAPrivateKey",
    "AuthenticationMethodBlocked",
    "CardConnection",
    "ConditionsNotSatisfied",
    "FileNotFound",
    "GeneratedKey",
    "InProcessConnection",
    "IncorrectData",
    "InvalidSecret",
    "JpkiClient",
    "KeyNotExtractable",
    "NoCard",
    "NoReader",
    "NotSupported",
    "ReaderError",
    "SecretBlocked",
    "SecurityStatusNotSatisfied",
    "TracingConnection",
    "TransportError",
    "WrongLength",
    "WrongSecret",
    "build_apdu",
]
