"""The municipal office terminal, scripted: register a resident and personalise a My Number
Card through APDUs, the portal's authority certifying the keys the card generates on chip.

It lives beside the app because it is the same kind of client: HTTP to the portal
(:class:`~mobile_jpki.phone.client.OperatorClient`), APDUs to the card
(:func:`~mobile_jpki.reader.personalise.personalise_card`)."""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.personalise import PersonalisedCard, personalise_card

from .client import OperatorClient, PortalClient


def issue_card(
    operator: OperatorClient,
    portal: PortalClient,
    card: JpkiClient,
    *,
    person_id: str,
    expires_at: dt.datetime,
    sign_password: str | Callable[[], str] | None,
    auth_pin: str,
    card_instruction_key: ec.EllipticCurvePublicKey,
) -> tuple[str, PersonalisedCard]:
    """Register the card, then personalise it with the certificates the service says the
    person gets (no signing certificate under 15): each on-chip key is certified by the
    service. ``card_instruction_key`` is the issuer's key for the card's management
    instructions (the office's unblock); the phone's instruction key is the portal's.

    If personalisation fails, the card record is abandoned (removed, or cancelled with what
    was issued revoked) before the error propagates: no half-made card stays active."""
    card.select_ap()
    serial = card.serial()
    card_id, kinds = operator.register_card_for(person_id, serial, expires_at.isoformat())
    hierarchies = frozenset(CertKind(k).hierarchy for k in kinds)
    info = portal.info()

    def certify(kind: CertKind, public_key: rsa.RSAPublicKey) -> x509.Certificate:
        spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return x509.load_der_x509_certificate(operator.certify_card_key(card_id, kind.value, spki))

    # Under 15: no signing certificate, so no signing password is asked for or set either.
    password: str | None = None
    if Hierarchy.SIGN in hierarchies:
        password = sign_password() if callable(sign_password) else sign_password
    try:
        personalised = personalise_card(
            card,
            issue=certify,
            sign_ca=x509.load_der_x509_certificate(base64.b64decode(info["sign_ca"][-1])),
            auth_ca=x509.load_der_x509_certificate(base64.b64decode(info["auth_ca"][-1])),
            instruction_public_key=card_instruction_key,
            sign_password=password,
            auth_pin=auth_pin,
            kinds=hierarchies,
        )
    except BaseException:
        # The original error is the one to report; a failing clean-up must not hide it.
        with contextlib.suppress(Exception):
            operator.abandon_card(card_id)
        raise
    return card_id, personalised
