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
    order,
    spki,
)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from mobile_jpki.protocol import tlv
from mobile_jpki.protocol.apdu import SW
from mobile_jpki.protocol.constants import EF
from mobile_jpki.protocol.instructions import (
    TAG_SIGNATURE,
    Action,
    InstructionError,
    build_instruction,
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
    raw = build_instruction(
        key=ec_key(3),
        target_serial=PHONE_SERIAL,
        actions=Action.DELETE_AUTH | Action.RESET_AUTH_PIN,
        not_after=now,
        challenge=b"n" * 8,
    )
    parsed = parse_instruction(with_new_secrets(raw, auth_pin="9999"))
    assert parsed.actions == Action.DELETE_AUTH | Action.RESET_AUTH_PIN
    assert parsed.not_after == now and parsed.new_auth_pin == b"9999"
    assert parsed.signature_valid(ec_key(3).public_key())
    assert not parsed.signature_valid(ec_key(8).public_key())
    with pytest.raises(InstructionError):
        parse_instruction(raw)  # action 20 without C2
    with pytest.raises(InstructionError):
        parse_instruction(raw + b"\x00")
    with pytest.raises(ValueError):
        build_instruction(
            key=ec_key(3),
            target_serial=PHONE_SERIAL,
            actions=Action.ALLOW_REPERSONALISATION,
            not_after=now,
        )
