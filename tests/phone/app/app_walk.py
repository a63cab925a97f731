"""Drive the model change of the user's document (①-⑬) on a PhoneApp, step by step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mobile_jpki.phone.app.backend import PushKind
from mobile_jpki.phone.app.events import Press, PushReceived, TapBanner, TapCard, Toggle, TypeText
from mobile_jpki.phone.app.fake import FakeWorld
from mobile_jpki.phone.app.flows import PhoneApp
from mobile_jpki.phone.app.screens import Screen, ScreenId

CARD_PASSWORD = "ABC123"
NEW_SIGN_PASSWORD = "NEW456"
NEW_AUTH_PIN = "2468"


@dataclass
class Phones:
    world: FakeWorld
    old: PhoneApp
    new: PhoneApp


def walk_model_change(app: PhoneApp, seen: Callable[[str, Screen], None]) -> None:
    """The happy path, calling ``seen(name, screen)`` on every screen the person looks at."""

    def step(name: str, screen: Screen, expected: ScreenId) -> None:
        assert screen.id is expected, (name, screen.id, screen.message)
        seen(name, screen)

    step("01-home", app.screen(), ScreenId.HOME)
    step("02-my-page", app.dispatch(Press("my_page")), ScreenId.MY_PAGE)
    step("03-apply-form", app.dispatch(Press("model_change")), ScreenId.APPLY_FORM)
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD.lower()))
    step("06-confirmed", app.dispatch(Toggle("confirmed")), ScreenId.APPLY_FORM)
    step("08-card-read", app.dispatch(Press("apply")), ScreenId.CARD_READ)
    screen = app.dispatch(TapCard())
    assert screen.dialog is not None
    step("09-dialog", screen, ScreenId.CARD_READ)
    step("10-new-sign-password", app.dispatch(Press("agree_next")), ScreenId.NEW_PASSWORD)
    app.dispatch(TypeText("new_password", NEW_SIGN_PASSWORD))
    app.dispatch(TypeText("new_password_again", NEW_SIGN_PASSWORD))
    step("10-new-auth-pin", app.dispatch(Press("next")), ScreenId.NEW_PASSWORD)
    app.dispatch(TypeText("new_password", NEW_AUTH_PIN))
    app.dispatch(TypeText("new_password_again", NEW_AUTH_PIN))
    step("11-apply-done", app.dispatch(Press("next")), ScreenId.APPLY_DONE)
    screen = app.dispatch(PushReceived(PushKind.READY))
    assert screen.banner is not None
    step("12-push", screen, ScreenId.APPLY_DONE)
    step("12-my-page-ready", app.dispatch(TapBanner()), ScreenId.MY_PAGE)
    step("12-register", app.dispatch(Press("register")), ScreenId.REGISTER)
    step("13-register-done", app.dispatch(Press("register")), ScreenId.REGISTER_DONE)
    # ⑬'s link 「マイナポータルアプリの操作マニュアルはこちら」 and the manual's 「続きはこちら」
    step("13-manual", app.dispatch(Press("manual")), ScreenId.MANUAL)
    step("13-manual-continued", app.dispatch(Press("manual_next")), ScreenId.MANUAL)
    step("13-back-to-register-done", app.dispatch(Press("back")), ScreenId.MANUAL)
    step("13-register-done-again", app.dispatch(Press("back")), ScreenId.REGISTER_DONE)
