# ruff: noqa: RUF001, RUF002 - the document is Japanese, full-width punctuation and all
"""The app's rules (user's document ①–⑬ and JPKI-FACTS "Flows") on the FakeWorld."""

from __future__ import annotations

import datetime as dt

import pytest
from app_walk import CARD_PASSWORD, NEW_AUTH_PIN, NEW_SIGN_PASSWORD, Phones, walk_model_change

from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.app.backend import (
    AppCertStatus,
    ApplicationDraft,
    NewSecrets,
    PushKind,
    Rejected,
    Unavailable,
)
from mobile_jpki.phone.app.events import ComeOnline, Press, PushReceived, TapCard, Toggle, TypeText
from mobile_jpki.phone.app.fake import FakeBackend, FakeWorld
from mobile_jpki.phone.app.flows import PhoneApp
from mobile_jpki.phone.app.screens import ButtonStyle, DialogId, MessageCode, Screen, ScreenId
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.documents import ApplicationKind

BOTH = {Hierarchy.SIGN: AppCertStatus.REGISTERED, Hierarchy.AUTH: AppCertStatus.REGISTERED}


def _noop(_name: str, _screen: Screen) -> None:
    pass


def open_form(app: PhoneApp, button: str = "model_change") -> Screen:
    app.dispatch(Press("my_page"))
    return app.dispatch(Press(button))


def fill_form(app: PhoneApp, password: str = CARD_PASSWORD) -> Screen:
    app.dispatch(TypeText("card_sign_password", password))
    app.dispatch(Toggle("confirmed"))
    return app.dispatch(Press("apply"))


def set_new_passwords(app: PhoneApp, sign: str | None, auth: str | None) -> Screen:
    screen = app.screen()
    for value in (sign, auth):
        if value is None:
            continue
        app.dispatch(TypeText("new_password", value))
        app.dispatch(TypeText("new_password_again", value))
        screen = app.dispatch(Press("next"))
    return screen


# --- the model change, end to end -------------------------------------------------------------


def test_model_change_issues_to_the_new_phone_and_revokes_the_old(phones: Phones) -> None:
    walk_model_change(phones.new, _noop)
    world = phones.world
    assert world.devices["new-phone"].status == BOTH
    old = world.devices["old-phone"]
    assert set(old.status.values()) == {AppCertStatus.REVOKED}
    assert len(old.instructions) == 1
    # the new passwords are the ones typed on ⑩
    check = world.backend("new-phone").self_check(NEW_SIGN_PASSWORD, NEW_AUTH_PIN)
    assert check.sign is check.auth is not None


# --- ④ the card signing password ---------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["ABC12", "ABCDEFGHIJ1234567", "ABCDEF", "123456", "ABC12!", "ＡＢＣ１２３", "ABC 123", ""],
)
def test_card_password_format_is_checked_before_the_card_is_read(
    phones: Phones, password: str
) -> None:
    open_form(phones.new)
    screen = fill_form(phones.new, password)
    assert screen.id is ScreenId.APPLY_FORM
    assert screen.message is not None and screen.message.code is MessageCode.PASSWORD_FORMAT
    assert ("new-phone", "start_application") not in phones.world.calls
    assert phones.world.card_sign.tries_left == 5  # a typo never costs a card try


def test_lowercase_card_password_is_upper_cased(phones: Phones) -> None:
    open_form(phones.new)
    phones.new.dispatch(TypeText("card_sign_password", "abc123"))
    field = next(
        e for e in phones.new.screen().body if getattr(e, "name", "") == "card_sign_password"
    )
    assert getattr(field, "value", None) == "ABC123"
    phones.new.dispatch(Toggle("confirmed"))
    phones.new.dispatch(Press("apply"))
    screen = phones.new.dispatch(TapCard())
    assert screen.dialog is not None  # the card accepted it


# --- ⑤ ⑥ ⑦ the certificates and the terms ----------------------------------------------------


def test_either_certificate_may_be_unticked_but_not_both(phones: Phones) -> None:
    screen = open_form(phones.new)
    assert screen.checkbox("cert_sign").checked and screen.checkbox("cert_auth").checked  # type: ignore[union-attr]
    screen = phones.new.dispatch(Toggle("cert_auth"))
    assert not screen.checkbox("cert_auth").checked  # type: ignore[union-attr]
    screen = phones.new.dispatch(Toggle("cert_sign"))
    assert screen.checkbox("cert_sign").checked  # type: ignore[union-attr]
    assert screen.message is not None and screen.message.code is MessageCode.CHOOSE_ONE_CERT
    screen = phones.new.dispatch(Toggle("cert_auth"))
    assert screen.checkbox("cert_auth").checked and screen.message is None  # type: ignore[union-attr]


