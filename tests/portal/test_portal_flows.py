"""The seed's flows walked by a scripted app over HTTP: first application, registration,
model change with consent, the 48-hour deletion on the old phone (and after it)."""

from __future__ import annotations

import datetime as dt

import pytest
from portal_world import CARD_PASSWORD, World

from mobile_jpki.phone.client import PortalProblem
from mobile_jpki.phone.steps import ConsentNeeded
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.errors import SecurityStatusNotSatisfied

BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)
OLD_PW, OLD_PIN = "OLDPHONE1", "1111"
NEW_PW, NEW_PIN = "NEWPHONE2", "2222"


def first_phone(world: World, card: object) -> object:
    phone = world.new_phone("old")
    phone.apply(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=OLD_PW, auth_pin=OLD_PIN
    )  # type: ignore[arg-type]
    world.work()
    phone.register(sign_password=OLD_PW, auth_pin=OLD_PIN)
    return phone


def test_first_application_registration_ready_then_registered(world: World) -> None:
    person, _, card = world.resident()
    phone = world.new_phone("old")
    app_id = phone.apply(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=OLD_PW, auth_pin=OLD_PIN
    )
    assert app_id
    page = phone.my_page()
    assert {e["state"] for e in page["entries"]} == {"pending"}
    jobs, pushed = world.work()
    assert jobs == 1 and pushed == 1
    assert world.inbox(phone) == ["registration-ready"]  # 登録準備完了
    page = phone.my_page()
    assert [e["label"] for e in page["entries"]] == ["登録準備が完了しています"] * 2
    assert sorted(phone.register(sign_password=OLD_PW, auth_pin=OLD_PIN)) == [
        "phone-auth",
        "phone-sign",
    ]
    states = phone.check_validity()
    assert {(c["kind"], c["status"], c["registered"]) for c in states} == {
        ("phone-sign", "good", True),
        ("phone-auth", "good", True),
    }
    assert phone.element.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: True}
    assert world.service.holders(person) == [phone.device_id]


def test_model_change_revokes_old_phone_and_deletes_within_48_hours(world: World) -> None:
    person, _, card = world.resident()
    old = first_phone(world, card)
    world.inbox(old)  # type: ignore[arg-type]
    new = world.new_phone("new")
    # ⑨ 旧スマホ用電子証明書は失効されます: without consent the service refuses.
    with pytest.raises(ConsentNeeded):
        new.apply(
            card,
            card_password=CARD_PASSWORD,
            certificates=BOTH,
            sign_password=NEW_PW,
            auth_pin=NEW_PIN,
            model_change=True,
        )
    new.apply(
        card,
        card_password=CARD_PASSWORD,
        certificates=BOTH,
        sign_password=NEW_PW,
        auth_pin=NEW_PIN,
        model_change=True,
        consent=True,
    )
    world.clock.advance(dt.timedelta(minutes=1))
    world.work()
    assert world.inbox(new) == ["registration-ready"]
    assert world.inbox(old) == ["deletion-pending"]  # type: ignore[arg-type]
    # The old phone's certificates are revoked (superseded) in the issuing transaction.
    old_states = old.check_validity()  # type: ignore[attr-defined]
    assert {(c["status"], c["reason"]) for c in old_states} == {("revoked", 4)}
    assert world.service.holders(person) == [new.device_id]
    # The old phone comes online 47 hours later: its element deletes the certificates.
    world.clock.advance(dt.timedelta(hours=47))
    assert len(old.sync_instructions()) == 1  # type: ignore[attr-defined]
    assert old.element.presence() == {Hierarchy.SIGN: False, Hierarchy.AUTH: False}  # type: ignore[attr-defined]
    assert old.api.instructions() == []  # type: ignore[attr-defined]
    new.register(sign_password=NEW_PW, auth_pin=NEW_PIN)
    assert {c["status"] for c in new.check_validity()} == {"good"}


def test_after_48_hours_the_certificates_stay_on_the_old_phone_revoked(world: World) -> None:
    _, _, card = world.resident()
    old = first_phone(world, card)
    new = world.new_phone("new")
    new.apply(
        card,
        card_password=CARD_PASSWORD,
        certificates=(Hierarchy.AUTH,),
        sign_password=NEW_PW,
        auth_pin=NEW_PIN,
        model_change=True,
        consent=True,
    )
    world.work()
    # By default BOTH kinds leave the old phone, even though only auth was ticked.
    assert {c["status"] for c in old.check_validity()} == {"revoked"}  # type: ignore[attr-defined]
    pending = old.api.instructions()  # type: ignore[attr-defined]
    assert len(pending) == 1
    # Signed for a challenge of the element before the deadline, but never sent.
    old.element.select_ap()  # type: ignore[attr-defined]
    early = old.api.signed_instruction(pending[0]["id"], old.element.get_challenge(16))  # type: ignore[attr-defined]
    world.clock.advance(dt.timedelta(hours=48, seconds=1))
    assert old.api.instructions() == []  # type: ignore[attr-defined]
    assert old.sync_instructions() == []  # type: ignore[attr-defined]
    # The service no longer signs it; the element refuses the early one (expired, 69 82).
    with pytest.raises(PortalProblem) as refused:
        old.api.signed_instruction(pending[0]["id"], bytes(16))  # type: ignore[attr-defined]
    assert refused.value.code == "instruction-expired"
    with pytest.raises(SecurityStatusNotSatisfied):
        old.element.send_instruction(early)  # type: ignore[attr-defined]
    assert old.element.presence() == {Hierarchy.SIGN: True, Hierarchy.AUTH: True}  # type: ignore[attr-defined]
