"""The municipal office terminal, scripted: register a resident and personalise a My Number
Card through APDUs, the portal's authority certifying the keys the card generates on chip.

It lives beside the app because it is the same kind of client: HTTP to the portal
(:class:`~mobile_jpki.phone.client.OperatorClient`), APDUs to the card
(:func:`~mobile_jpki.reader.personalise.personalise_card`)."""

from __future__ import annotations

import base64
import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mobile_jpki.pki.model import CertKind
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
    sign_password: str,
    auth_pin: str,
    card_instruction_key: ec.EllipticCurvePublicKey,
) -> tuple[str, PersonalisedCard]:
    """Register the card, then personalise it: each on-chip key is certified by the service.
    ``card_instruction_key`` is the issuer's key for the card's management instructions (the
    office's unblock); the phone's instruction key is the portal's, not this one."""
    card.select_ap()
    serial = card.serial()
    card_id = operator.register_card(person_id, serial, expires_at.isoformat())
    info = portal.info()

    def certify(kind: CertKind, public_key: rsa.RSAPublicKey) -> x509.Certificate:
        spki = public_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        return x509.load_der_x509_certificate(operator.certify_card_key(card_id, kind.value, spki))

    personalised = personalise_card(
        card,
        issue=certify,
        sign_ca=x509.load_der_x509_certificate(base64.b64decode(info["sign_ca"][-1])),
        auth_ca=x509.load_der_x509_certificate(base64.b64decode(info["auth_ca"][-1])),
        instruction_public_key=card_instruction_key,
        sign_password=sign_password,
        auth_pin=auth_pin,
    )
    return card_id, personalised