def test_apply_is_enabled_only_once_the_terms_are_confirmed(phones: Phones) -> None:
    open_form(phones.new)
    phones.new.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    assert phones.new.screen().button("apply").enabled is False  # type: ignore[union-attr]
    assert phones.new.dispatch(Press("apply")).id is ScreenId.APPLY_FORM
    screen = phones.new.dispatch(Toggle("confirmed"))
    assert screen.button("apply").enabled is True  # type: ignore[union-attr]
    screen = phones.new.dispatch(Toggle("confirmed"))
    assert screen.button("apply").enabled is False  # type: ignore[union-attr]


def test_only_the_ticked_certificate_is_applied_for(phones: Phones) -> None:
    open_form(phones.new)
    phones.new.dispatch(Toggle("cert_auth"))
    fill_form(phones.new)
    phones.new.dispatch(TapCard())
    screen = phones.new.dispatch(Press("agree_next"))
    assert [e.name for e in screen.body if getattr(e, "kind", None) == "label"] == ["sign"]
    screen = set_new_passwords(phones.new, NEW_SIGN_PASSWORD, None)
    assert screen.id is ScreenId.APPLY_DONE
    status = phones.world.devices["new-phone"].status
    assert status == {Hierarchy.SIGN: AppCertStatus.READY, Hierarchy.AUTH: AppCertStatus.NONE}


# --- ⑧ ⑨ the card and the dialog ---------------------------------------------------------------


def test_wrong_card_password_returns_to_the_form_with_tries_left(phones: Phones) -> None:
    open_form(phones.new)
    phones.new.dispatch(Toggle("cert_auth"))
    fill_form(phones.new, "WRONG1")
    screen = phones.new.dispatch(TapCard())
    assert screen.id is ScreenId.APPLY_FORM
    assert screen.message is not None
    assert screen.message.code is MessageCode.WRONG_CARD_SECRET
    assert "4" in screen.message.render(Lang.JA)
    assert not screen.checkbox("cert_auth").checked  # type: ignore[union-attr]  # ticks kept
    assert "card_sign_password" not in phones.new.state.fields


def test_card_password_locks_after_five_wrong_tries(phones: Phones) -> None:
    open_form(phones.new)
    fill_form(phones.new, "WRONG1")
    screen = phones.new.dispatch(TapCard())
    for _ in range(4):  # the form keeps 確認しました ticked: type, apply, tap again
        phones.new.dispatch(TypeText("card_sign_password", "WRONG1"))
        assert phones.new.dispatch(Press("apply")).id is ScreenId.CARD_READ
        screen = phones.new.dispatch(TapCard())
    assert screen.message is not None and screen.message.code is MessageCode.CARD_LOCKED


def test_no_dialog_when_no_other_device_holds_certificates(
    world: FakeWorld, clock: FixedClock
) -> None:
    app = PhoneApp(world.backend("first-phone"), clock)
    screen = open_form(app, "menu_apply")
    assert screen.id is ScreenId.APPLY_FORM
    fill_form(app)
    screen = app.dispatch(TapCard())
    assert screen.dialog is None and screen.id is ScreenId.NEW_PASSWORD
    screen = set_new_passwords(app, NEW_SIGN_PASSWORD, NEW_AUTH_PIN)
    assert screen.id is ScreenId.APPLY_DONE


def test_quit_on_the_dialog_changes_nothing_anywhere(phones: Phones) -> None:
    open_form(phones.new)
    fill_form(phones.new)
    before = phones.world.snapshot()
    screen = phones.new.dispatch(TapCard())
    assert screen.dialog is not None
    assert [b.name for b in screen.dialog.buttons] == ["agree_next", "quit"]
    screen = phones.new.dispatch(Press("quit"))
    assert screen.id is ScreenId.MY_PAGE and screen.dialog is None
    assert phones.world.snapshot() == before
    assert phones.world.mutating_calls() == []
    assert phones.world.devices["old-phone"].status == BOTH


