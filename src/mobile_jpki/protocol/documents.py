"""The documents a phone signs (the card or the phone key signs them inside CMS SignedData)
and the portal reads (docs/portal.md "Signed documents").

Each is canonical JSON (sorted keys, UTF-8, no spaces) so the app and the service agree on the
bytes; ``type`` keeps a signature made for one purpose from being replayed for another, and the
single-use ``nonce`` plus ``device_id`` bind it to one request of one device. A document that
does not parse raises :class:`DocumentError`; the portal answers it as its own refusal.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mobile_jpki.pki.model import CertKind


class DocumentError(ValueError):
    """The bytes are not a valid document of the expected type (or not base64)."""


class DocType(StrEnum):
    APPLICATION = "mobile-jpki/phone-application"
    PHONE_REVOCATION = "mobile-jpki/phone-revocation"
    REVOKE_OTHER_DEVICE = "mobile-jpki/revoke-other-device"
    RELEASE_HOLD = "mobile-jpki/release-hold"
    PASSWORD_RESET = "mobile-jpki/password-reset"  # noqa: S105 (a document type)
    HOLDER_INQUIRY = "mobile-jpki/holder-inquiry"


class ApplicationKind(StrEnum):
    """Why a phone applies: 「スマホ用電子証明書を申請する」, 「機種変更」, or the signing
    certificate again after a released hold."""

    FIRST = "first"  # スマホ用電子証明書を申請する
    MODEL_CHANGE = "model-change"  # 機種変更
    REISSUE = "reissue"  # the signing certificate after a released hold


T = TypeVar("T", bound=BaseModel)

PhoneKind = Literal["phone-sign", "phone-auth"]


class AttestedKey(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    spki: str  # base64 SubjectPublicKeyInfo DER
    attestation: str  # base64 ECDSA signature by the element's attestation key

    @field_validator("spki", "attestation")
    @classmethod
    def _base64(cls, value: str) -> str:
        # Checked when the document is read, so the accessors below cannot fail later. The
        # text itself is kept: the signature covers it.
        b64decode(value)
        return value

    def spki_der(self) -> bytes:
        return b64decode(self.spki)

    def attestation_der(self) -> bytes:
        return b64decode(self.attestation)


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str = Field(min_length=1, max_length=64)
    nonce: str = Field(min_length=32, max_length=64, pattern="^[0-9a-f]+$")
    signed_at: dt.datetime

    @field_validator("signed_at")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("signed_at needs a time zone")
        return value.astimezone(dt.UTC)


class ApplicationDoc(_Doc):
    type: Literal[DocType.APPLICATION] = DocType.APPLICATION
    version: Literal[1] = 1
    application: ApplicationKind
    certificates: list[PhoneKind] = Field(min_length=1, max_length=2)
    terms_version: str = Field(min_length=1, max_length=32)
    revoke_other_device: bool
    keys: dict[PhoneKind, AttestedKey]

    def kinds(self) -> list[CertKind]:
        return [CertKind(k) for k in self.certificates]


class RevocationDoc(_Doc):
    """失効 from the phone itself, signed by the phone's key, or of another phone from my page
    (then signed by the card)."""

    type: Literal[DocType.PHONE_REVOCATION, DocType.REVOKE_OTHER_DEVICE]
    version: Literal[1] = 1
    certificates: list[PhoneKind] = Field(min_length=1, max_length=2)


class ReleaseDoc(_Doc):
    type: Literal[DocType.RELEASE_HOLD] = DocType.RELEASE_HOLD
    version: Literal[1] = 1


class InquiryDoc(_Doc):
    """⑧: does another phone of the card's holder hold certificates? Card-signed, so only
    the card's holder (who knows its signing password) learns the answer."""

    type: Literal[DocType.HOLDER_INQUIRY] = DocType.HOLDER_INQUIRY
    version: Literal[1] = 1


class ResetDoc(_Doc):
    type: Literal[DocType.PASSWORD_RESET] = DocType.PASSWORD_RESET
    version: Literal[1] = 1
    certificate: PhoneKind
    element_challenge: str = Field(min_length=16, max_length=64, pattern="^[0-9a-f]+$")


def canonical(doc: BaseModel) -> bytes:
    """The bytes to sign: sorted-key compact JSON of the document."""
    data = doc.model_dump(mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse(model: type[T], content: bytes) -> T:
    """Read a signed document's content as ``model``; :class:`DocumentError` if it is not one."""
    try:
        raw: Any = json.loads(content.decode("utf-8"))
        return model.model_validate(raw)
    except (UnicodeDecodeError, ValueError, ValidationError) as exc:
        raise DocumentError(f"the signed document is not a valid {model.__name__}: {exc}") from None


def b64decode(value: str) -> bytes:
    """Strict base64 (RFC 4648 §4, no line breaks or stray characters)."""
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise DocumentError("bad base64") from None


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")
