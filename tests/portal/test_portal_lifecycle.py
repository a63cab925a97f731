"""Around the model change: 異動, card replacement, 失効 from the phone and from my page,
hotline hold and release (signing certificate re-issued), 初期化, push off, 有効性確認."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from cryptography import x509
from portal_world import CARD_PASSWORD, World, facts
from sqlalchemy import event

from mobile_jpki.phone.client import PortalProblem
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.pki.issuance import IssuanceRequest, Issuer
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.errors import WrongSecret

BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)
PW, PIN = "PHONE123", "1234"


def registered(world: World, card: object, name: str = "p") -> ScriptedPhone:
    phone = world.new_phone(name)
    phone.apply(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
    )  # type: ignore[arg-type]
    world.work()
    phone.register(sign_password=PW, auth_pin=PIN)
    world.inbox(phone)
    return phone


def states(phone: ScriptedPhone) -> dict[str, tuple[str, int | None]]:
    latest: dict[str, tuple[str, int | None]] = {}
    for c in phone.check_validity():
        latest[c["kind"]] = (c["status"], c["reason"])
    return latest


def test_move_revokes_every_signing_certificate_auth_survives(world: World) -> None:
    person, _, card = world.resident()
    phone = registered(world, card)
    revoked = world.operator.change_facts(person, **facts(address="大阪府大阪市北区中之島一丁目"))
    assert len(revoked) == 2  # the card's and the phone's signing certificates
    assert states(phone) == {"phone-sign": ("revoked", 3), "phone-auth": ("good", None)}
    assert world.inbox(phone) == ["certificates-changed"]
    # The old card signing certificate can no longer sign applications.
    other = world.new_phone("other")
    with pytest.raises(PortalProblem) as refused:
        other.apply(
            card,
            card_password=CARD_PASSWORD,
            certificates=BOTH,
            sign_password=PW,
            auth_pin=PIN,
            model_change=True,
            consent=True,
        )
    assert refused.value.code == "card-certificate-revoked"


def test_card_replacement_revokes_phone_certificates_and_asks_to_apply_again(world: World) -> None:
    _, card_id, card = world.resident()
    phone = registered(world, card)
    world.operator.replace_card(card_id)
    assert {s for s, _ in states(phone).values()} == {"revoked"}
    assert len(phone.sync_instructions()) == 1  # deleted from the phone within 48 hours
    assert phone.element.presence() == {Hierarchy.SIGN: False, Hierarchy.AUTH: False}


def test_revoke_from_the_phone_itself(world: World) -> None:
    person, _, card = world.resident()
    phone = registered(world, card)
    with pytest.raises(WrongSecret):
        phone.revoke(sign_password="WRONG999", certificates=BOTH)
    serials = phone.revoke(sign_password=PW, certificates=BOTH)
    assert len(serials) == 2
    assert states(phone) == {"phone-sign": ("revoked", 5), "phone-auth": ("revoked", 5)}
    assert world.service.holders(person) == []


def test_revoke_another_phone_from_my_page(world: World) -> None:
    person, _, card = world.resident()
    lost = registered(world, card, "lost")
    here = world.new_phone("here")
    serials = here.revoke_other(card, card_password=CARD_PASSWORD)
    assert len(serials) == 2
    assert world.service.holders(person) == []
    assert world.inbox(lost) == ["deletion-pending"]


def test_hotline_hold_then_release_reissues_the_signing_certificate(world: World) -> None:
    """JPKI-FACTS "Loss or theft", in one flow: the hotline holds the phone's certificates and
    the card's; release in the app un-holds user-auth, revokes signing and applies at once
    for its successor under the new password set there; the card's hold is lifted too."""
    person, _, card = world.resident()
    phone = registered(world, card)
    held = world.hotline.hold_phone(person)
    assert len(held) == 4  # the phone's two and the card's two
    assert states(phone) == {"phone-sign": ("held", None), "phone-auth": ("held", None)}
    assert {e["state"] for e in phone.my_page()["entries"]} == {"held"}
    world.clock.advance(dt.timedelta(minutes=1))
    result = phone.release_hold(card, card_password=CARD_PASSWORD, new_sign_password="NEWPW777")
    assert {k: v for k, v in result.items() if k.startswith("phone")} == {
        "phone-auth": "released",
        "phone-sign": "reissued",
    }
    assert sorted(v for k, v in result.items() if k.startswith("card:")) == ["released"] * 2
    # The slot was cleared by the service's instruction inside the flow: nothing is left
    # for the next time the phone comes online (no old-phone notice).
    assert phone.sync_instructions() == []
    world.work()
    assert phone.register(sign_password="NEWPW777", auth_pin=PIN) == ["phone-sign"]
    assert states(phone) == {"phone-sign": ("good", None), "phone-auth": ("good", None)}