def test_tapping_the_card_while_the_dialog_is_up_does_nothing(phones: Phones) -> None:
    open_form(phones.new)
    fill_form(phones.new)
    phones.new.dispatch(TapCard())
    calls = len(phones.world.calls)
    assert phones.new.dispatch(TapCard()).dialog is not None
    assert len(phones.world.calls) == calls


# --- ⑩ ⑪ new passwords -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sign", "again", "code"),
    [
        ("SHORT", "SHORT", MessageCode.PASSWORD_FORMAT),
        ("ONLYLETTERS", "ONLYLETTERS", MessageCode.PASSWORD_FORMAT),
        ("NEW456", "NEW457", MessageCode.PASSWORD_MISMATCH),
    ],
)
def test_new_sign_password_rules(phones: Phones, sign: str, again: str, code: MessageCode) -> None:
    open_form(phones.new)
    fill_form(phones.new)
    phones.new.dispatch(TapCard())
    phones.new.dispatch(Press("agree_next"))
    phones.new.dispatch(TypeText("new_password", sign))
    phones.new.dispatch(TypeText("new_password_again", again))
    screen = phones.new.dispatch(Press("next"))
    assert screen.id is ScreenId.NEW_PASSWORD and screen.message is not None
    assert screen.message.code is code
    assert phones.world.mutating_calls() == []


@pytest.mark.parametrize(
    ("pin", "again", "code"),
    [
        ("123", "123", MessageCode.PIN_FORMAT),
        ("12345", "12345", MessageCode.PIN_FORMAT),
        ("12A4", "12A4", MessageCode.PIN_FORMAT),
        ("1234", "4321", MessageCode.PIN_MISMATCH),  # a 暗証番号, never 「パスワード」
    ],
)
def test_new_auth_pin_rules(phones: Phones, pin: str, again: str, code: MessageCode) -> None:
    open_form(phones.new)
    fill_form(phones.new)
    phones.new.dispatch(TapCard())
    phones.new.dispatch(Press("agree_next"))
    set_new_passwords(phones.new, NEW_SIGN_PASSWORD, None)
    phones.new.dispatch(TypeText("new_password", pin))
    phones.new.dispatch(TypeText("new_password_again", again))
    screen = phones.new.dispatch(Press("next"))
    assert screen.message is not None and screen.message.code is code
    assert ("new-phone", "confirm_application") not in phones.world.calls


# --- ⑫ ⑬ push, my page, register ---------------------------------------------------------------


def test_push_then_my_page_shows_ready_per_certificate(phones: Phones) -> None:
    open_form(phones.new)
    fill_form(phones.new)
    phones.new.dispatch(TapCard())
    phones.new.dispatch(Press("agree_next"))
    set_new_passwords(phones.new, NEW_SIGN_PASSWORD, NEW_AUTH_PIN)
    screen = phones.new.poll()  # the fake service queued the push
    assert screen.banner is not None and screen.banner.title_id == "push_ready"
    screen = phones.new.dispatch(Press("to_my_page"))
    statuses = [(e.text_id, e.detail_id) for e in screen.body if getattr(e, "detail_id", "")]
    assert statuses == [("cert_auth", "ready_status"), ("cert_sign", "ready_status")]
    assert screen.button("register") is not None


def test_push_off_delivers_no_banner_but_my_page_still_shows_ready(phones: Phones) -> None:
    phones.new.dispatch(Press("my_page"))
    screen = phones.new.dispatch(Press("push"))
    assert "menu_push_off" in [getattr(e, "label_id", "") for e in screen.body]
    phones.new.dispatch(Press("model_change"))
    fill_form(phones.new)
    phones.new.dispatch(TapCard())
    phones.new.dispatch(Press("agree_next"))
    set_new_passwords(phones.new, NEW_SIGN_PASSWORD, NEW_AUTH_PIN)
    assert phones.new.poll().banner is None
    screen = phones.new.dispatch(Press("to_my_page"))
    assert screen.button("register") is not None


def test_push_arriving_on_my_page_refreshes_it(phones: Phones) -> None:
    open_form(phones.new)
    fill_form(phones.new)
    phones.new.dispatch(TapCard())
    phones.new.dispatch(Press("agree_next"))
    set_new_passwords(phones.new, NEW_SIGN_PASSWORD, NEW_AUTH_PIN)
    phones.new.state = phones.new.state.__class__(screen=ScreenId.MY_PAGE)
    screen = phones.new.dispatch(PushReceived(PushKind.READY))
    assert screen.button("register") is not None


