"""The simulator in headless Chromium (Debian ``chromium``, driven by Playwright).

Walks the user's document's model change (①-⑬) on the new phone while the old phone sits
beside it, saving a screenshot of every screen to ``test-artifacts/screens/NN-name.png``.
Never ``playwright install``: the system Chromium is used through ``executable_path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sim_helpers import LiveServer

from mobile_jpki.phone.app.backend import AppCertStatus
from mobile_jpki.phone.app.texts import TEXTS
from mobile_jpki.phone.app.texts_model import TextSource

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is absent")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium (/usr/bin/chromium) absent"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    # The sync API runs its own event loop in a greenlet; start/stop it explicitly so the
    # driver process and its pipes are closed before pytest checks for ResourceWarnings.
    playwright = sync_api.sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser: sync_api.Browser, live_server: LiveServer) -> Iterator[sync_api.Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ja-JP")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/simulator/")
    try:
        yield page
    finally:
        context.close()


class Walk:
    def __init__(self, page: sync_api.Page) -> None:
        self.page = page
        self.seen: list[str] = []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def tid(self, testid: str) -> sync_api.Locator:
        return self.page.get_by_test_id(testid)

    def click(self, testid: str) -> None:
        self.tid(testid).click()

    def expect(self, phone: str, screen: str) -> None:
        self.page.locator(f'[data-testid="screen-{phone}"][data-screen="{screen}"]').wait_for()

    def shot(self, name: str, phone: str = "new", scroll_to: str = "") -> None:
        if scroll_to:
            self.tid(scroll_to).scroll_into_view_if_needed()
        self.seen.append(self.tid(f"screen-{phone}").inner_text())
        self.seen.append(self.tid(f"guide-{phone}").inner_text())
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_model_change_on_two_phones(page: sync_api.Page, live_server: LiveServer) -> None:
    w = Walk(page)
    w.expect("new", "home")
    w.shot("01-home")
    w.click("button-new-my_page")
    w.expect("new", "my-page")
    w.shot("02-my-page")
    w.click("button-new-model_change")
    w.expect("new", "apply-form")
    w.tid("input-new-card_sign_password").fill("abc123")
    w.shot("04-card-password")
    w.shot("05-certificates", scroll_to="checkbox-new-cert_auth")
    assert w.tid("button-new-apply").is_disabled()
    w.click("checkbox-new-confirmed")
    page.locator('[data-testid="checkbox-new-confirmed"]:checked').wait_for()
    assert w.tid("input-new-card_sign_password").input_value() == "ABC123"  # upper-cased
    w.shot("06-confirmed", scroll_to="checkbox-new-confirmed")
    assert w.tid("button-new-apply").is_enabled()
    w.shot("07-apply", scroll_to="button-new-apply")
    w.click("button-new-apply")
    w.expect("new", "card-read")
    w.shot("08-card-read")
    w.click("tap-card-new")
    w.tid("dialog-new").wait_for()
    w.shot("09-dialog")
    w.click("dialog-button-new-agree_next")
    w.expect("new", "new-password")
    w.tid("input-new-new_password").fill("NEW456")
    w.tid("input-new-new_password_again").fill("NEW456")
    w.shot("10-new-password-sign")
    w.click("button-new-next")
    page.locator('[data-testid="text-new-new_password_for_auth"]').wait_for()
    w.tid("input-new-new_password").fill("2468")
    w.tid("input-new-new_password_again").fill("2468")
    w.shot("10-new-password-auth")
    w.click("button-new-next")
    w.expect("new", "apply-done")
    w.shot("11-apply-done")
    w.tid("banner-new").wait_for()  # the push arrives through the page's polling
    w.shot("12-push")
    w.click("banner-new")
    w.expect("new", "my-page")
    assert "登録準備が完了しています" in w.tid("status-new-sign").inner_text()
    assert "登録準備が完了しています" in w.tid("status-new-auth").inner_text()
    w.shot("12-my-page-ready")
    w.click("button-new-register")
    w.expect("new", "register")
    w.shot("12-register")
    w.click("button-new-register")
    w.expect("new", "register-done")
    w.shot("13-register-done")
    # the old phone is online: it fetched its instruction, deleted, and told its owner
    w.expect("old", "old-phone-notice")
    w.shot("14-old-phone-deleted", phone="old")

    world = live_server.factory.worlds[0]
    assert set(world.devices["new-phone"].status.values()) == {AppCertStatus.REGISTERED}
    assert set(world.devices["old-phone"].status.values()) == {AppCertStatus.NONE}
    shown = "\n".join(w.seen)
    missing = [
        t.id for t in TEXTS.values() if t.source is TextSource.DOCUMENT and t.ja not in shown
    ]
    assert missing == []


def test_quit_on_the_dialog_changes_nothing(page: sync_api.Page, live_server: LiveServer) -> None:
    w = Walk(page)
    w.click("button-new-my_page")
    w.click("button-new-model_change")
    w.expect("new", "apply-form")
    w.tid("input-new-card_sign_password").fill("ABC123")
    w.click("checkbox-new-confirmed")
    page.locator('[data-testid="checkbox-new-confirmed"]:checked').wait_for()
    w.click("button-new-apply")
    w.expect("new", "card-read")
    page.drag_and_drop('[data-testid="card"]', '[data-testid="nfc-new"]')  # the NFC tap
    w.tid("dialog-new").wait_for()
    w.click("dialog-button-new-quit")
    w.expect("new", "my-page")
    world = live_server.factory.worlds[0]
    assert world.mutating_calls() == []
    assert set(world.devices["old-phone"].status.values()) == {AppCertStatus.REGISTERED}


def test_wrong_password_format_is_shown_before_the_card(page: sync_api.Page) -> None:
    w = Walk(page)
    w.click("button-new-my_page")
    w.click("button-new-model_change")
    w.expect("new", "apply-form")
    w.tid("input-new-card_sign_password").fill("abcdef")
    w.click("checkbox-new-confirmed")
    page.locator('[data-testid="checkbox-new-confirmed"]:checked').wait_for()
    w.click("button-new-apply")
    message = page.locator('[data-testid="message-new"][data-code="password-format"]')
    message.wait_for()
    w.shot("90-password-format-error")
    w.expect("new", "apply-form")


def test_operator_suspension_in_english(page: sync_api.Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/simulator/?lang=en")
    w = Walk(page)
    w.click("button-old-my_page")
    w.expect("old", "my-page")
    w.click("operator-suspend")
    page.get_by_test_id("status-old-sign").get_by_text("Suspended").wait_for()
    assert "Release the suspension" in w.tid("screen-old").inner_text()
    w.shot("91-suspended-en", phone="old")
