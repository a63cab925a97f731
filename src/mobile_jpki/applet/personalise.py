"""Personalisation and management commands of the JPKI AP (ours; docs/apdu.md "Lifecycle").

GENERATE ASYMMETRIC KEY PAIR, UPDATE BINARY of certificates and the instruction key, ACTIVATE,
and signed management instructions. Functions over the applet so :mod:`.jpki` stays the ISO part.
"""

from __future__ import annotations

import hmac
from dataclasses import replace
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_der_private_key,
    load_der_public_key,
)

from mobile_jpki.protocol.apdu import SW, CommandApdu
from mobile_jpki.protocol.attestation import GeneratedKey, sign_attestation
from mobile_jpki.protocol.constants import CA_CERT_EFS, EE_CERT_EFS, EF, KEY_EFS, Slot
from mobile_jpki.protocol.instructions import (
    Action,
    InstructionError,
    certificate_digest,
    parse_instruction,
)

from .errors import AppletError
from .secrets import is_valid_auth_pin, is_valid_signing_password
from .state import Lifecycle, set_secret

if TYPE_CHECKING:
    from .jpki import JpkiApplet

CHALLENGE_MIN, CHALLENGE_MAX = 8, 64


def generate(applet: JpkiApplet, cmd: CommandApdu) -> bytes:
    """``00 46 00 00 <challenge>``: a fresh RSA-2048 key in the selected key slot."""
    if cmd.p1p2 != 0:
        raise AppletError(SW.WRONG_P1P2)
    ef = applet.current_ef()
    slot = Slot.of(ef)
    if ef not in KEY_EFS or slot is None:
        raise AppletError(SW.INCOMPATIBLE_FILE)
    if not applet.may_generate(slot):
        raise AppletError(SW.CONDITIONS_NOT_SATISFIED)
    if not CHALLENGE_MIN <= len(cmd.data) <= CHALLENGE_MAX:
        raise AppletError(SW.WRONG_LENGTH)
    st = applet.state
    attestation_key: ec.EllipticCurvePrivateKey | None = None
    if st.profile.is_phone:
        if st.attestation_key is None:
            raise AppletError(SW.CONDITIONS_NOT_SATISFIED)
        loaded = load_der_private_key(st.attestation_key, None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise AppletError(SW.UNKNOWN)
        attestation_key = loaded
    key = applet.key_factory()
    spki = key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    pkcs8 = key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    attestation = None
    if attestation_key is not None:
        attestation = sign_attestation(attestation_key, cmd.data, slot, spki)
    # A new key orphans the slot's certificate: remove it so no certificate ever names a key
    # the applet does not hold.
    before = st.slot(slot)
    after = replace(before, key=pkcs8, certificate=None)
    if st.profile.is_phone and before.key is not None and before.certificate is None:
        # A key that was never certified guards nothing: it and its secret belong to an
        # application that never completed (a lost connection, a killed app, a certificate
        # never registered). A new application's key comes with a new secret (CHANGE
        # REFERENCE DATA P1 01), so an abandoned attempt never leaves a password the next
        # attempt must know (docs/lifecycle.md, "Abandoned attempts"). A slot that never held
        # a key keeps a secret set before its first key (the factory's order).
        after = replace(after, secret=None)
        if slot is Slot.AUTH:
            st = replace(st, biometric=None)
    applet.commit(st.with_slot(slot, after))
    return GeneratedKey(spki, attestation).encode()


def update_binary(applet: JpkiApplet, cmd: CommandApdu) -> bytes:
    """``00 D6 00 00 <whole DER>``: certificates, CA certificates, the instruction key."""
    if cmd.p1p2 != 0:
        raise AppletError(SW.WRONG_P1P2)
    ef = applet.current_ef()
    if ef not in EE_CERT_EFS | CA_CERT_EFS | {EF.INSTRUCTION_KEY}:
        raise AppletError(SW.INCOMPATIBLE_FILE)
    if not cmd.data:
        raise AppletError(SW.WRONG_LENGTH)
    st = applet.state
    if ef is EF.INSTRUCTION_KEY:
        if not applet.may_administer():
            raise AppletError(SW.CONDITIONS_NOT_SATISFIED)
        _check_instruction_key(cmd.data)
        applet.commit(replace(st, instruction_key=cmd.data))
        return b""
    slot = Slot.of(ef)
    if slot is None:
        raise AppletError(SW.INCOMPATIBLE_FILE)
    s = st.slot(slot)
    if ef in CA_CERT_EFS:
        if not applet.may_administer():
            raise AppletError(SW.CONDITIONS_NOT_SATISFIED)
        _check_ca_certificate(cmd.data)
        applet.commit(st.with_slot(slot, replace(s, ca_certificate=cmd.data)))
        return b""
    if not applet.may_generate(slot):
        raise AppletError(SW.CONDITIONS_NOT_SATISFIED)
    _check_end_entity(cmd.data, key=s.key, ca=s.ca_certificate, applet=applet)
    applet.commit(st.with_slot(slot, replace(s, certificate=cmd.data)))
    return b""


def _certificate(der: bytes) -> x509.Certificate:
    try:
        cert = x509.load_der_x509_certificate(der)
        # Exactly one DER certificate: no trailing bytes, no BER variant of it.
        if cert.public_bytes(Encoding.DER) != der:
            raise ValueError("not exactly one DER certificate")
    except ValueError as exc:
        raise AppletError(SW.INCORRECT_DATA, str(exc)) from exc
    return cert


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_id(cert: x509.Certificate) -> bytes:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest


def _check_ca_certificate(der: bytes) -> None:
    cert = _certificate(der)
    try:
        ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        ca = False
    # RFC 5280 §4.2.1.9: only a certificate asserting cA may issue; JPKI roots are self-signed.
    if not ca or not _issued_by(cert, cert):
        raise AppletError(SW.INCORRECT_DATA, "not a self-signed CA certificate")


def _check_end_entity(
    der: bytes, *, key: bytes | None, ca: bytes | None, applet: JpkiApplet
) -> None:
    cert = _certificate(der)
    if key is None or ca is None:
        raise AppletError(SW.INCORRECT_DATA, "no key or no CA certificate in this slot")
    ours = (
        applet.private_key(key)
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    )
    theirs = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    if ours != theirs:
        raise AppletError(SW.INCORRECT_DATA, "certificate is for another key")
    issuer = x509.load_der_x509_certificate(ca)
    # JPKI root generations share one DN (JPKI-FACTS.md): the key identifier tells them apart
    # (RFC 5280 §4.2.1.1), then the signature proves it.
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound as exc:
        raise AppletError(SW.INCORRECT_DATA, "no authority key identifier") from exc
    if aki.key_identifier != _key_id(issuer) or not _issued_by(cert, issuer):
        raise AppletError(SW.INCORRECT_DATA, "not issued by this slot's CA")


def _check_instruction_key(der: bytes) -> None:
    try:
        key = load_der_public_key(der)
        canonical = key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError) as exc:
        raise AppletError(SW.INCORRECT_DATA, str(exc)) from exc
    if (
        not isinstance(key, ec.EllipticCurvePublicKey)
        or not isinstance(key.curve, ec.SECP256R1)
        or canonical != der
    ):
        raise AppletError(SW.INCORRECT_DATA, "instruction key must be a P-256 SPKI")