def test_register_done_offers_biometrics_only_with_a_user_auth_certificate(
    world: FakeWorld, clock: FixedClock
) -> None:
    app = PhoneApp(world.backend("p"), clock)
    open_form(app, "menu_apply")
    app.dispatch(Toggle("cert_auth"))
    fill_form(app)
    app.dispatch(TapCard())
    set_new_passwords(app, NEW_SIGN_PASSWORD, None)
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("register"))
    screen = app.dispatch(Press("register"))
    assert screen.id is ScreenId.REGISTER_DONE
    assert screen.button("enrol_biometrics") is None
    assert screen.button("self_check") is not None


def test_biometrics_and_self_check_after_registration(phones: Phones) -> None:
    walk_model_change(phones.new, _noop)
    app = phones.new
    app.dispatch(Press("enrol_biometrics"))
    app.dispatch(TypeText("auth_pin", "0000"))
    screen = app.dispatch(Press("register"))
    assert screen.message is not None and screen.message.code is MessageCode.WRONG_PHONE_PIN
    app.dispatch(TypeText("auth_pin", NEW_AUTH_PIN))
    assert app.dispatch(Press("register")).id is ScreenId.DONE
    app.dispatch(Press("to_my_page"))
    screen = app.dispatch(Press("self_check"))
    assert screen.field_names() == ["sign_password"]  # biometrics stand in for the PIN only
    app.dispatch(TypeText("sign_password", NEW_SIGN_PASSWORD))
    screen = app.dispatch(Press("self_check"))
    assert [e.detail_id for e in screen.body if getattr(e, "detail_id", "")] == [
        "self_check_ok",
        "self_check_ok",
    ]


# --- the surrounding lifecycle ----------------------------------------------------------------


def _my_page(app: PhoneApp) -> Screen:
    return (
        app.dispatch(Press("my_page"))
        if app.state.screen is ScreenId.HOME
        else app.dispatch(Press("to_my_page"))
    )


def test_revoke_this_phone(phones: Phones) -> None:
    app = phones.old
    _my_page(app)
    screen = app.dispatch(Press("revoke_own"))
    assert screen.id is ScreenId.REVOKE_OWN
    app.dispatch(TypeText("secret", "BAD999"))
    app.dispatch(Press("revoke_do"))
    screen = app.dispatch(Press("revoke_confirm"))
    assert screen.message is not None and screen.message.code is MessageCode.WRONG_PHONE_SECRET
    app.dispatch(TypeText("secret", "old123"))
    assert app.dispatch(Press("revoke_do")).id is ScreenId.REVOKE_OWN
    assert app.dispatch(Press("revoke_confirm")).id is ScreenId.DONE
    assert set(phones.world.devices["old-phone"].status.values()) == {AppCertStatus.REVOKED}


def test_revoke_asks_for_confirmation_before_anything_is_revoked(phones: Phones) -> None:
    app = phones.old
    _my_page(app)
    screen = app.dispatch(Press("revoke_own"))
    assert screen.button("revoke_do").style is ButtonStyle.DESTRUCTIVE  # type: ignore[union-attr]
    app.dispatch(TypeText("secret", "OLD123"))
    screen = app.dispatch(Press("revoke_do"))
    assert screen.dialog is not None and screen.dialog.id is DialogId.REVOKE_OWN_CONFIRM
    confirm, cancel = screen.dialog.buttons
    assert (confirm.name, confirm.style) == ("revoke_confirm", ButtonStyle.DESTRUCTIVE)
    assert (cancel.name, cancel.style) == ("revoke_cancel", ButtonStyle.SECONDARY)
    assert "スマホ用電子証明書を失効しますか？" in screen.texts()
    assert phones.world.mutating_calls() == []  # nothing is revoked before the confirmation
    assert app.dispatch(Press("back")).dialog is not None  # the dialog is modal
    screen = app.dispatch(Press("revoke_cancel"))
    assert screen.id is ScreenId.REVOKE_OWN and screen.dialog is None
    assert phones.world.devices["old-phone"].status == BOTH
    # the other phone's 失効 asks too, before the card is read
    phones.new.dispatch(Press("my_page"))
    screen = phones.new.dispatch(Press("revoke_other"))
    assert screen.button("revoke_do").style is ButtonStyle.DESTRUCTIVE  # type: ignore[union-attr]
    phones.new.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    screen = phones.new.dispatch(Press("revoke_do"))
    assert screen.dialog is not None and screen.dialog.id is DialogId.REVOKE_OTHER_CONFIRM
    assert phones.new.dispatch(Press("revoke_cancel")).id is ScreenId.REVOKE_OTHER
    assert phones.world.mutating_calls() == []


