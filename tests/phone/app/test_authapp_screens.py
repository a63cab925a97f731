# ruff: noqa: RUF001 - the app's Japanese texts use full-width punctuation
"""The デジタル認証アプリ's screens (issue 18 §3) as rules, on the FakeWorld: open a request,
consent, the PIN, the signing password only when facts are asked, the card instead of the
phone, refusals as screens of their own."""

from __future__ import annotations

import datetime as dt

import pytest
from app_walk import Phones

from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.app.backend import AuthHolder
from mobile_jpki.phone.app.events import OpenLink, Press, TapCard, TypeText
from mobile_jpki.phone.app.fake import FakeAuthRequest, FakeWorld
from mobile_jpki.phone.app.flows import PhoneApp
from mobile_jpki.phone.app.screens import Field, MessageCode, Screen, ScreenId
from mobile_jpki.phone.app.texts_model import Lang

URL = "http://127.0.0.1:8000/api/realms/main/device-approvals/r1"
FACTS = ("openid", "name", "address", "birthdate", "gender")


def approving(world: FakeWorld, scopes: tuple[str, ...] = FACTS) -> FakeAuthRequest:
    return world.add_auth_request(URL, client_name="Example RP", scopes=scopes, state="s-1")


def open_request(app: PhoneApp, url: str = URL) -> Screen:
    app.dispatch(Press("authapp"))
    app.dispatch(TypeText("authapp_url", url))
    return app.dispatch(Press("authapp_open"))


def test_consent_pin_password_done_with_the_phones_certificates(phones: Phones) -> None:
    made = approving(phones.world)
    screen = open_request(phones.old)
    assert screen.id is ScreenId.AUTHAPP_CONSENT
    texts = screen.texts()
    assert "Example RPが次の情報を求めています。" in texts
    for item in ("氏名", "住所", "生年月日", "性別"):
        assert item in texts
    assert "電子署名（署名用電子証明書）" not in texts
    assert screen.back is None  # the person answers: 同意する or 同意しない
    assert {b.name for b in screen.buttons()} == {"authapp_agree", "authapp_deny"}

    screen = phones.old.dispatch(Press("authapp_agree"))
    assert screen.id is ScreenId.AUTHAPP_PIN
    assert screen.texts()[0] == "利用者証明用暗証番号の入力"
    phones.old.dispatch(TypeText("auth_pin", "5678"))
    screen = phones.old.dispatch(Press("next"))
    assert screen.id is ScreenId.AUTHAPP_PASSWORD  # facts are asked: the signing password
    phones.old.dispatch(TypeText("sign_password", "old123"))  # upper-cased as typed
    screen = phones.old.dispatch(Press("next"))
    assert screen.id is ScreenId.AUTHAPP_DONE
    assert "認証が完了しました。ブラウザに戻ってください。" in screen.texts()
    assert made.answer == "approved"
    assert phones.old.state.auth_pin is None and phones.old.state.auth_sign_password is None
    assert phones.old.dispatch(Press("authapp_close")).id is ScreenId.HOME


def test_openid_alone_asks_no_signing_password(phones: Phones) -> None:
    made = approving(phones.world, ("openid",))
    screen = open_request(phones.old)
    assert "本人であることの確認（利用者証明用電子証明書）" in screen.texts()
    phones.old.dispatch(Press("authapp_agree"))
    phones.old.dispatch(TypeText("auth_pin", "5678"))
    assert phones.old.dispatch(Press("next")).id is ScreenId.AUTHAPP_DONE
    assert made.answer == "approved"


def test_a_wrong_pin_comes_back_with_the_tries_left_and_sends_nothing(phones: Phones) -> None:
    made = approving(phones.world, ("openid",))
    open_request(phones.old)
    phones.old.dispatch(Press("authapp_agree"))
    phones.old.dispatch(TypeText("auth_pin", "0000"))
    screen = phones.old.dispatch(Press("next"))
    assert screen.id is ScreenId.AUTHAPP_PIN
    assert screen.message is not None and screen.message.code is MessageCode.WRONG_PHONE_PIN
    assert "2" in screen.message.render(Lang.JA)
    assert made.answer is None
    # ... and a right one then goes through
    phones.old.dispatch(TypeText("auth_pin", "5678"))
    assert phones.old.dispatch(Press("next")).id is ScreenId.AUTHAPP_DONE


def test_a_wrong_password_comes_back_to_the_password(phones: Phones) -> None:
    made = approving(phones.world)
    open_request(phones.old)
    phones.old.dispatch(Press("authapp_agree"))
    phones.old.dispatch(TypeText("auth_pin", "5678"))
    phones.old.dispatch(Press("next"))
    phones.old.dispatch(TypeText("sign_password", "WRONG1"))
    screen = phones.old.dispatch(Press("next"))
    assert screen.id is ScreenId.AUTHAPP_PASSWORD
    assert screen.message is not None and screen.message.code is MessageCode.WRONG_PHONE_SECRET
    assert made.answer is None
    phones.old.dispatch(TypeText("sign_password", "OLD123"))
    assert phones.old.dispatch(Press("next")).id is ScreenId.AUTHAPP_DONE