def activate(applet: JpkiApplet, cmd: CommandApdu) -> bytes:
    """``00 44 00 00``: personalisation → operational. Repeating it is harmless."""
    if cmd.p1p2 != 0:
        raise AppletError(SW.WRONG_P1P2)
    st = applet.state
    if st.lifecycle is Lifecycle.OPERATIONAL:
        return b""
    required: list[object] = [st.sign.ca_certificate, st.auth.ca_certificate, st.instruction_key]
    if st.profile.is_phone:
        # A phone may hold one certificate only (the seed's ⑤ lets either be unticked): the
        # secret of every slot that holds a key, no more. Asking for both would make the app
        # invent a password for a certificate the person never applied for; the other slot's
        # secret is set later with CHANGE REFERENCE DATA P1 01 (never set before).
        required += [s.secret for s in (st.sign, st.auth) if s.key is not None]
    else:
        # A card always has its user-authentication PIN; its signing password only when it
        # holds a signing key (none for a person under 15: JPKI-FACTS "Flows").
        required.append(st.auth.secret)
        if st.sign.key is not None:
            required.append(st.sign.secret)
    if any(item is None for item in required):
        raise AppletError(SW.CONDITIONS_NOT_SATISFIED)
    applet.commit(replace(st, lifecycle=Lifecycle.OPERATIONAL))
    return b""


