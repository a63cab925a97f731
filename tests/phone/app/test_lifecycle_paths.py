"""The paths around the seed's happy path, on the real portal (docs/lifecycle.md): abandoned
attempts, the order ⑨ before ⑩, an app killed between two steps. Each one must leave the person
a way to a registered phone with the passwords of the attempt that completes."""

from __future__ import annotations

from test_portal_backend import CARD_PASSWORD, Portal, apply, portal

from mobile_jpki.phone.app.backend import AppCertStatus, Validity
from mobile_jpki.phone.app.events import Press, TapCard, Toggle, TypeText
from mobile_jpki.phone.app.flows import PhoneApp
from mobile_jpki.phone.app.portal_backend import PortalBackend
from mobile_jpki.phone.app.screens import Screen, ScreenId

__all__ = ["portal"]  # the fixture, re-exported for pytest


def _to_card_read(app: PhoneApp, menu: str) -> Screen:
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("my_page"))
    app.dispatch(Press(menu))
    app.dispatch(TypeText("card_sign_password", CARD_PASSWORD))
    app.dispatch(Toggle("confirmed"))
    assert app.dispatch(Press("apply")).id is ScreenId.CARD_READ
    return app.dispatch(TapCard())


def _passwords(app: PhoneApp, screen: Screen, sign: str, pin: str) -> Screen:
    for value in (sign, pin):
        assert screen.id is ScreenId.NEW_PASSWORD, screen.message
        assert screen.dialog is None
        app.dispatch(TypeText("new_password", value))
        app.dispatch(TypeText("new_password_again", value))
        screen = app.dispatch(Press("next"))
    return screen


def _register(app: PhoneApp, portal: Portal) -> Screen:
    portal.work()
    app.poll()
    app.dispatch(Press("to_my_page"))
    app.dispatch(Press("register"))
    return app.dispatch(Press("register"))


def _registered_with(backend: PortalBackend, sign: str, pin: str) -> None:
    page = backend.my_page()
    assert (page.sign, page.auth) == (AppCertStatus.REGISTERED, AppCertStatus.REGISTERED)
    check = backend.self_check(sign, pin)
    assert (check.sign, check.auth) == (Validity.GOOD, Validity.GOOD)


def test_the_dialog_comes_before_the_new_passwords_on_a_first_application(
    portal: Portal,
) -> None:
    """申請する (not 機種変更) on a new phone while another phone holds certificates: the
    service is asked, read-only, at ⑧, so ⑨ comes before ⑩ as in the seed."""
    old, _ = portal.phone()
    apply(old, portal, "menu_apply", agree=False)
    new, _ = portal.phone()
    screen = _to_card_read(new, "menu_apply")
    assert screen.id is ScreenId.CARD_READ and screen.dialog is not None, screen.message


def test_a_model_change_without_another_phone_shows_no_dialog(portal: Portal) -> None:
    app, backend = portal.phone()
    screen = _to_card_read(app, "model_change")
    assert screen.dialog is None and screen.id is ScreenId.NEW_PASSWORD, screen.message
    screen = _passwords(app, screen, "FIRST123", "1111")
    assert screen.id is ScreenId.APPLY_DONE, screen.message
    assert _register(app, portal).id is ScreenId.REGISTER_DONE
    _registered_with(backend, "FIRST123", "1111")


def test_quit_at_the_dialog_then_a_model_change_with_other_passwords(portal: Portal) -> None:
    old, old_backend = portal.phone()
    apply(old, portal, "menu_apply", agree=False)
    new, new_backend = portal.phone()
    screen = _to_card_read(new, "menu_apply")
    assert screen.dialog is not None
    assert new.dispatch(Press("quit")).id is ScreenId.MY_PAGE
    portal.work()
    assert old_backend.my_page().sign is AppCertStatus.REGISTERED

    screen = _to_card_read(new, "model_change")
    assert screen.dialog is not None
    screen = _passwords(new, new.dispatch(Press("agree_next")), "OTHER999", "1357")
    assert screen.id is ScreenId.APPLY_DONE, screen.message
    assert _register(new, portal).id is ScreenId.REGISTER_DONE
    _registered_with(new_backend, "OTHER999", "1357")


def test_an_attempt_abandoned_after_sending_never_blocks_the_next(portal: Portal) -> None:
    """The app is killed after 申請の完了 (its ⑩ passwords were only in memory). A fresh app
    over the same element applies again with other passwords; those are the ones that work."""
    app, backend = portal.phone()
    screen = _passwords(app, _to_card_read(app, "menu_apply"), "FIRST123", "1111")
    assert screen.id is ScreenId.APPLY_DONE
    portal.work()  # the first attempt's certificates are ready, never registered

    again = PortalBackend(backend.phone, backend.card, backend.inbox)
    fresh = PhoneApp(again, portal.clock)
    screen = _passwords(fresh, _to_card_read(fresh, "menu_apply"), "SECOND99", "2222")
    assert screen.id is ScreenId.APPLY_DONE, screen.message
    assert _register(fresh, portal).id is ScreenId.REGISTER_DONE
    _registered_with(again, "SECOND99", "2222")


def test_a_wrong_new_password_confirmation_costs_nothing(portal: Portal) -> None:
    app, backend = portal.phone()
    screen = _to_card_read(app, "menu_apply")
    app.dispatch(TypeText("new_password", "FIRST123"))
    app.dispatch(TypeText("new_password_again", "FIRST124"))
    screen = app.dispatch(Press("next"))
    assert screen.id is ScreenId.NEW_PASSWORD and screen.message is not None
    screen = _passwords(app, screen, "THIRD123", "3333")
    assert screen.id is ScreenId.APPLY_DONE, screen.message
    assert _register(app, portal).id is ScreenId.REGISTER_DONE
    _registered_with(backend, "THIRD123", "3333")
