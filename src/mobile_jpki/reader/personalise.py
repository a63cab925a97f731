"""Issuance, device side: personalising a card and a phone's secure element through APDUs.

The issuer (municipal office for a card, portal service for a phone) never touches the applet's
objects: it drives the same commands a personalisation machine would (docs/apdu.md "Lifecycle
and personalisation"). The key pair is generated inside the applet; only the public key leaves
it, is certified by ``issue`` and comes back as a certificate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.protocol.attestation import GeneratedKey
from mobile_jpki.protocol.constants import EF
from mobile_jpki.reader.commands import JpkiClient, check_secret
from mobile_jpki.reader.errors import ReaderError

Issue = Callable[[CertKind, rsa.RSAPublicKey], x509.Certificate]

_CARD_KINDS = {Hierarchy.SIGN: CertKind.CARD_SIGN, Hierarchy.AUTH: CertKind.CARD_AUTH}


class PersonalisationError(ReaderError):
    """The issuer's side went wrong (e.g. a certificate for another key); nothing was written."""


@dataclass(frozen=True)
class PersonalisedCard:
    serial: bytes
    sign_certificate: x509.Certificate | None  # None: no signing certificate (under 15)
    auth_certificate: x509.Certificate


@dataclass(frozen=True)
class PhoneApplication:
    """What the phone sends with its application: fresh attested public keys per role."""

    serial: bytes
    challenge: bytes
    keys: Mapping[Hierarchy, GeneratedKey]
    attestation_certificate: x509.Certificate


def _spki(key: ec.EllipticCurvePublicKey | bytes) -> bytes:
    if isinstance(key, bytes):
        return key
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _same_key(cert: x509.Certificate, key: rsa.RSAPublicKey) -> bool:
    return cert.public_key() == key


def _write_issuer_material(
    client: JpkiClient,
    sign_ca: x509.Certificate | None,
    auth_ca: x509.Certificate | None,
    instruction_public_key: ec.EllipticCurvePublicKey | bytes | None,
) -> None:
    if sign_ca is not None:
        client.write_certificate(Hierarchy.SIGN, sign_ca, ca=True)
    if auth_ca is not None:
        client.write_certificate(Hierarchy.AUTH, auth_ca, ca=True)
    if instruction_public_key is not None:
        client.write_file(EF.INSTRUCTION_KEY, _spki(instruction_public_key))


def personalise_card(
    client: JpkiClient,
    *,
    issue: Issue,
    sign_ca: x509.Certificate,
    auth_ca: x509.Certificate,
    instruction_public_key: ec.EllipticCurvePublicKey | bytes,
    sign_password: str | None,
    auth_pin: str,
    kinds: frozenset[Hierarchy] = frozenset({Hierarchy.SIGN, Hierarchy.AUTH}),
) -> PersonalisedCard:
    """Personalise a blank card end to end and ACTIVATE it, with the certificates in
    ``kinds`` (the service says which: no signing certificate under 15).

    Order matters to the applet: CA certificates before end-entity ones (they are checked
    against them), keys before their certificates, secrets and CA material before ACTIVATE.
    """
    if Hierarchy.AUTH not in kinds:
        raise ValueError("a card always carries its user-authentication certificate")
    signing = Hierarchy.SIGN in kinds
    # Check the secrets before the first APDU: a typo must not leave a half-made card.
    if signing:
        if sign_password is None:
            raise ValueError("a card with a signing certificate needs its signing password")
        check_secret(Hierarchy.SIGN, sign_password)
    check_secret(Hierarchy.AUTH, auth_pin)
    client.select_ap()
    _write_issuer_material(client, sign_ca, auth_ca, instruction_public_key)
    certs: dict[Hierarchy, x509.Certificate] = {}
    for hierarchy in (h for h in (Hierarchy.AUTH, Hierarchy.SIGN) if h in kinds):
        generated = client.generate_key(hierarchy, os.urandom(16))
        public = generated.public_key()
        cert = issue(_CARD_KINDS[hierarchy], public)
        if not _same_key(cert, public):
            raise PersonalisationError(f"the {hierarchy.value} certificate is for another key")
        client.write_certificate(hierarchy, cert)
        certs[hierarchy] = cert
    if signing and sign_password is not None:
        client.change_secret(Hierarchy.SIGN, sign_password)
    client.change_secret(Hierarchy.AUTH, auth_pin)
    client.activate()
    return PersonalisedCard(client.serial(), certs.get(Hierarchy.SIGN), certs[Hierarchy.AUTH])


def apply_phone(
    client: JpkiClient,
    *,
    roles: Iterable[Hierarchy],
    challenge: bytes,
    sign_password: str | None = None,
    auth_pin: str | None = None,
    sign_ca: x509.Certificate | None = None,
    auth_ca: x509.Certificate | None = None,
    instruction_public_key: ec.EllipticCurvePublicKey | bytes | None = None,
) -> PhoneApplication:
    """The secure-element half of スマホ用電子証明書の申請: attested keys and new passwords.

    ``challenge`` is the portal service's nonce: it is bound into each key attestation
    (``challenge || role || SPKI``), so the service knows the keys are fresh and on-chip.
    CA certificates and the instruction key are written when given (a fresh element).
    Each key is generated before its secret is set: on a slot without a certificate the
    element then holds no secret (an abandoned earlier attempt's is cleared with the old key),
    so CHANGE REFERENCE DATA P1 01 sets the one chosen now.
    """
    wanted = list(dict.fromkeys(roles))
    if not wanted:
        raise ValueError("choose at least one certificate (signing and/or user authentication)")
    given = {Hierarchy.SIGN: sign_password, Hierarchy.AUTH: auth_pin}
    secrets: dict[Hierarchy, str] = {}
    for role in wanted:
        value = given[role]
        if value is None:
            raise ValueError(f"a new {role.value} secret is needed for the {role.value} key")
        check_secret(role, value)
        secrets[role] = value
    client.select_ap()
    _write_issuer_material(client, sign_ca, auth_ca, instruction_public_key)
    keys: dict[Hierarchy, GeneratedKey] = {}
    for role in wanted:
        keys[role] = client.generate_key(role, challenge)
        if keys[role].attestation is None:
            raise PersonalisationError("the secure element returned no key attestation")
        client.change_secret(role, secrets[role])
    return PhoneApplication(client.serial(), challenge, keys, client.attestation_certificate())


def register_phone(
    client: JpkiClient,
    certificates: Mapping[Hierarchy, x509.Certificate],
    *,
    activate: bool = False,
) -> None:
    """The secure-element half of 登録する: store the issued certificates (and optionally
    ACTIVATE, which needs both CA certificates, the instruction key and the secret of every
    slot holding a key: docs/apdu.md "Lifecycle")."""
    client.select_ap()
    for hierarchy, cert in certificates.items():
        client.write_certificate(hierarchy, cert)
    if activate:
        client.activate()
