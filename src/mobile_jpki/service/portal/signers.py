"""The checks every card-signed document goes through: the signing time, the signer's chain
to a signing root of this CA, and the card behind the signer (known, good, in validity, the
card not replaced)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from sqlalchemy.orm import Session

from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.store.models import CertRecordStatus, serial_hex
from mobile_jpki.store.portal import CardStatus

from . import errors as E
from . import repo as Q
from .context import Context


@dataclass(frozen=True)
class SigningCard:
    """The card whose signing certificate signed a document."""

    card_id: str
    person_id: str
    serial: str  # of the card's signing certificate (hex)


def check_time(ctx: Context, signed_at: dt.datetime, now: dt.datetime) -> None:
    if abs(signed_at - now) > ctx.config.signing_skew:
        raise E.StaleSignature("signed_at is too far from the service's time")


def _issued_by(cert: x509.Certificate, root: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_signing_root(ctx: Context, signer: x509.Certificate) -> None:
    """The signer is issued by a signing root of this CA (matched by key identifier,
    RFC 5280 §4.2.1.1). Signature checks only: run it before opening a transaction."""
    if not any(_issued_by(signer, root) for root in ctx.roots(Hierarchy.SIGN)) and not any(
        _issued_by(signer, root) for root in ctx.roots(Hierarchy.SIGN, refresh=True)
    ):
        raise E.CardCertificateUnknown("the signer does not chain to a signing root")


def card_of_signer(
    ctx: Context,
    s: Session,
    signer: x509.Certificate,
    now: dt.datetime,
    *,
    chain_checked: bool = False,
    allow_held: bool = False,
) -> SigningCard:
    """The card whose signing certificate made the signature: known to the CA (the stored
    DER, one query with its card), issued by a signing root, good and in validity (or on
    hold, with ``allow_held``: the release of a hotline hold is signed with a held card)."""
    serial = serial_hex(signer.serial_number)
    row = Q.signer(s.connection(), serial)
    if (
        row is None
        or row.der != signer.public_bytes(serialization.Encoding.DER)
        or row.kind != CertKind.CARD_SIGN.value
    ):
        raise E.CardCertificateUnknown(
            "the signer is not a card signing certificate of this service"
        )
    if not chain_checked:
        check_signing_root(ctx, signer)
    if row.status == CertRecordStatus.REVOKED.value:
        raise E.CardCertificateRevoked("the card's signing certificate is revoked")
    if row.status == CertRecordStatus.HELD.value and not allow_held:
        raise E.CardCertificateHeld("the card's signing certificate is suspended")
    if not row.not_before <= now <= row.not_after:
        raise E.CardCertificateExpired("the card's signing certificate is not valid now")
    if row.card_id is None or row.person_id is None or row.card_status != CardStatus.ACTIVE.value:
        raise E.CardCertificateRevoked("the card was replaced")
    return SigningCard(row.card_id, row.person_id, serial)