def test_revoke_another_phone_with_the_card(phones: Phones) -> None:
    app = phones.new
    _my_page(app)
    app.dispatch(Press("revoke_other"))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Press("revoke_do"))
    screen = app.dispatch(Press("revoke_confirm"))
    assert screen.id is ScreenId.CARD_READ and screen.awaits_card
    assert phones.world.mutating_calls() == []
    screen = app.dispatch(TapCard())
    assert screen.id is ScreenId.DONE
    assert set(phones.world.devices["old-phone"].status.values()) == {AppCertStatus.REVOKED}
    # a second time there is nothing to revoke: a coded message, not an exception
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("revoke_other"))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Press("revoke_do"))
    app.dispatch(Press("revoke_confirm"))
    screen = app.dispatch(TapCard())
    assert screen.id is ScreenId.REVOKE_OTHER
    assert screen.message is not None and screen.message.code is MessageCode.NO_OTHER_DEVICE


def test_password_reset_of_the_signing_certificate(phones: Phones) -> None:
    app = phones.old
    _my_page(app)
    screen = app.dispatch(Press("password_reset"))
    assert screen.button("reset_sign") is not None and screen.button("reset_auth") is not None
    app.dispatch(Press("reset_sign"))
    app.dispatch(TypeText("card_secret", CARD_PASSWORD))
    assert app.dispatch(Press("next")).id is ScreenId.CARD_READ
    assert app.dispatch(TapCard()).id is ScreenId.RESET_NEW
    set_new_passwords(app, "RESET99", None)
    assert app.screen().id is ScreenId.DONE
    assert phones.world.backend("old-phone").self_check("RESET99", "5678").sign is not None


def test_password_reset_of_the_auth_certificate_also_uses_the_card_signing_password(
    phones: Phones,
) -> None:
    app = phones.old
    _my_page(app)
    app.dispatch(Press("password_reset"))
    app.dispatch(Press("reset_auth"))
    app.dispatch(TypeText("card_secret", "1234"))  # a PIN is not the card signing password
    screen = app.dispatch(Press("next"))
    assert screen.message is not None and screen.message.code is MessageCode.PASSWORD_FORMAT
    app.dispatch(TypeText("card_secret", CARD_PASSWORD))
    app.dispatch(Press("next"))
    app.dispatch(TapCard())
    set_new_passwords(app, None, "9999")
    assert app.screen().id is ScreenId.DONE
    assert phones.world.backend("old-phone").self_check("OLD123", "9999").auth is not None


def test_hotline_suspension_and_release_reissues_the_signing_certificate(
    phones: Phones,
) -> None:
    phones.world.operator().suspend_by_hotline()
    app = phones.old
    screen = _my_page(app)
    assert [e.detail_id for e in screen.body if getattr(e, "detail_id", "")] == [
        "status_suspended",
        "status_suspended",
    ]
    app.dispatch(Press("release"))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Press("next"))
    screen = app.dispatch(TapCard())
    # The signing certificate is re-issued in the same flow: its new password first.
    assert screen.id is ScreenId.NEW_PASSWORD and screen.guide == ()
    app.dispatch(TypeText("new_password", "NEWPW777"))
    app.dispatch(TypeText("new_password_again", "NEWPW777"))
    screen = app.dispatch(Press("next"))
    assert screen.id is ScreenId.DONE
    assert screen.body[0].text_id == "release_done_reissue"  # type: ignore[union-attr]
    status = phones.world.devices["old-phone"].status
    assert status == {Hierarchy.SIGN: AppCertStatus.READY, Hierarchy.AUTH: AppCertStatus.REGISTERED}
    assert app.poll().banner is not None  # the re-issued signing certificate is ready
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("register"))
    assert app.dispatch(Press("register")).id is ScreenId.REGISTER_DONE
    assert phones.world.devices["old-phone"].status == BOTH
    password = phones.world.devices["old-phone"].sign_password
    assert password is not None and password.value == "NEWPW777"