def manage(applet: JpkiApplet, cmd: CommandApdu) -> bytes:
    """``80 E4 00 00 <instruction>``: a signed order from the issuer or the portal service."""
    if cmd.p1p2 != 0:
        raise AppletError(SW.WRONG_P1P2)
    st = applet.state
    session = applet.session
    # A challenge answers one instruction only, accepted or not: no replays, no retries.
    challenge, session.challenge = session.challenge, None
    if st.instruction_key is None:
        raise AppletError(SW.CONDITIONS_NOT_SATISFIED)
    try:
        instruction = parse_instruction(cmd.data)
    except InstructionError as exc:
        raise AppletError(SW.INCORRECT_DATA, str(exc)) from exc
    public_key = load_der_public_key(st.instruction_key)
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise AppletError(SW.UNKNOWN)
    # Every instruction answers the element's last GET CHALLENGE (ISO 7816-4: a challenge for
    # use in a security-related procedure): one without a challenge, or with an older one, is a
    # replay.
    fresh = instruction.challenge is not None and (
        challenge is not None and hmac.compare_digest(instruction.challenge, challenge)
    )
    if (
        not instruction.signature_valid(public_key)
        or not hmac.compare_digest(instruction.target_serial, st.serial)
        or applet.clock.now() > instruction.not_after
        or not fresh
    ):
        raise AppletError(SW.SECURITY_STATUS_NOT_SATISFIED)
    actions = instruction.actions
    deletions = [
        (slot, named)
        for slot, flag, named in (
            (Slot.SIGN, Action.DELETE_SIGN, instruction.sign_certificates),
            (Slot.AUTH, Action.DELETE_AUTH, instruction.auth_certificates),
        )
        if actions & flag
    ]
    # A deletion acts on the certificates it names, checked for every slot before anything
    # changes. A slot holding another certificate means the instruction is stale (the slot was
    # registered anew since it was made): refused whole, 69 85 "conditions of use not
    # satisfied" (ISO 7816-4 §5.6) — authentic and fresh, but not for this state. A
    # slot without a certificate is already as the instruction wants it: left alone (a key
    # there belongs to a later application) and answered 90 00, so a phone whose
    # acknowledgement was lost can carry the deletion out again and acknowledge it.
    to_empty = []
    for slot, named in deletions:
        held = st.slot(slot).certificate
        if held is None:
            continue
        if certificate_digest(held) not in named:
            raise AppletError(SW.CONDITIONS_NOT_SATISFIED, "the slot holds another certificate")
        to_empty.append(slot)
    new = st
    if actions & Action.RESET_SIGN_PASSWORD:
        password = instruction.new_signing_password
        if password is None or not is_valid_signing_password(password):
            raise AppletError(SW.INCORRECT_DATA)
        new = set_secret(new, Slot.SIGN, password)
        session.verified.discard(Slot.SIGN)
    if actions & Action.RESET_AUTH_PIN:
        pin = instruction.new_auth_pin
        if pin is None or not is_valid_auth_pin(pin):
            raise AppletError(SW.INCORRECT_DATA)
        new = set_secret(new, Slot.AUTH, pin)
        session.verified.discard(Slot.AUTH)
    for slot in to_empty:
        emptied = replace(new.slot(slot), key=None, certificate=None)
        if new.profile.is_phone:
            # On a phone the secret goes with the key it guarded: the next application
            # sets its own. A card keeps its secrets: the office may certify new keys.
            emptied = replace(emptied, secret=None)
        new = new.with_slot(slot, emptied)
        if slot is Slot.AUTH:
            # The biometric token unlocked this key only; a new registration enrols anew.
            new = replace(new, biometric=None)
            session.biometric = False
        if session.current in (slot.key_ef, slot.cert_ef):
            session.current = None
    applet.commit(new)
    if actions & Action.ALLOW_REPERSONALISATION:
        session.repersonalise = True
    return b""
