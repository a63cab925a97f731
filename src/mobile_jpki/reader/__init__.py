"""The host side of the JPKI applet: connections, typed commands, card-backed keys, devices.

- :mod:`.connection` ``CardConnection`` (raw APDUs) and ``InProcessConnection``;
  :mod:`.pcsc` ``PcscConnection`` (real readers); :mod:`.vpcd` ``VpcdBridge`` (emulator → PC/SC)
- :mod:`.commands` ``JpkiClient``: typed JPKI commands over any connection
- :mod:`.key` ``ApduRSAPrivateKey``: a ``cryptography`` RSA key whose ``sign()`` runs on the chip
- :mod:`.emulated`, :mod:`.statefile`: emulated devices in a data directory
- :mod:`.personalise`: card issuance and the phone's application/registration, device side
- :mod:`.errors`: one error hierarchy, status words included

What the reader and the applet say to each other (APDUs, status words, EFs, attestations,
instructions) is :mod:`mobile_jpki.protocol`. ``__all__`` is this package's API; the names are
loaded on first use (``mobile_jpki._lazy``), so a host that talks to a card in process loads no
PC/SC or vpcd code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobile_jpki._lazy import lazy_exports

if TYPE_CHECKING:
    from .commands import JpkiClient
    from .connection import CardConnection, InProcessConnection, TracingConnection
    from .emulated import (
        DeviceError,
        DeviceExists,
        DeviceKind,
        DeviceNotFound,
        InvalidDeviceId,
        create_card,
        create_phone,
        device_path,
        list_devices,
        load_or_create_manufacturer,
        open_card,
        open_device,
        open_phone,
        remove_card,
        validate_id,
    )
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
        secret_name,
    )
    from .key import ApduRSAPrivateKey, KeyNotExtractable
    from .passwords import normalise_sign_password, validate_auth_pin
    from .pcsc import PcscConnection
    from .pcscd import PrivatePcscd, unavailable_reason, wait_for_card
    from .personalise import (
        PersonalisationError,
        PersonalisedCard,
        PhoneApplication,
        apply_phone,
        personalise_card,
        register_phone,
    )
    from .statefile import StaleState, StateFile, StateFileError
    from .vpcd import DEFAULT_HOST, DEFAULT_PORT, VpcdBridge, serve_until_signalled

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "ApduError",
    "ApduRSAPrivateKey",
    "AuthenticationMethodBlocked",
    "CardConnection",
    "ConditionsNotSatisfied",
    "DeviceError",
    "DeviceExists",
    "DeviceKind",
    "DeviceNotFound",
    "FileNotFound",
    "InProcessConnection",
    "IncorrectData",
    "InvalidDeviceId",
    "InvalidSecret",
    "JpkiClient",
    "KeyNotExtractable",
    "NoCard",
    "NoReader",
    "NotSupported",
    "PcscConnection",
    "PersonalisationError",
    "PersonalisedCard",
    "PhoneApplication",
    "PrivatePcscd",
    "ReaderError",
    "SecretBlocked",
    "SecurityStatusNotSatisfied",
    "StaleState",
    "StateFile",
    "StateFileError",
    "TracingConnection",
    "TransportError",
    "VpcdBridge",
    "WrongLength",
    "WrongSecret",
    "apply_phone",
    "create_card",
    "create_phone",
    "device_path",
    "list_devices",
    "load_or_create_manufacturer",
    "normalise_sign_password",
    "open_card",
    "open_device",
    "open_phone",
    "personalise_card",
    "register_phone",
    "remove_card",
    "secret_name",
    "serve_until_signalled",
    "unavailable_reason",
    "validate_auth_pin",
    "validate_id",
    "wait_for_card",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "commands": ("JpkiClient",),
        "connection": ("CardConnection", "InProcessConnection", "TracingConnection"),
        "emulated": (
            "DeviceError",
            "DeviceExists",
            "DeviceKind",
            "DeviceNotFound",
            "InvalidDeviceId",
            "create_card",
            "create_phone",
            "device_path",
            "list_devices",
            "load_or_create_manufacturer",
            "open_card",
            "open_device",
            "open_phone",
            "remove_card",
            "validate_id",
        ),
        "errors": (
            "ApduError",
            "AuthenticationMethodBlocked",
            "ConditionsNotSatisfied",
            "FileNotFound",
            "IncorrectData",
            "InvalidSecret",
            "NoCard",
            "NoReader",
            "NotSupported",
            "ReaderError",
            "SecretBlocked",
            "SecurityStatusNotSatisfied",
            "TransportError",
            "WrongLength",
            "WrongSecret",
            "secret_name",
        ),
        "key": ("ApduRSAPrivateKey", "KeyNotExtractable"),
        "passwords": ("normalise_sign_password", "validate_auth_pin"),
        "pcsc": ("PcscConnection",),
        "pcscd": ("PrivatePcscd", "unavailable_reason", "wait_for_card"),
        "personalise": (
            "PersonalisationError",
            "PersonalisedCard",
            "PhoneApplication",
            "apply_phone",
            "personalise_card",
            "register_phone",
        ),
        "statefile": ("StaleState", "StateFile", "StateFileError"),
        "vpcd": ("DEFAULT_HOST", "DEFAULT_PORT", "VpcdBridge", "serve_until_signalled"),
    },
)
