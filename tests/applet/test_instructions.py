"""Signed management instructions (docs/apdu.md "Signed management instructions")."""

from __future__ import annotations

import datetime as dt

import pytest
from applet_fakes import (
    CARD_PASSWORD,
    CARD_PIN,
    PHONE_SERIAL,
    Device,
    ec_key,
    make_phone,
    order,
    spki,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from mobile_jpki.clock import FixedClock
from mobile_jpki.protocol import tlv
from mobile_jpki.protocol.apdu import SW
from mobile_jpki.protocol.constants import EF
from mobile_jpki.protocol.instructions import (
    TAG_SIGNATURE,
    Action,
    InstructionError,
    build_instruction,
    certificate_digest,
    instruction_apdu,
    parse_instruction,
    with_new_secrets,
)


def test_delete_signing_is_idempotent_and_updates_0008(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert order(card, 0x01) == SW.OK
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("008F00")
    assert h.select(EF.SIGN_CERT) == SW.FILE_NOT_FOUND
    assert h.select(EF.SIGN_KEY) == SW.FILE_NOT_FOUND  # a card cannot regenerate unasked
    assert order(card, 0x01) == SW.OK
    assert order(card, 0x02) == SW.OK
    assert h.read(EF.CERTS_PRESENT) == bytes(3)
    assert h.select(EF.AUTH_CERT) == SW.FILE_NOT_FOUND
    # Secrets stay: the municipal office may issue new certificates on the same card.
    assert h.verify(EF.SIGN_PASSWORD, CARD_PASSWORD) == SW.OK


def test_deletion_clears_the_current_ef(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert h.select(EF.AUTH_CERT) == SW.OK
    assert order(card, 0x02) == SW.OK
    assert h.send(0, 0xB0, 0, 0, ne=4)[1] == SW.NO_CURRENT_EF


def test_refusals(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert order(card, 0x01, serial=PHONE_SERIAL) == SW.SECURITY_STATUS_NOT_SATISFIED
    assert order(card, 0x01, key=ec_key(8)) == SW.SECURITY_STATUS_NOT_SATISFIED
    expires = card.clock.now() + dt.timedelta(minutes=5)
    card.clock.advance(dt.timedelta(minutes=5))
    assert order(card, 0x01, not_after=expires) == SW.OK  # "not after" is inclusive
    card.clock.advance(dt.timedelta(seconds=1))
    assert order(card, 0x02, not_after=expires) == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("008F00")
    assert h.send(0x80, 0xE4, 0, 0, b"\xa0\x00")[1] == SW.INCORRECT_DATA
    assert h.send(0x80, 0xE4, 0, 1, b"\xa0\x00")[1] == SW.WRONG_P1P2
    assert h.send(0x00, 0xE4, 0, 0, b"\xa0\x00")[1] == SW.CLA_NOT_SUPPORTED


def test_resets_need_the_challenge(card: Device) -> None:
    h = card.host
    h.select_ap()
    instruction = build_instruction(
        key=card.instruction_key,
        target_serial=card.applet.state.serial,
        actions=Action.RESET_SIGN_PASSWORD,
        not_after=card.clock.now() + dt.timedelta(minutes=5),
        challenge=b"\x00" * 16,  # not the applet's challenge
    )
    apdu = instruction_apdu(with_new_secrets(instruction, signing_password="RESET99"))
    assert h.raw(apdu)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    nonce, _ = h.send(0, 0x84, 0, 0, ne=16)
    instruction = build_instruction(
        key=card.instruction_key,
        target_serial=card.applet.state.serial,
        actions=Action.RESET_SIGN_PASSWORD,
        not_after=card.clock.now() + dt.timedelta(minutes=5),
        challenge=nonce,
    )
    apdu = instruction_apdu(with_new_secrets(instruction, signing_password="RESET99"))
    assert h.raw(apdu)[1] == SW.OK
    assert h.raw(apdu)[1] == SW.SECURITY_STATUS_NOT_SATISFIED  # the challenge is spent
    # Signed but without any challenge (build_instruction refuses to make it; made by hand).
    body = tlv.encode(
        0xA0,
        tlv.encode(0x80, card.applet.state.serial)
        + tlv.encode(0x81, b"\x10")
        + tlv.encode(0x82, b"20300101000000Z"),
    )
    signature = card.instruction_key.sign(body, ec.ECDSA(hashes.SHA256()))
    unbound = body + tlv.encode(TAG_SIGNATURE, signature) + tlv.encode(0xC1, b"RESET77")
    assert h.raw(instruction_apdu(unbound))[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.verify(EF.SIGN_PASSWORD, b"RESET99") == SW.OK


def test_reset_unblocks_with_the_new_secret(card: Device) -> None:
    h = card.host
    h.select_ap()
    for _ in range(3):
        h.verify(EF.AUTH_PIN, b"0000")
    assert h.verify(EF.AUTH_PIN, CARD_PIN) == SW.REFERENCE_DATA_BLOCKED
    assert order(card, 0x20, challenge=True, pin=b"12a4") == SW.INCORRECT_DATA
    assert order(card, 0x20, challenge=True, pin=b"4321") == SW.OK
    assert h.verify(EF.AUTH_PIN, CARD_PIN) == 0x63C2
    assert h.verify(EF.AUTH_PIN, b"4321") == SW.OK
    assert h.send(0, 0x20, 0, 0x80)[1] == 0x63C3


def test_repersonalisation_lets_a_card_take_new_keys(card: Device) -> None:
    h = card.host
    h.select_ap()
    assert order(card, 0x01) == SW.OK
    assert order(card, 0x40, challenge=True) == SW.OK
    h.generate(EF.SIGN_KEY)
    key = card.pool.issued[-1]
    assert h.update(EF.SIGN_CERT, card.sign_ca.issue(key.public_key())) == SW.OK
    h.select_ap()  # the permission lasts for the session only
    assert h.select(EF.SIGN_KEY) == SW.OK
    assert h.send(0, 0x46, 0, 0, b"C" * 8, ne=65536)[1] == SW.CONDITIONS_NOT_SATISFIED


def test_no_instruction_key_yet(blank_card: Device) -> None:
    h = blank_card.host
    h.select_ap()
    assert order(blank_card, 0x01) == SW.CONDITIONS_NOT_SATISFIED
    assert h.update(EF.INSTRUCTION_KEY, spki(blank_card.instruction_key.public_key())) == SW.OK
    assert order(blank_card, 0x01) == SW.OK


def test_builder_and_parser() -> None:
    now = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    named = certificate_digest(b"a certificate")
    raw = build_instruction(
        key=ec_key(3),
        target_serial=PHONE_SERIAL,
        actions=Action.DELETE_AUTH | Action.RESET_AUTH_PIN,
        not_after=now,
        challenge=b"n" * 8,
        auth_certificates=[named, named],  # named twice: encoded once
    )
    parsed = parse_instruction(with_new_secrets(raw, auth_pin="9999"))
    assert parsed.actions == Action.DELETE_AUTH | Action.RESET_AUTH_PIN
    assert parsed.not_after == now and parsed.new_auth_pin == b"9999"
    assert parsed.challenge == b"n" * 8
    assert parsed.auth_certificates == {named} and parsed.sign_certificates == set()
    assert parsed.signature_valid(ec_key(3).public_key())
    assert not parsed.signature_valid(ec_key(8).public_key())
    with pytest.raises(InstructionError):
        parse_instruction(raw)  # action 20 without C2
    with pytest.raises(InstructionError):
        parse_instruction(raw + b"\x00")
    for bad in (
        {"actions": Action.ALLOW_REPERSONALISATION, "challenge": b""},  # no challenge
        {"actions": Action.DELETE_SIGN, "challenge": b"n" * 8},  # names nothing
        {"actions": Action.DELETE_SIGN, "challenge": b"n" * 8, "auth_certificates": [named]},
        {"actions": Action.DELETE_SIGN, "challenge": b"n" * 8, "sign_certificates": [b"x"]},
    ):
        with pytest.raises(ValueError):
            build_instruction(key=ec_key(3), target_serial=PHONE_SERIAL, not_after=now, **bad)  # type: ignore[arg-type]


def _signed(dev: Device, *elements: tuple[int, bytes]) -> bytes:
    """An instruction made by hand (build_instruction refuses these shapes), correctly signed."""
    body = tlv.encode(
        0xA0,
        tlv.encode(0x80, dev.applet.state.serial)
        + b"".join(tlv.encode(tag, value) for tag, value in elements),
    )
    return body + tlv.encode(
        TAG_SIGNATURE, dev.instruction_key.sign(body, ec.ECDSA(hashes.SHA256()))
    )


def test_a_deletion_names_its_certificates_in_the_format(card: Device) -> None:
    h = card.host
    h.select_ap()
    nonce, _ = h.send(0, 0x84, 0, 0, ne=16)
    held = certificate_digest(card.applet.state.sign.certificate or b"")
    common = ((0x81, b"\x01"), (0x82, b"20300101000000Z"), (0x83, nonce))
    for bad in (
        common,  # action 01 without 84
        (*common, (0x84, held), (0x85, held)),  # 85 without action 02
        (*common, (0x84, held[:31])),  # not whole digests
        (*common, (0x84, b"")),
    ):
        assert h.raw(instruction_apdu(_signed(card, *bad)))[1] == SW.INCORRECT_DATA
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("8F8F00")


def test_a_genuine_deletion_replayed_is_refused(card: Device) -> None:
    """Issue 16 §3 (a): a deletion captured on its way to the element answers the challenge it
    was made for and nothing else, within its 48 hours or not."""
    h = card.host
    h.select_ap()
    nonce, _ = h.send(0, 0x84, 0, 0, ne=16)
    captured = instruction_apdu(
        build_instruction(
            key=card.instruction_key,
            target_serial=card.applet.state.serial,
            actions=Action.DELETE_SIGN,
            not_after=card.clock.now() + dt.timedelta(hours=48),
            challenge=nonce,
            sign_certificates=[certificate_digest(card.applet.state.sign.certificate or b"")],
        )
    )
    assert h.raw(captured)[1] == SW.OK
    assert h.raw(captured)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    h.send(0, 0x84, 0, 0, ne=16)  # a new challenge does not revive it either
    assert h.raw(captured)[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    # The shape every deletion had before: signed, within its time, but bound to nothing.
    unbound = _signed(
        card,
        (0x81, b"\x02"),
        (0x82, b"20300101000000Z"),
        (0x85, certificate_digest(card.applet.state.auth.certificate or b"")),
    )
    assert h.raw(instruction_apdu(unbound))[1] == SW.SECURITY_STATUS_NOT_SATISFIED
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("008F00")


def test_a_stale_deletion_is_refused_and_changes_nothing(card: Device) -> None:
    """Issue 16 §3 (b) at the element: the slot holds a certificate the instruction does not
    name (registered since it was made): 69 85, and neither slot is touched."""
    h = card.host
    h.select_ap()
    other = certificate_digest(b"the certificate deleted before")
    assert order(card, 0x03, sign_certificates=[other]) == SW.CONDITIONS_NOT_SATISFIED
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("8F8F00")
    # Naming the one it holds among others (the service names every candidate) deletes it.
    current = certificate_digest(card.applet.state.sign.certificate or b"")
    assert order(card, 0x01, sign_certificates=[other, current]) == SW.OK
    assert h.read(EF.CERTS_PRESENT) == bytes.fromhex("008F00")


def test_deleting_an_empty_slot_succeeds_and_spares_a_later_key(clock: FixedClock) -> None:
    """The ack-lost case heals: carried out again, a deletion whose certificate is already gone
    answers 90 00 — and a key generated there since (a new application) stays."""
    fresh_phone = make_phone(clock, registered=False)
    h = fresh_phone.host
    h.select_ap()
    assert h.select(EF.SIGN_KEY) == SW.OK
    assert h.send(0, 0x46, 0, 0, b"C" * 8, ne=65536)[1] == SW.OK
    key = fresh_phone.applet.state.sign.key
    assert key is not None
    gone = certificate_digest(b"the certificate deleted before the acknowledgement was lost")
    assert order(fresh_phone, 0x01, sign_certificates=[gone]) == SW.OK
    assert fresh_phone.applet.state.sign.key == key


def test_a_challenge_answers_one_instruction_only(card: Device) -> None:
    """The reset instructions' one-time challenge: spent by the first instruction, accepted or
    refused; superseded by the next GET CHALLENGE."""
    h = card.host
    h.select_ap()

    def reset(nonce: bytes, action: Action, **secret: str) -> bytes:
        raw = build_instruction(
            key=card.instruction_key,
            target_serial=card.applet.state.serial,
            actions=action,
            not_after=card.clock.now() + dt.timedelta(minutes=10),
            challenge=nonce,
        )
        return instruction_apdu(with_new_secrets(raw, **secret))

    nonce, _ = h.send(0, 0x84, 0, 0, ne=16)
    password = reset(nonce, Action.RESET_SIGN_PASSWORD, signing_password="RESET99")
    pin = reset(nonce, Action.RESET_AUTH_PIN, auth_pin="4321")
    assert h.raw(password)[1] == SW.OK
    assert h.raw(pin)[1] == SW.SECURITY_STATUS_NOT_SATISFIED  # same challenge, second use
    assert h.raw(password)[1] == SW.SECURITY_STATUS_NOT_SATISFIED  # replayed
    # A refused instruction spends the challenge too: no retry with a corrected one.
    nonce, _ = h.send(0, 0x84, 0, 0, ne=16)
    assert h.raw(reset(nonce, Action.RESET_AUTH_PIN, auth_pin="12a4"))[1] == SW.INCORRECT_DATA
    assert h.raw(reset(nonce, Action.RESET_AUTH_PIN, auth_pin="4321"))[1] == (
        SW.SECURITY_STATUS_NOT_SATISFIED
    )
    # A newer challenge supersedes the older one.
    older, _ = h.send(0, 0x84, 0, 0, ne=16)
    h.send(0, 0x84, 0, 0, ne=16)
    assert h.raw(reset(older, Action.RESET_AUTH_PIN, auth_pin="4321"))[1] == (
        SW.SECURITY_STATUS_NOT_SATISFIED
    )
    # SELECT of the AP clears the security state, the challenge with it (ISO 7816-4 §5.4).
    nonce, _ = h.send(0, 0x84, 0, 0, ne=16)
    h.select_ap()
    assert h.raw(reset(nonce, Action.RESET_AUTH_PIN, auth_pin="4321"))[1] == (
        SW.SECURITY_STATUS_NOT_SATISFIED
    )
    assert h.verify(EF.SIGN_PASSWORD, b"RESET99") == SW.OK
    assert h.verify(EF.AUTH_PIN, CARD_PIN) == SW.OK
