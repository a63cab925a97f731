"""The CA's certificate rows as the portal reads them: the signer of a card-signed document,
the unrevoked certificates a model change or a retirement acts on, a device's phone
certificates and a person's certificates by kind and state. (Changing them is the CA's
business: the portal only reads them.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from mobile_jpki.pki.model import CertKind
from mobile_jpki.store import direct
from mobile_jpki.store.models import Certificate, CertRecordStatus

from .tables import CARD, CERT

PHONE_KIND_VALUES = (CertKind.PHONE_SIGN.value, CertKind.PHONE_AUTH.value)
CARD_KIND_VALUES = (CertKind.CARD_SIGN.value, CertKind.CARD_AUTH.value)


# --- hot: the application and the issuance job (Core, store.direct) -----------------------
@dataclass(frozen=True)
class SignerRow:
    """The stored certificate with a CMS signer's serial, and the card whose signing
    certificate it is (``card_id`` is None when it is no card's)."""

    der: bytes
    kind: str
    status: str
    not_before: dt.datetime
    not_after: dt.datetime
    card_id: str | None
    person_id: str | None
    card_status: str | None


_SIGNER = (
    select(
        CERT.c.der,
        CERT.c.kind,
        CERT.c.status,
        CERT.c.not_before,
        CERT.c.not_after,
        CARD.c.id,
        CARD.c.person_id,
        CARD.c.status,
    )
    .select_from(CERT.outerjoin(CARD, CARD.c.sign_serial == CERT.c.serial))
    .where(CERT.c.serial == bindparam("serial"))
    .limit(1)
)


def signer(conn: Connection, serial: str) -> SignerRow | None:
    found = direct.rows(conn, _SIGNER, {"serial": serial})
    return SignerRow(*found[0]) if found else None


@dataclass(frozen=True)
class UnrevokedCertificate:
    """What the issuance and the retirement of devices need to know of a certificate."""

    serial: str
    kind: str
    status: str  # good or held
    not_after: dt.datetime
    device_id: str | None


_UNREVOKED_CERTIFICATES = select(
    CERT.c.serial, CERT.c.kind, CERT.c.status, CERT.c.not_after, CERT.c.device_id
).where(
    CERT.c.status != CertRecordStatus.REVOKED.value,
    (CERT.c.serial.in_(bindparam("serials", expanding=True)))
    | (CERT.c.device_id.in_(bindparam("devices", expanding=True))),
)


def unrevoked_certificates(
    conn: Connection, serials: Sequence[str], devices: Sequence[str]
) -> list[UnrevokedCertificate]:
    """The unrevoked certificates among ``serials`` and those of ``devices``. (Revoking them
    is the CA's business: ``revoke_many`` reads them again, locked.)"""
    found = direct.rows(
        conn, _UNREVOKED_CERTIFICATES, {"serials": list(serials), "devices": list(devices)}
    )
    return [UnrevokedCertificate(*r) for r in found]


# --- the rest (statements over the mapped class, run by the Session) ----------------------
def certificate(s: Session, serial: str) -> Certificate | None:
    return s.get(Certificate, serial)


_PHONE_CERTIFICATES = select(Certificate).where(
    Certificate.device_id == bindparam("device"), Certificate.kind.in_(PHONE_KIND_VALUES)
)


def phone_certificates(s: Session, device_id: str) -> list[Certificate]:
    """Every phone certificate issued to the device, in any state."""
    return list(s.scalars(_PHONE_CERTIFICATES, {"device": device_id}))


_PERSON_UNREVOKED = select(Certificate).where(
    Certificate.person_id == bindparam("person"),
    Certificate.kind.in_(bindparam("kinds", expanding=True)),
    Certificate.status != CertRecordStatus.REVOKED.value,
)
_PERSON_IN_STATE = select(Certificate).where(
    Certificate.person_id == bindparam("person"),
    Certificate.kind.in_(bindparam("kinds", expanding=True)),
    Certificate.status == bindparam("status"),
)


def unrevoked_person_certificates(
    s: Session, person_id: str, kinds: Sequence[str]
) -> list[Certificate]:
    """The person's good and held certificates of ``kinds`` (異動 revokes them)."""
    return list(s.scalars(_PERSON_UNREVOKED, {"person": person_id, "kinds": list(kinds)}))


def good_person_certificates(s: Session, person_id: str, kinds: Sequence[str]) -> list[Certificate]:
    """The person's good certificates of ``kinds`` (the hotline holds them)."""
    params = {"person": person_id, "kinds": list(kinds), "status": CertRecordStatus.GOOD.value}
    return list(s.scalars(_PERSON_IN_STATE, params))


def held_card_certificates(s: Session, person_id: str) -> list[Certificate]:
    """The person's held card certificates, of any of the person's cards."""
    params = {
        "person": person_id,
        "kinds": list(CARD_KIND_VALUES),
        "status": CertRecordStatus.HELD.value,
    }
    return list(s.scalars(_PERSON_IN_STATE, params))


_HOLDING_DEVICES = (
    select(Certificate.device_id)
    .where(
        Certificate.person_id == bindparam("person"),
        Certificate.kind.in_(PHONE_KIND_VALUES),
        Certificate.status != CertRecordStatus.REVOKED.value,
    )
    .distinct()
)


def devices_with_unrevoked_phone_certificates(s: Session, person_id: str) -> list[str]:
    """The devices holding unrevoked phone certificates of the person, sorted (the CA's rows,
    not the holder flag)."""
    return sorted(d for d in s.scalars(_HOLDING_DEVICES, {"person": person_id}) if d is not None)
