"""The same behaviour on both backends: the in-memory FakeWorld (the simulator's default and the
unit tests') and PortalBackend on the real portal, CA and secure elements in APDUs. What a
person reads must not depend on which one the app runs on (issue 17, "One vocabulary")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from test_portal_backend import CARD_PASSWORD as PORTAL_CARD_PASSWORD
from test_portal_backend import Portal, apply, portal

from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.app.events import ComeOnline, Press, TapCard, Toggle, TypeText
from mobile_jpki.phone.app.fake import FakeBackend, FakeWorld
from mobile_jpki.phone.app.flows import PhoneApp
from mobile_jpki.phone.app.portal_backend import PortalBackend
from mobile_jpki.phone.app.screens import MessageCode, Screen, ScreenId
from mobile_jpki.phone.app.texts import text
from mobile_jpki.phone.app.texts_model import Lang

__all__ = ["portal"]  # the fixture, re-exported for pytest

NEW_SIGN = "NEWPW123"
NEW_PIN = "2468"


@dataclass
class Both:
    """Two phones of one person (the old one holding registered certificates) on a backend."""

    old: PhoneApp
    new: PhoneApp
    clock: FixedClock
    card_password: str
    work: Callable[[], None]  # the service's worker: issue, push
    replace_card: Callable[[], None]  # the office renews or replaces the My Number Card

    def restart(self, app: PhoneApp) -> PhoneApp:
        """The app killed and opened again: the phone (element, service) is the same, the
        app's memory is gone."""
        backend = app.backend
        if isinstance(backend, FakeBackend):
            return PhoneApp(backend.world.backend(backend.device_id), self.clock)
        assert isinstance(backend, PortalBackend)
        return PhoneApp(PortalBackend(backend.phone, backend.card, backend.inbox), self.clock)


@pytest.fixture(params=["fake", "portal"])
def both(request: pytest.FixtureRequest, clock: FixedClock) -> Both:
    if request.param == "fake":
        world = FakeWorld(clock)
        world.give_registered_certificates("old-phone")
        return Both(
            PhoneApp(world.backend("old-phone"), clock),
            PhoneApp(world.backend("new-phone"), clock),
            clock,
            "ABC123",
            lambda: None,
            world.replace_card,
        )
    p: Portal = request.getfixturevalue("portal")
    old, _ = p.phone()
    apply(old, p, "menu_apply", agree=False)
    old.dispatch(Press("to_my_page"))
    new, _ = p.phone()
    return Both(
        old,
        new,
        p.clock,
        PORTAL_CARD_PASSWORD,
        p.work,
        lambda: p.operator.replace_card(p.card_id) and None,
    )


def _my_page(app: PhoneApp) -> Screen:
    screen = app.screen()
    if screen.id is ScreenId.MY_PAGE:
        return screen
    return app.dispatch(Press("my_page" if screen.id is ScreenId.HOME else "to_my_page"))


def _model_change_until_applied(both: Both) -> None:
    """The new phone through ⑪ (申請の完了), agreeing at ⑨ to revoke the old phone's."""
    app = both.new
    _my_page(app)
    app.dispatch(Press("model_change"))
    app.dispatch(TypeText("card_sign_password", both.card_password))
    app.dispatch(Toggle("confirmed"))
    assert app.dispatch(Press("apply")).id is ScreenId.CARD_READ
    screen = app.dispatch(TapCard())
    assert screen.dialog is not None, screen.message
    app.dispatch(Press("agree_next"))
    for value in (NEW_SIGN, NEW_PIN):
        app.dispatch(TypeText("new_password", value))
        app.dispatch(TypeText("new_password_again", value))
        screen = app.dispatch(Press("next"))
    assert screen.id is ScreenId.APPLY_DONE, screen.message
    both.work()


