# ruff: noqa: RUF001 - the app's texts are Japanese, full-width punctuation and all
"""The screens as the Mynaportal app draws them (issue 17): app bar and back arrow, home tiles,
button weight, my page's sections, the manual, one vocabulary, true notices, and a guide that
follows the phone's state."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter

import pytest
from app_walk import CARD_PASSWORD, NEW_AUTH_PIN, NEW_SIGN_PASSWORD, Phones, walk_model_change

from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.app.backend import AppInstruction, InstructionKind, Rejected
from mobile_jpki.phone.app.events import ComeOnline, Press, TapCard, Toggle, TypeText
from mobile_jpki.phone.app.flows import PhoneApp
from mobile_jpki.phone.app.messages import message_for
from mobile_jpki.phone.app.screens import (
    Button,
    ButtonStyle,
    Item,
    ItemKind,
    MessageCode,
    Screen,
    ScreenId,
)
from mobile_jpki.phone.app.texts import text
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.protocol.instructions import InstructionReason


def _walk(app: PhoneApp) -> list[tuple[str, Screen]]:
    seen: list[tuple[str, Screen]] = []
    walk_model_change(app, lambda name, screen: seen.append((name, screen)))
    return seen


def _to_new_passwords(app: PhoneApp) -> Screen:
    app.dispatch(Press("my_page"))
    app.dispatch(Press("model_change"))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Toggle("confirmed"))
    app.dispatch(Press("apply"))
    app.dispatch(TapCard())
    return app.dispatch(Press("agree_next"))


# --- the frame: app bar, home, button weight ----------------------------------------------------


def test_home_has_tiles_and_no_back_arrow(phones: Phones) -> None:
    screen = phones.new.screen()
    assert screen.back is None
    tiles = [b.name for b in screen.buttons() if b.style is ButtonStyle.TILE]
    assert tiles == ["my_page", "manual", "help", "authapp"]


def test_the_back_arrow_is_the_screens_back_action(phones: Phones) -> None:
    app = phones.new
    screen = app.dispatch(Press("my_page"))
    assert screen.back is not None and screen.back.name == "home"
    screen = app.dispatch(Press("model_change"))
    assert screen.back is not None and screen.back.name == "back"
    assert screen.button("back") is not None  # the arrow and 戻る are the same action
    assert app.dispatch(Press("back")).id is ScreenId.MY_PAGE
    assert app.dispatch(Press("home")).id is ScreenId.HOME


def test_the_primary_action_is_prominent_and_back_is_secondary(phones: Phones) -> None:
    seen = dict(_walk(phones.new))
    form = seen["03-apply-form"]
    assert form.button("apply").style is ButtonStyle.PRIMARY  # type: ignore[union-attr]
    assert form.button("back").style is ButtonStyle.SECONDARY  # type: ignore[union-attr]
    assert form.primary() == form.button("apply")
    dialog = seen["09-dialog"]
    assert dialog.primary() is not None and dialog.primary().name == "agree_next"  # type: ignore[union-attr]
    register = seen["12-register"]
    assert register.primary() == register.button("register")
    assert register.button("back").style is ButtonStyle.SECONDARY  # type: ignore[union-attr]
    for name, screen in seen.items():  # never two prominent actions on one screen
        body = screen.dialog.buttons if screen.dialog else screen.body
        primaries = [b for b in body if isinstance(b, Button) and b.style is ButtonStyle.PRIMARY]
        assert len(primaries) <= 1, name


def test_my_page_has_no_two_identical_rows_and_each_revoke_is_headed(phones: Phones) -> None:
    app = phones.old  # holds both certificates: its own 失効 and the other phone's
    screen = app.dispatch(Press("my_page"))
    labels = [text(b.label_id) for b in screen.body if isinstance(b, Button)]
    assert [k for k, n in Counter(labels).items() if n > 1] == []
    heading = ""
    under: dict[str, str] = {}
    for e in screen.body:
        if isinstance(e, Item) and e.kind is ItemKind.HEADING:
            heading = e.text_id
        elif isinstance(e, Button):
            under[e.name] = heading
    assert under["revoke_own"] == "menu_this_phone_heading"
    assert under["revoke_other"] == "menu_other_phone_heading"
    assert under["model_change"] == "menu_transfer_heading"
    assert under["push"] == "menu_push_heading"


# --- the manual and the help block --------------------------------------------------------------


def test_the_manual_links_are_links_to_an_in_app_manual(phones: Phones) -> None:
    app = phones.new
    screen = app.dispatch(Press("manual"))
    assert screen.id is ScreenId.MANUAL
    link = screen.button("manual_next")
    assert link is not None and link.style is ButtonStyle.LINK
    assert text(link.label_id) == "続きはこちら"
    steps = [e.text_id for e in screen.body if isinstance(e, Item) and e.kind is ItemKind.STEP]
    assert steps == [f"guide_step{n}" for n in range(1, 10)]
    screen = app.dispatch(Press("manual_next"))
    steps = [e.text_id for e in screen.body if isinstance(e, Item) and e.kind is ItemKind.STEP]
    assert steps == [f"guide_step{n}" for n in range(10, 14)]
    english = screen.texts(Lang.EN)
    assert '⑬ Press "Register"' in english
    assert app.dispatch(Press("back")).button("manual_next") is not None  # page 1 again
    assert app.dispatch(Press("back")).id is ScreenId.HOME


def test_register_done_links_to_the_manual(phones: Phones) -> None:
    seen = dict(_walk(phones.new))
    link = seen["13-register-done"].button("manual")
    assert link is not None and link.style is ButtonStyle.LINK
    assert text(link.label_id) == "マイナポータルアプリの操作マニュアルはこちら"


def test_the_help_screen_shows_the_whole_hotline_block(phones: Phones) -> None:
    screen = phones.new.dispatch(Press("help"))
    assert screen.id is ScreenId.HELP
    shown = screen.texts()
    for needle in (
        "0120-95-0178",
        "平日：9時30分～20時00分",
        "土日祝：9時30分～17時30分（年末年始を除く）",
        "050-3818-1250",
        "050-3816-9405",
        "0120-0178-26",
        "0120-0178-27",
        "紛失・盗難によるマイナンバーカードの一時利用停止については24時間365日受付！",
    ):
        assert needle in shown
    tels = [e.text_id for e in screen.body if isinstance(e, Item) and e.kind is ItemKind.TEL]
    assert len(tels) == 5
    assert phones.new.dispatch(Press("back")).id is ScreenId.HOME


# --- the guide follows the phone's state --------------------------------------------------------


def test_the_guide_follows_the_state_after_registration(phones: Phones) -> None:
    seen = dict(_walk(phones.new))
    assert seen["02-my-page"].guide == ("guide_step3",)
    assert seen["12-my-page-ready"].guide == ("guide_step12",)
    app = phones.new
    screen = app.dispatch(Press("to_my_page"))
    assert screen.id is ScreenId.MY_PAGE
    assert screen.guide == ()  # registered: 「③「機種変更」を押します」 is no longer a step
    assert app.dispatch(Press("home")).guide == ()


def test_the_old_phone_is_not_guided_through_the_new_phones_steps(phones: Phones) -> None:
    assert phones.old.poll().guide == ()  # home, after the app read its state
    assert phones.old.dispatch(Press("my_page")).guide == ()


# --- one vocabulary: 暗証番号 (4 digits) and パスワード (6-16) ---------------------------------


def test_the_user_auth_secret_is_a_pin_on_the_new_password_screens(phones: Phones) -> None:
    app = phones.new
    screen = _to_new_passwords(app)
    assert screen.title_id == "new_password_title" and "パスワード" in screen.texts()
    app.dispatch(TypeText("new_password", NEW_SIGN_PASSWORD))
    app.dispatch(TypeText("new_password_again", NEW_SIGN_PASSWORD))
    screen = app.dispatch(Press("next"))
    ja = screen.texts(Lang.JA)
    assert not any("パスワード" in t for t in ja), ja
    assert "暗証番号" in ja and "暗証番号（確認用）" in ja
    assert not any("password" in t.lower() for t in screen.texts(Lang.EN))


@pytest.mark.parametrize("code", list(MessageCode))
def test_messages_use_one_vocabulary(code: MessageCode) -> None:
    from mobile_jpki.phone.app.screens import Message

    ja = Message(code, (("tries_left", "2"), ("code", "x"))).render(Lang.JA)
    ja = re.sub(r"「[^」]*」", "", ja)  # a menu's name quoted in the message is not the secret
    en = Message(code, (("tries_left", "2"), ("code", "x"))).render(Lang.EN)
    if "pin" in code.value:
        assert "暗証番号" in ja and "パスワード" not in ja, ja
        assert "PIN" in en and "password" not in en.lower(), en
    if "password" in code.value or code.value.endswith("-secret"):
        assert "パスワード" in ja and "暗証番号" not in ja, ja
        assert "password" in en.lower() and "PIN" not in en, en


def test_a_wrong_pin_at_registration_says_pin(phones: Phones) -> None:
    """After a restart the app asks for the ⑩ secrets again; a wrong PIN is named a PIN."""
    app = phones.new
    _to_new_passwords(app)
    for value in (NEW_SIGN_PASSWORD, NEW_AUTH_PIN):
        app.dispatch(TypeText("new_password", value))
        app.dispatch(TypeText("new_password_again", value))
        app.dispatch(Press("next"))
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("register"))
    app.state = app.state.__class__(screen=ScreenId.REGISTER, register_ask=True)
    app.dispatch(TypeText("sign_password", NEW_SIGN_PASSWORD))
    app.dispatch(TypeText("auth_pin", "12"))
    screen = app.dispatch(Press("register"))
    assert screen.message is not None and screen.message.code is MessageCode.PIN_FORMAT
    app.dispatch(TypeText("sign_password", NEW_SIGN_PASSWORD))
    app.dispatch(TypeText("auth_pin", "9999"))
    screen = app.dispatch(Press("register"))
    assert screen.message is not None and screen.message.code is MessageCode.WRONG_PHONE_PIN
    assert screen.message.render(Lang.JA).startswith("暗証番号が違います")


def test_a_malformed_pin_from_the_portal_adapter_is_a_pin_format() -> None:
    assert message_for(Rejected("pin-format")).code is MessageCode.PIN_FORMAT


# --- true wording: push off, the old phone's notice ---------------------------------------------


def test_apply_done_promises_a_push_only_when_push_is_on(phones: Phones) -> None:
    app = phones.new
    app.dispatch(Press("my_page"))
    app.dispatch(Press("push"))  # off
    app.dispatch(Press("model_change"))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Toggle("confirmed"))
    app.dispatch(Press("apply"))
    app.dispatch(TapCard())
    app.dispatch(Press("agree_next"))
    for value in (NEW_SIGN_PASSWORD, NEW_AUTH_PIN):
        app.dispatch(TypeText("new_password", value))
        app.dispatch(TypeText("new_password_again", value))
        screen = app.dispatch(Press("next"))
    assert screen.id is ScreenId.APPLY_DONE
    assert not any("プッシュ通知でお知らせします" in t for t in screen.texts())
    assert any("プッシュ通知がオフ" in t for t in screen.texts())
    on = dict(_walk(PhoneApp(phones.world.backend("third-phone"), phones.new.clock)))
    assert "登録準備が完了すると、プッシュ通知でお知らせします。" in on["11-apply-done"].texts()


def test_the_old_phone_notice_after_revoke_from_another_phone_names_it(phones: Phones) -> None:
    app = phones.new
    app.dispatch(Press("my_page"))
    app.dispatch(Press("revoke_other"))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Press("revoke_do"))
    app.dispatch(Press("revoke_confirm"))
    assert app.dispatch(TapCard()).id is ScreenId.DONE
    screen = phones.old.dispatch(ComeOnline())
    assert screen.id is ScreenId.OLD_PHONE_NOTICE
    notice = screen.texts()[1]
    assert "別のスマホでの申請により" not in notice
    assert notice.startswith("別のスマホから失効の手続きが行われたため")


@pytest.mark.parametrize(("hours", "kept"), [(47, False), (49, True)])
def test_the_card_replaced_notice_has_its_own_text(
    phones: Phones, clock: FixedClock, hours: int, kept: bool
) -> None:
    now = clock.now()
    old = phones.world.devices["old-phone"]
    old.instructions.append(
        AppInstruction(
            "instr-card",
            InstructionKind.DELETE,
            frozenset({Hierarchy.SIGN, Hierarchy.AUTH}),
            now,
            now + dt.timedelta(hours=48),
            InstructionReason.CARD_REPLACED,
        )
    )
    clock.advance(dt.timedelta(hours=hours))
    screen = phones.old.dispatch(ComeOnline())
    assert screen.body[0].text_id == ("old_phone_kept_card" if kept else "old_phone_deleted_card")  # type: ignore[union-attr]
    assert "マイナンバーカードの更新・再発行により" in screen.texts()[1]