def test_change_of_address_revokes_signing_only(phones: Phones) -> None:
    phones.world.operator().change_of_address()
    assert phones.world.devices["old-phone"].status == {
        Hierarchy.SIGN: AppCertStatus.REVOKED,
        Hierarchy.AUTH: AppCertStatus.REGISTERED,
    }


# --- the old phone ------------------------------------------------------------------------------


def test_old_phone_online_within_48_hours_deletes_and_tells_its_owner(
    phones: Phones, clock: FixedClock
) -> None:
    walk_model_change(phones.new, _noop)
    clock.advance(dt.timedelta(hours=47, minutes=59))
    screen = phones.old.dispatch(ComeOnline())
    assert screen.id is ScreenId.OLD_PHONE_NOTICE
    assert screen.body[0].text_id == "old_phone_deleted"  # type: ignore[union-attr]
    assert set(phones.world.devices["old-phone"].status.values()) == {AppCertStatus.NONE}
    assert phones.world.devices["old-phone"].instructions == []


def test_old_phone_online_after_48_hours_keeps_them_revoked(
    phones: Phones, clock: FixedClock
) -> None:
    walk_model_change(phones.new, _noop)
    clock.advance(dt.timedelta(hours=48, seconds=1))
    screen = phones.old.dispatch(ComeOnline())
    assert screen.body[0].text_id == "old_phone_kept"  # type: ignore[union-attr]
    assert ("old-phone", "delete_certificates") not in phones.world.calls
    assert set(phones.world.devices["old-phone"].status.values()) == {AppCertStatus.REVOKED}


def test_the_48_hour_notice_is_shown_once_and_ok_leaves_it(
    phones: Phones, clock: FixedClock
) -> None:
    """The simulator has the phone come online every second: after OK the notice stays gone,
    also after a restart of the app (the phone remembers it)."""
    walk_model_change(phones.new, _noop)
    clock.advance(dt.timedelta(hours=49))
    assert phones.old.dispatch(ComeOnline()).id is ScreenId.OLD_PHONE_NOTICE
    # Still unread: coming online again keeps showing it, and only it.
    assert phones.old.dispatch(ComeOnline()).id is ScreenId.OLD_PHONE_NOTICE
    assert phones.old.dispatch(Press("ok")).id is ScreenId.MY_PAGE
    for _ in range(3):
        assert phones.old.dispatch(ComeOnline()).id is ScreenId.MY_PAGE
    restarted = PhoneApp(phones.world.backend("old-phone"), clock)
    assert restarted.dispatch(ComeOnline()).id is ScreenId.HOME
    assert set(phones.world.devices["old-phone"].status.values()) == {AppCertStatus.REVOKED}
    assert ("old-phone", "notice_shown") not in phones.world.mutating_calls()


def test_come_online_without_instructions_stays_put(phones: Phones) -> None:
    assert phones.old.dispatch(ComeOnline()).id is ScreenId.HOME


# --- errors never escape ------------------------------------------------------------------------


def test_offline_backend_becomes_a_message(phones: Phones) -> None:
    phones.world.devices["new-phone"].online = False
    screen = phones.new.dispatch(Press("my_page"))
    assert screen.message is not None and screen.message.code is MessageCode.UNAVAILABLE


class _Broken(FakeBackend):
    def start_application(
        self,
        kind: ApplicationKind,
        certs: frozenset[Hierarchy],
        terms_version: str,
        card_sign_password: str,
    ) -> ApplicationDraft:
        raise RuntimeError("adapter bug")

    def confirm_application(
        self, draft: ApplicationDraft, *, consent_to_revoke: bool, secrets: NewSecrets
    ) -> None:
        raise Rejected("brand-new-code")


def test_unexpected_errors_become_a_coded_message(world: FakeWorld, clock: FixedClock) -> None:
    world.device("p")
    app = PhoneApp(_Broken(world, "p"), clock)
    open_form(app)
    fill_form(app)
    screen = app.dispatch(TapCard())
    assert screen.message is not None and screen.message.code is MessageCode.OTHER
    assert dict(screen.message.params) == {"code": "internal-error"}