def _revoke_from_the_new_phone(both: Both) -> None:
    """別のスマホのスマホ用電子証明書 → 失効, on the new phone with the card."""
    app = both.new
    _my_page(app)
    app.dispatch(Press("revoke_other"))
    app.dispatch(TypeText("card_sign_password", both.card_password))
    app.dispatch(Press("revoke_do"))
    app.dispatch(Press("revoke_confirm"))
    screen = app.dispatch(TapCard())
    assert screen.id is ScreenId.DONE, screen.message


# --- 登録する after a restart: the secret that failed is the one named -----------------------


def _register_with(app: PhoneApp, sign: str, pin: str) -> Screen:
    app.dispatch(TypeText("sign_password", sign))
    app.dispatch(TypeText("auth_pin", pin))
    return app.dispatch(Press("register"))


def test_a_wrong_secret_at_register_after_a_restart_names_that_secret(both: Both) -> None:
    """The ⑩ secrets lived in the app's memory: after a restart 登録する asks for them. A
    wrong PIN is 「暗証番号が違います」, a wrong password 「パスワードが違います」, each with
    the tries its own counter has left — and neither registers anything."""
    _model_change_until_applied(both)
    app = both.restart(both.new)
    _my_page(app)
    assert app.dispatch(Press("register")).id is ScreenId.REGISTER
    screen = app.dispatch(Press("register"))
    assert screen.message is not None and screen.message.code is MessageCode.SECRETS_NEEDED

    screen = _register_with(app, NEW_SIGN, "9999")
    assert screen.id is ScreenId.REGISTER
    assert screen.message is not None and screen.message.code is MessageCode.WRONG_PHONE_PIN
    assert dict(screen.message.params) == {"tries_left": "2"}
    assert screen.message.render(Lang.JA).startswith("暗証番号が違います")
    assert "PIN" in screen.message.render(Lang.EN)

    screen = _register_with(app, "WRONG999", NEW_PIN)
    assert screen.message is not None and screen.message.code is MessageCode.WRONG_PHONE_SECRET
    assert dict(screen.message.params) == {"tries_left": "4"}
    assert screen.message.render(Lang.JA).startswith("パスワードが違います")

    screen = _register_with(app, NEW_SIGN, NEW_PIN)
    assert screen.id is ScreenId.REGISTER_DONE, screen.message


# --- the old phone's notice names its real cause, within and after 48 hours -----------------

_CAUSES: dict[str, Callable[[Both], None]] = {
    "model-change": _model_change_until_applied,
    "revoked-from-another-phone": _revoke_from_the_new_phone,
    "card-replaced": lambda both: both.replace_card(),
}
_NOTICES = {
    # cause: (text within 48 hours, after 48 hours, how the Japanese text opens)
    "model-change": ("old_phone_deleted", "old_phone_kept", "別のスマホでの申請により"),
    "revoked-from-another-phone": (
        "old_phone_deleted_other",
        "old_phone_kept_other",
        "別のスマホから失効の手続きが行われたため",
    ),
    "card-replaced": (
        "old_phone_deleted_card",
        "old_phone_kept_card",
        "マイナンバーカードの更新・再発行により",
    ),
}


@pytest.mark.parametrize("hours", [47, 49])
@pytest.mark.parametrize("cause", list(_CAUSES))
def test_the_old_phone_notice_names_its_cause(both: Both, cause: str, hours: int) -> None:
    _CAUSES[cause](both)
    both.clock.advance(dt.timedelta(hours=hours))
    screen = both.old.dispatch(ComeOnline())
    assert screen.id is ScreenId.OLD_PHONE_NOTICE, screen.message
    deleted, kept, opening = _NOTICES[cause]
    expected = deleted if hours < 48 else kept
    assert screen.body[0].text_id == expected  # type: ignore[union-attr]
    notice = screen.texts()[1]
    assert notice == text(expected, Lang.JA) and notice.startswith(opening)
    assert ("48時間を過ぎたため" in notice) is (hours > 48)
    for other, (d, k, _) in _NOTICES.items():
        if other != cause:
            assert notice not in (text(d, Lang.JA), text(k, Lang.JA))