def test_password_reset_sets_a_new_phone_signing_password(world: World) -> None:
    _, _, card = world.resident()
    phone = registered(world, card)
    phone.reset_password(
        card, card_password=CARD_PASSWORD, certificate=Hierarchy.SIGN, new_secret="RESET999"
    )
    phone.element.select_ap()
    with pytest.raises(WrongSecret):
        phone.element.verify(Hierarchy.SIGN, PW)
    phone.element.verify(Hierarchy.SIGN, "RESET999")
    phone.reset_password(
        card, card_password=CARD_PASSWORD, certificate=Hierarchy.AUTH, new_secret="4321"
    )
    phone.element.select_ap()
    phone.element.verify(Hierarchy.AUTH, "4321")


def test_push_off_still_shows_registration_ready_on_my_page(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("quiet")
    phone.api.set_push(False)
    phone.apply(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
    )
    world.work()
    assert world.inbox(phone) == []
    page = phone.my_page()
    assert page["push_enabled"] is False
    assert [e["label"] for e in page["entries"]] == ["登録準備が完了しています"] * 2
    phone.api.set_push(True)
    world.clock.advance(dt.timedelta(seconds=1))
    assert phone.register(sign_password=PW, auth_pin=PIN)


def test_an_application_fails_when_the_card_is_replaced_before_issuance(world: World) -> None:
    _, card_id, card = world.resident()
    phone = world.new_phone("p")
    phone.apply(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
    )
    world.operator.replace_card(card_id)
    assert world.work()[0] == 1
    assert world.inbox(phone) == ["application-failed"]
    assert phone.api.registrations() == []
    assert phone.check_validity() == []


def _applied(world: World, name: str) -> tuple[ScriptedPhone, object, str]:
    _, card_id, card = world.resident()
    phone = world.new_phone(name)
    phone.apply(
        card, card_password=CARD_PASSWORD, certificates=BOTH, sign_password=PW, auth_pin=PIN
    )  # type: ignore[arg-type]
    return phone, card, card_id


def test_jobs_of_one_batch_fail_retry_and_succeed_each_on_its_own(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issuance jobs are committed in batches (group commit), all or nothing; when a job of
    a batch fails, the batch's jobs run again one per transaction: the job whose card was
    replaced fails (application-failed), the one whose issuance raised is put back for a
    retry with nothing of it kept, and the third is issued."""
    world.service.config = dataclasses.replace(world.service.config, jobs_per_transaction=8)
    failing, _, failing_card = _applied(world, "failing")
    world.operator.replace_card(failing_card)
    flaky, _, _ = _applied(world, "flaky")
    fine, _, _ = _applied(world, "fine")
    sign_certificate = Issuer.issue
    calls: list[int] = []

    def once_broken(self: Issuer, request: IssuanceRequest) -> x509.Certificate:
        # The first certificate signature fails (on a signing thread: the job learns of it
        # when the batch's signatures are collected, before its commit).
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("signer unreachable")
        return sign_certificate(self, request)

    monkeypatch.setattr(Issuer, "issue", once_broken)
    assert world.service.run_jobs(now=world.clock.now()) == 3
    assert world.inbox(failing) == ["application-failed"]
    assert world.inbox(flaky) == [] and flaky.api.registrations() == []
    assert flaky.check_validity() == []  # its certificates were rolled back with its savepoint
    assert world.inbox(fine) == ["registration-ready"]
    assert world.service.run_jobs(now=world.clock.now()) == 0  # the retry waits its backoff
    world.clock.advance(dt.timedelta(seconds=5))
    world.work()
    assert world.inbox(flaky) == ["registration-ready"]
    assert flaky.register(sign_password=PW, auth_pin=PIN)
    assert world.ca.audit.verify().ok


def test_due_jobs_commit_together(world: World) -> None:
    """Group commit: the due jobs of a pass are issued in one transaction (one commit)."""
    world.service.config = dataclasses.replace(world.service.config, jobs_per_transaction=8)
    phones = [_applied(world, f"p{i}")[0] for i in range(3)]
    commits: list[int] = []
    listen = event.listens_for(world.db.engine, "commit")(lambda _conn: commits.append(1))
    try:
        assert world.service.run_jobs(now=world.clock.now()) == 3
    finally:
        event.remove(world.db.engine, "commit", listen)
    assert len(commits) == 1
    for phone in phones:
        assert world.inbox(phone) == ["registration-ready"]
        assert phone.register(sign_password=PW, auth_pin=PIN)
    assert world.ca.audit.verify().ok
