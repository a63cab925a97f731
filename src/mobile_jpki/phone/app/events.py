"""What a person (or the phone's OS) does to the app: the events :meth:`.flows.PhoneApp.dispatch`
takes."""

from __future__ import annotations

from dataclasses import dataclass

from mobile_jpki.phone.app.backend import PushKind


@dataclass(frozen=True)
class TypeText:
    field: str
    value: str


@dataclass(frozen=True)
class Toggle:
    checkbox: str


@dataclass(frozen=True)
class Press:
    button: str


@dataclass(frozen=True)
class TapCard:
    """The person holds the My Number Card against the phone (NFC)."""


@dataclass(frozen=True)
class PushReceived:
    kind: PushKind


@dataclass(frozen=True)
class TapBanner:
    pass


@dataclass(frozen=True)
class ComeOnline:
    """The phone is on a network with its screen on: it fetches its instructions."""


@dataclass(frozen=True)
class OpenLink:
    """The phone's OS hands the app a link: the web step's QR code or app link
    (``mobile-jpki-auth://authorize?url=…``), or a relying party's authorization URL. The
    デジタル認証アプリ opens the request it names."""

    url: str


Event = TypeText | Toggle | Press | TapCard | PushReceived | TapBanner | ComeOnline | OpenLink