def test_unknown_rejection_code_is_kept_but_never_shown(
    world: FakeWorld, clock: FixedClock
) -> None:
    world.device("p")
    app = PhoneApp(_Broken(world, "p"), clock)
    app.state = app.state.__class__(
        screen=ScreenId.NEW_PASSWORD,
        password_step=Hierarchy.AUTH,
        draft=ApplicationDraft("d", ApplicationKind.FIRST, frozenset({Hierarchy.AUTH}), False),
    )
    screen = set_new_passwords(app, None, "1234")
    assert screen.message is not None and screen.message.code is MessageCode.OTHER
    assert ("code", "brand-new-code") in screen.message.params  # for logs and tests
    for lang in Lang:
        assert "brand-new-code" not in screen.message.render(lang)


def test_unavailable_is_mapped(world: FakeWorld) -> None:
    from mobile_jpki.phone.app.messages import message_for

    assert message_for(Unavailable("x")).code is MessageCode.UNAVAILABLE
    assert message_for(Rejected("not-eligible")).code is MessageCode.NOT_ELIGIBLE


def test_under_15_cannot_apply_for_a_signing_certificate(clock: FixedClock) -> None:
    world = FakeWorld(clock, under_15=True)
    app = PhoneApp(world.backend("p"), clock)
    open_form(app, "menu_apply")
    fill_form(app)
    screen = app.dispatch(TapCard())
    assert screen.message is not None and screen.message.code is MessageCode.NOT_ELIGIBLE


def test_poll_keeps_my_page_current(phones: Phones) -> None:
    _my_page(phones.old)
    phones.world.operator().suspend_by_hotline()
    screen = phones.old.poll()
    assert "status_suspended" in [getattr(e, "detail_id", "") for e in screen.body]


def test_consent_asked_at_confirm_when_another_device_got_certificates_meanwhile(
    world: FakeWorld, clock: FixedClock
) -> None:
    app = PhoneApp(world.backend("new"), clock)
    open_form(app, "menu_apply")
    fill_form(app)
    assert app.dispatch(TapCard()).id is ScreenId.NEW_PASSWORD  # nobody else held any
    world.give_registered_certificates("other")  # ...until now
    app.dispatch(TypeText("new_password", NEW_SIGN_PASSWORD))
    app.dispatch(TypeText("new_password_again", NEW_SIGN_PASSWORD))
    app.dispatch(Press("next"))
    app.dispatch(TypeText("new_password", NEW_AUTH_PIN))
    app.dispatch(TypeText("new_password_again", NEW_AUTH_PIN))
    screen = app.dispatch(Press("next"))
    assert screen.dialog is not None and screen.id is ScreenId.NEW_PASSWORD
    assert app.dispatch(Press("next")).dialog is not None  # the dialog is modal
    assert world.devices["other"].status == BOTH  # nothing applied yet
    screen = app.dispatch(Press("agree_next"))
    assert screen.id is ScreenId.APPLY_DONE
    assert set(world.devices["other"].status.values()) == {AppCertStatus.REVOKED}
    assert world.devices["new"].status == {
        Hierarchy.SIGN: AppCertStatus.READY,
        Hierarchy.AUTH: AppCertStatus.READY,
    }


def test_quit_on_a_late_consent_dialog_applies_nothing(world: FakeWorld, clock: FixedClock) -> None:
    app = PhoneApp(world.backend("new"), clock)
    open_form(app, "menu_apply")
    app.dispatch(Toggle("cert_auth"))
    fill_form(app)
    app.dispatch(TapCard())
    world.give_registered_certificates("other")
    screen = set_new_passwords(app, NEW_SIGN_PASSWORD, None)
    assert screen.dialog is not None
    assert app.dispatch(Press("quit")).id is ScreenId.MY_PAGE
    assert world.devices["other"].status == BOTH
    assert set(world.devices["new"].status.values()) == {AppCertStatus.NONE}


def test_poll_survives_an_adapter_bug(
    phones: Phones, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The simulator polls every second: a bug in an adapter must show a coded message, not
    escape as an exception (a 500 on the page)."""
    app = phones.new
    app.dispatch(Press("my_page"))
    backend = app.backend

    def broken(*_args: object) -> object:
        raise RuntimeError("adapter bug")

    monkeypatch.setattr(backend, "receive_pushes", broken)
    assert app.poll().id is ScreenId.MY_PAGE  # pushes fail: the screen stays
    monkeypatch.setattr(backend, "receive_pushes", lambda: [])
    monkeypatch.setattr(backend, "my_page", broken)
    screen = app.poll()
    assert screen.id is ScreenId.MY_PAGE
    assert screen.message is not None and screen.message.code is MessageCode.OTHER
    assert dict(screen.message.params) == {"code": "internal-error"}