def test_a_pin_of_the_wrong_form_costs_no_try(phones: Phones) -> None:
    approving(phones.world, ("openid",))
    open_request(phones.old)
    phones.old.dispatch(Press("authapp_agree"))
    phones.old.dispatch(TypeText("auth_pin", "12"))
    screen = phones.old.dispatch(Press("next"))
    assert screen.message is not None and screen.message.code is MessageCode.PIN_FORMAT
    assert ("old-phone", "approve_auth_request") not in phones.world.calls


def test_do_not_agree_answers_the_service(phones: Phones) -> None:
    made = approving(phones.world)
    open_request(phones.old)
    screen = phones.old.dispatch(Press("authapp_deny"))
    assert screen.id is ScreenId.AUTHAPP_DONE
    assert "同意しなかったため、情報は提供されませんでした。ブラウザに戻ってください。" in (
        screen.texts()
    )
    assert made.answer == "denied"


def test_the_card_instead_of_the_phone(phones: Phones) -> None:
    """マイナンバーカードで読み取る: the card's PIN and password, then the card is held."""
    made = approving(phones.world)
    open_request(phones.new)  # the new phone holds no certificate: the card answers
    phones.new.dispatch(Press("authapp_agree"))
    screen = phones.new.dispatch(Press("authapp_use_card"))
    assert phones.new.state.auth_holder is AuthHolder.CARD
    assert "マイナンバーカードの利用者証明用電子証明書の暗証番号" in screen.texts()
    phones.new.dispatch(TypeText("auth_pin", "9999"))
    phones.new.dispatch(Press("next"))
    phones.new.dispatch(TypeText("sign_password", "ABC123"))
    screen = phones.new.dispatch(Press("next"))
    assert screen.id is ScreenId.CARD_READ and screen.awaits_card
    screen = phones.new.dispatch(TapCard())
    assert screen.id is ScreenId.AUTHAPP_PIN  # the card's PIN was wrong
    assert screen.message is not None and screen.message.code is MessageCode.WRONG_CARD_PIN
    assert made.answer is None
    phones.new.dispatch(TypeText("auth_pin", "1234"))
    phones.new.dispatch(Press("next"))
    phones.new.dispatch(TypeText("sign_password", "ABC123"))
    phones.new.dispatch(Press("next"))
    # やめる on the card screen goes back to the PIN, not to my page
    assert phones.new.dispatch(Press("cancel")).id is ScreenId.AUTHAPP_PIN
    phones.new.dispatch(TypeText("auth_pin", "1234"))
    phones.new.dispatch(Press("next"))
    phones.new.dispatch(TypeText("sign_password", "ABC123"))
    phones.new.dispatch(Press("next"))
    assert phones.new.dispatch(TapCard()).id is ScreenId.AUTHAPP_DONE
    assert made.answer == "approved"


def test_an_expired_or_unknown_request_is_a_screen_of_its_own(
    phones: Phones, clock: FixedClock
) -> None:
    screen = open_request(phones.old, "http://127.0.0.1:8000/nothing-here")
    assert screen.id is ScreenId.AUTHAPP_REFUSED
    assert "認証要求が見つかりません。URLを確認してください。" in screen.texts()
    assert phones.old.dispatch(Press("authapp_close")).id is ScreenId.HOME
    approving(phones.world, ("openid",))
    assert open_request(phones.old).id is ScreenId.AUTHAPP_CONSENT
    clock.advance(dt.timedelta(minutes=11))
    phones.old.dispatch(Press("authapp_agree"))
    phones.old.dispatch(TypeText("auth_pin", "5678"))
    screen = phones.old.dispatch(Press("next"))
    assert screen.id is ScreenId.AUTHAPP_REFUSED
    assert screen.texts()[0] == "認証できませんでした"
    assert "有効期限が切れています" in " ".join(screen.texts())
    assert phones.old.state.auth_pin is None


def test_a_link_handed_over_by_the_os_opens_the_request(phones: Phones) -> None:
    approving(phones.world)
    screen = phones.old.dispatch(OpenLink(URL))
    assert screen.id is ScreenId.AUTHAPP_CONSENT


def test_the_url_is_kept_as_pasted(phones: Phones) -> None:
    phones.old.dispatch(Press("authapp"))
    url = URL + "?x=abc" + "d" * 200
    screen = phones.old.dispatch(TypeText("authapp_url", url))
    field = screen.field("authapp_url")
    assert isinstance(field, Field) and field.value == url and field.url and not field.secret


@pytest.mark.parametrize("lang", [Lang.JA, Lang.EN])
def test_every_authapp_screen_renders_in_both_languages(phones: Phones, lang: Lang) -> None:
    approving(phones.world, (*FACTS, "sign", "x-unknown"))
    shown = [open_request(phones.old).texts(lang)]
    shown.append(phones.old.dispatch(Press("authapp_agree")).texts(lang))
    shown.append(phones.old.dispatch(Press("authapp_use_card")).texts(lang))
    assert any("x-unknown" in t for t in shown[0])
    for texts in shown:
        assert all(t and "{" not in t for t in texts)
