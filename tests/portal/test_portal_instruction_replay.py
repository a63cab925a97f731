"""Issue 16 §3 through the real portal: a deletion instruction cannot be replayed, and one
whose acknowledgement was lost never wipes certificates registered since
(docs/security.md "Management instructions")."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from portal_world import CARD_PASSWORD, World
from test_portal_refusals import refused

from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.errors import SecurityStatusNotSatisfied

PW, PIN = "PHONE123", "1234"
BACK_PW, BACK_PIN = "BACK1234", "4321"
BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)
PRESENT = {Hierarchy.SIGN: True, Hierarchy.AUTH: True}
ABSENT = {Hierarchy.SIGN: False, Hierarchy.AUTH: False}


def _apply_and_register(
    world: World, card: JpkiClient, phone: ScriptedPhone, certs: Any = BOTH, *, pw: str = PW,
    pin: str = PIN,
) -> None:  # fmt: skip
    phone.apply(card, card_password=CARD_PASSWORD, certificates=certs, sign_password=pw,
                auth_pin=pin, consent=True, model_change=True)  # fmt: skip
    world.work()
    phone.register(sign_password=pw, auth_pin=pin)


def _capturing(phone: ScriptedPhone) -> list[bytes]:
    """Every instruction the phone sends its element, as an eavesdropper on the way sees it."""
    seen: list[bytes] = []
    send = phone.element.send_instruction

    def spy(instruction: bytes) -> None:
        seen.append(instruction)
        send(instruction)

    phone.element.send_instruction = spy  # type: ignore[method-assign]
    return seen


def _losing_acknowledgements(phone: ScriptedPhone) -> None:
    """The element carries the deletion out; the acknowledgement never reaches the service."""

    def lost(instruction_id: str) -> None:
        raise httpx.ConnectError("the network went away")

    phone.api.acknowledge = lost  # type: ignore[method-assign]


def _good(phone: ScriptedPhone) -> set[str]:
    return {c["kind"] for c in phone.check_validity() if c["status"] == "good"}


def test_a_captured_deletion_replayed_within_48_hours_is_refused(world: World) -> None:
    """(a) The old phone's deletion, captured on its way to the element, replayed after the
    certificates came back to that phone: refused (69 82), the new certificates stay."""
    _, _, card = world.resident()
    old = world.new_phone("old")
    _apply_and_register(world, card, old)
    seen = _capturing(old)
    _apply_and_register(world, card, world.new_phone("new"))  # model change away
    world.clock.advance(dt.timedelta(hours=1))
    assert len(old.sync_instructions()) == 1
    assert old.element.presence() == ABSENT
    assert len(seen) == 1
    _apply_and_register(world, card, old, pw=BACK_PW, pin=BACK_PIN)  # and back
    assert old.element.presence() == PRESENT
    world.clock.advance(dt.timedelta(hours=1))  # still within the first deletion's 48 hours
    old.element.select_ap()
    with pytest.raises(SecurityStatusNotSatisfied):
        old.element.send_instruction(seen[0])
    old.element.get_challenge(16)  # a fresh challenge on the element does not revive it
    with pytest.raises(SecurityStatusNotSatisfied):
        old.element.send_instruction(seen[0])
    assert old.element.presence() == PRESENT
    assert _good(old) == {"phone-sign", "phone-auth"}


def test_a_lost_acknowledgement_never_wipes_certificates_registered_since(world: World) -> None:
    """(b) Model change away; the old phone deletes but its acknowledgement is lost; model
    change back and new certificates registered there; the phone comes online again: the
    stale deletion was withdrawn, and the certificates the service calls good are in the
    element."""
    _, _, card = world.resident()
    old = world.new_phone("old")
    _apply_and_register(world, card, old)
    _apply_and_register(world, card, world.new_phone("new"))
    real_ack = old.api.acknowledge
    _losing_acknowledgements(old)
    with pytest.raises(httpx.ConnectError):
        old.sync_instructions()
    assert old.element.presence() == ABSENT
    old.api.acknowledge = real_ack  # type: ignore[method-assign]
    [stale] = old.api.instructions()  # still pending at the service
    _apply_and_register(world, card, old, pw=BACK_PW, pin=BACK_PIN)
    old.sync_instructions()  # `phone sync`: today's code wiped the new certificates here
    assert old.element.presence() == PRESENT
    assert _good(old) == {"phone-sign", "phone-auth"}
    assert old.api.instructions() == []  # withdrawn: the device holds certificates again
    assert refused(old.api.signed_instruction, stale["id"], bytes(16)).code == "not-found"
    # The new certificates work: the element signs with the one the service calls good.
    old.element.select_ap()
    old.element.verify(Hierarchy.SIGN, BACK_PW)
    assert old.element.read_certificate(Hierarchy.SIGN).serial_number in {
        int(c["serial"], 16) for c in old.check_validity() if c["status"] == "good"
    }


def test_a_lost_acknowledgement_heals_on_the_next_sync(world: World) -> None:
    """Carried out again, the deletion finds its slots empty, answers 90 00 and is
    acknowledged: it is not handed out for ever."""
    _, _, card = world.resident()
    old = world.new_phone("old")
    _apply_and_register(world, card, old)
    _apply_and_register(world, card, world.new_phone("new"))
    real_ack = old.api.acknowledge
    _losing_acknowledgements(old)
    with pytest.raises(httpx.ConnectError):
        old.sync_instructions()
    old.api.acknowledge = real_ack  # type: ignore[method-assign]
    assert len(old.sync_instructions()) == 1
    assert old.api.instructions() == []


def test_moving_back_for_one_kind_keeps_the_deletion_of_the_other(world: World) -> None:
    """Back to the old phone (offline since) for the signing certificate only: the queued
    deletion stops naming the signing slot, and carried out later it spares the new signing
    certificate and is acknowledged (the auth slot is already empty: the slot clearance
    before the application emptied every slot holding only revoked certificates)."""
    _, _, card = world.resident()
    old = world.new_phone("old")
    _apply_and_register(world, card, old)
    _apply_and_register(world, card, world.new_phone("new"))
    _apply_and_register(world, card, old, (Hierarchy.SIGN,), pw=BACK_PW, pin=BACK_PIN)
    [pending] = old.api.instructions()
    assert pending["actions"] == 0x02
    assert old.element.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: False}
    assert len(old.sync_instructions()) == 1
    assert old.api.instructions() == []
    assert old.element.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: False}
    assert _good(old) == {"phone-sign"}


def test_the_reset_instruction_answers_one_challenge_only(world: World) -> None:
    """初期化: the reset instruction works once; sent again it is refused, and the password it
    set stays."""
    _, _, card = world.resident()
    phone = world.new_phone("p")
    _apply_and_register(world, card, phone)
    seen = _capturing(phone)
    phone.reset_password(card, card_password=CARD_PASSWORD, certificate=Hierarchy.SIGN,
                         new_secret="RESET123")  # fmt: skip
    assert len(seen) == 1
    phone.element.select_ap()
    phone.element.get_challenge(16)
    with pytest.raises(SecurityStatusNotSatisfied):
        phone.element.send_instruction(seen[0])
    phone.element.verify(Hierarchy.SIGN, "RESET123")
