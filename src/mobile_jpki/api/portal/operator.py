"""Operator API: the municipal office terminal (residents, cards, 異動) and the hotline
(一時利用停止). Authenticated by API keys (SHA-256 at rest)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from mobile_jpki.clock import ClockNotMovable, advance_clock, is_movable
from mobile_jpki.pki.identity import BasicFourFacts, IdentityError, Locality, Sex
from mobile_jpki.pki.model import CertKind
from mobile_jpki.protocol.documents import b64, b64decode
from mobile_jpki.service.portal.errors import Conflict, RequestInvalid

from .auth import Ctx, Operator

router = APIRouter(prefix="/operator/v1", tags=["operator"])


class FactsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    family_name: str = Field(min_length=1, max_length=100)
    given_name: str = Field(max_length=100)
    sex: Literal["male", "female", "unknown"]
    date_of_birth: dt.date
    address: str = Field(min_length=1, max_length=200)
    prefecture_romaji: str = Field(min_length=1, max_length=128)
    city_romaji: str = Field(min_length=1, max_length=128)
    name_substitute_flags: str | None = None
    address_substitute_flags: str | None = None

    def parse(self) -> tuple[BasicFourFacts, Locality]:
        try:
            facts = BasicFourFacts.create(
                family_name=self.family_name,
                given_name=self.given_name,
                sex={"male": Sex.MALE, "female": Sex.FEMALE, "unknown": Sex.UNKNOWN}[self.sex],
                date_of_birth=self.date_of_birth,
                address=self.address,
                name_substitute_flags=self.name_substitute_flags,
                address_substitute_flags=self.address_substitute_flags,
            )
            return facts, Locality(self.prefecture_romaji, self.city_romaji)
        except IdentityError as exc:
            # The field name only: the value is personal data and stays out of answers/logs.
            raise RequestInvalid(f"invalid {exc.field}", field=exc.field) from None


class PersonOut(BaseModel):
    person_id: str


class RevokedOut(BaseModel):
    serials: list[str]


class CardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    applet_serial: str = Field(pattern="^[0-9a-fA-F]{32}$")
    expires_at: dt.datetime


class CardOut(BaseModel):
    card_id: str
    # What the office certifies for this card: card-auth always, card-sign from age 15.
    certificates: list[str]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["card-sign", "card-auth"]
    public_key: str  # base64 SubjectPublicKeyInfo DER


class CardCertificateOut(BaseModel):
    certificate: str  # base64 DER


def _aware(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise RequestInvalid("times need a time zone")
    return value.astimezone(dt.UTC)


@router.post("/persons", status_code=201)
def register_person(body: FactsIn, ctx: Ctx, op: Operator) -> PersonOut:
    facts, locality = body.parse()
    pid = ctx.service.register_person(op, facts=facts, locality=locality, now=ctx.clock.now())
    return PersonOut(person_id=pid)


@router.put("/persons/{person_id}/facts")
def change_facts(person_id: str, body: FactsIn, ctx: Ctx, op: Operator) -> RevokedOut:
    """異動: every signing certificate of the person is revoked (affiliationChanged)."""
    facts, locality = body.parse()
    revoked = ctx.service.change_facts(
        op, person_id=person_id, facts=facts, locality=locality, now=ctx.clock.now()
    )
    return RevokedOut(serials=[format(s, "x") for s in revoked])


@router.post("/persons/{person_id}/cards", status_code=201)
def register_card(person_id: str, body: CardIn, ctx: Ctx, op: Operator) -> CardOut:
    card_id = ctx.service.register_card(
        op,
        person_id=person_id,
        applet_serial=bytes.fromhex(body.applet_serial),
        expires_at=_aware(body.expires_at),
        now=ctx.clock.now(),
    )
    kinds = ctx.service.card_certificates(op, card_id=card_id, now=ctx.clock.now())
    return CardOut(card_id=card_id, certificates=sorted(k.value for k in kinds))


@router.post("/cards/{card_id}/abandon")
def abandon_card(card_id: str, ctx: Ctx, op: Operator) -> RevokedOut:
    """A personalisation that failed: the card record is removed (or cancelled, with any
    certificate already issued for it revoked)."""
    revoked = ctx.service.abandon_card(op, card_id=card_id, now=ctx.clock.now())
    return RevokedOut(serials=[format(s, "x") for s in revoked])


@router.post("/cards/{card_id}/certificates", status_code=201)
def certify_card_key(card_id: str, body: KeyIn, ctx: Ctx, op: Operator) -> CardCertificateOut:
    try:
        key = serialization.load_der_public_key(b64decode(body.public_key))
    except ValueError:
        raise RequestInvalid("public_key is not SubjectPublicKeyInfo DER") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise RequestInvalid("card keys are RSA")
    cert = ctx.service.certify_card_key(
        op, card_id=card_id, kind=CertKind(body.kind), public_key=key, now=ctx.clock.now()
    )
    return CardCertificateOut(certificate=b64(cert.public_bytes(serialization.Encoding.DER)))


@router.post("/cards/{card_id}/replace")
def replace_card(card_id: str, ctx: Ctx, op: Operator) -> RevokedOut:
    """Card renewal or replacement: its certificates and the phone's are revoked."""
    revoked = ctx.service.replace_card(op, card_id=card_id, now=ctx.clock.now())
    return RevokedOut(serials=[format(s, "x") for s in revoked])


@router.post("/persons/{person_id}/phone-hold")
def hold_phone(person_id: str, ctx: Ctx, op: Operator) -> RevokedOut:
    """Hotline 一時利用停止: the person's phone certificates, and the card's, go on hold."""
    held = ctx.service.hold_phone(op, person_id=person_id, now=ctx.clock.now())
    return RevokedOut(serials=[format(s, "x") for s in held])


@router.post("/persons/{person_id}/card-release")
def release_card(person_id: str, ctx: Ctx, op: Operator) -> RevokedOut:
    """The office lifts the hold on the person's card: both its certificates are un-held."""
    released = ctx.service.release_card(op, person_id=person_id, now=ctx.clock.now())
    return RevokedOut(serials=[format(s, "x") for s in released])


class ClockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: int = Field(gt=0, le=10 * 366 * 86400)


class ClockOut(BaseModel):
    now: dt.datetime
    movable: bool


@router.get("/clock")
def clock(ctx: Ctx, op: Operator) -> ClockOut:
    """The service's time, and whether it may be moved (a sandbox data directory's clock)."""
    op.require("office")
    return ClockOut(now=ctx.clock.now(), movable=is_movable(ctx.clock))


@router.post("/clock/advance")
def advance(body: ClockIn, ctx: Ctx, op: Operator) -> ClockOut:
    """Sandbox only: move the service's clock forward (the 48-hour rule, for QA). A real CA's
    clock is the wall clock: refused with 409 (docs/cli.md "mobile-jpki clock")."""
    op.require("office")
    try:
        now = advance_clock(ctx.clock, dt.timedelta(seconds=body.seconds))
    except ClockNotMovable as exc:
        raise Conflict(f"{exc} (only a sandbox data directory's clock moves)") from None
    return ClockOut(now=now, movable=True)
