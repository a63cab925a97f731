# ruff: noqa: RUF002, RUF003 - the document's steps ①–⑬ and Japanese captions
"""Driving one browser page through the simulator: :class:`Walker` and the two walks,
:func:`walk_portal` (the real portal under ``serve --simulator``) and :func:`walk_fake` (the
in-memory FakeWorld, for what the real portal cannot show)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from mobile_jpki.phone.app.fake import FakeWorld
from mobile_jpki.phone.app.texts import TEXTS
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.web.walk.catalogue import SHOTS
from mobile_jpki.web.walk.checks import Monitor, untranslated

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page


class Walker:
    """One browser page on the simulator, in one language; ``out`` None walks without saving."""

    def __init__(self, page: Page, lang: Lang, out: Path | None, monitor: Monitor) -> None:
        self.page = page
        self.lang = lang
        self.out = out
        self.monitor = monitor
        self.taken: list[str] = []
        # The page's timers run on Playwright's clock, so the walk can stop the 1-second
        # /poll (the only way a push or an old phone's instruction reaches the page) while it
        # takes a picture: what a picture shows is then fixed by the steps before it, not by
        # how fast serve's worker issued. Time flows as usual until held.
        page.clock.install()
        self._held = 0
        self._in_flight = 0
        page.on("request", lambda _: self._count(+1))
        page.on("requestfinished", lambda _: self._count(-1))
        page.on("requestfailed", lambda _: self._count(-1))

    def _count(self, step: int) -> None:
        self._in_flight += step

    @contextmanager
    def held(self) -> Iterator[None]:
        """No polling inside: nothing arrives but what the walk's own actions bring (a push
        already issued waits for the next poll after the block)."""
        if self._held == 0:
            # pause_at only moves forward, and the page's clock runs on while the call
            # travels: aim a little ahead (a poll falling due in between is sent once;
            # settle() waits for it).
            now_ms = self.page.evaluate("Date.now()")
            self.page.clock.pause_at((now_ms + 250) / 1000)
        self._held += 1
        try:
            yield
        finally:
            self._held -= 1
            if self._held == 0:
                self.page.clock.resume()

    def settle(self) -> None:
        """Wait (held) until no request is in flight and the panels stopped changing: a poll
        sent just before the hold has landed."""
        before = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(50)  # Playwright's timer, not the page's held clock
            now = self.page.evaluate(_PANELS)
            if self._in_flight <= 0 and now == before:
                return
            before = now
        raise AssertionError(f"{self.lang}: the page kept changing")

    def tid(self, testid: str) -> Locator:
        return self.page.get_by_test_id(testid)

    def click(self, testid: str) -> None:
        self.tid(testid).click()

    def press(self, phone: str, name: str) -> None:
        self.click(f"button-{phone}-{name}")

    def fill(self, phone: str, field: str, value: str) -> None:
        self.tid(f"input-{phone}-{field}").fill(value)

    def tick(self, phone: str, name: str) -> None:
        self.click(f"checkbox-{phone}-{name}")
        self.page.locator(f'[data-testid="checkbox-{phone}-{name}"]:checked').wait_for()

    def expect(self, phone: str, screen: str, timeout: float | None = None) -> None:
        self.page.locator(f'[data-testid="screen-{phone}"][data-screen="{screen}"]').wait_for(
            timeout=timeout
        )

    def dialog(self, phone: str, dialog: str) -> None:
        self.page.locator(f'[data-testid="dialog-{phone}"][data-dialog="{dialog}"]').wait_for()

    def no_message(self, phone: str) -> None:
        message = self.tid(f"message-{phone}")
        if message.count():
            raise AssertionError(
                f"{self.lang} {phone}: unexpected message {message.inner_text()!r}"
            )

    def check_texts(self, where: str) -> None:
        for phone in ("old", "new"):
            shown = self.tid(f"phone-{phone}").inner_text()
            for problem in untranslated(shown, self.lang):
                self.monitor.add(f"{where} ({self.lang}, {phone} phone)", problem)
        operator = self.tid("operator").inner_text()
        for problem in untranslated(operator, self.lang, phone_screen=False):
            self.monitor.add(f"{where} ({self.lang}, operator panel)", problem)

    def shot(self, name: str) -> None:
        """Check what the page shows; with ``out``, save the panel of the shot's phone."""
        spec = SHOTS[name]
        with self.held():
            self.settle()
            self.check_texts(name)
            self.taken.append(name)
            if self.out is None:
                return
            panel = self.tid(f"phone-{spec.phone}")
            # The pointer off every control: Chromium re-evaluates :hover after a re-render
            # on its own schedule, so a button under the last click is lit or not by chance.
            self.page.mouse.move(0, 0)
            # A phone app scrolls; the picture shows the whole screen: the frame grows to fit
            # (CSSOM, allowed under style-src 'self'), then shrinks back.
            panel.evaluate(_GROW)
            try:
                panel.screenshot(
                    path=str(self.out / f"{name}-{self.lang.value}.png"), **SCREENSHOT_OPTIONS
                )
            finally:
                panel.evaluate(_SHRINK)


# Pictures that are the same bytes on every run: no caret blinking in the focused field, no
# animation caught half-way (none today; a future one must not make the pictures flicker).
SCREENSHOT_OPTIONS: dict[str, Any] = {"animations": "disabled", "caret": "hide"}
_PANELS = "() => [...document.querySelectorAll('[data-panel]')].map((e) => e.innerHTML).join()"


_GROW = """(panel) => {
  const phone = panel.querySelector('.phone');
  const content = phone && phone.querySelector('.content');
  if (!content || phone.querySelector('.backdrop')) return;
  const extra = content.scrollHeight - content.clientHeight;
  if (extra > 0) phone.style.height = (phone.offsetHeight + extra) + 'px';
}"""
_SHRINK = """(panel) => {
  const phone = panel.querySelector('.phone');
  if (phone) phone.style.height = '';
}"""


def _new_passwords(w: Walker, phone: str, password: str, pin: str) -> None:
    """⑩: the signing password, then the user-authentication PIN; ⑪ 次へ → 申請の完了."""
    w.expect(phone, "new-password")
    w.fill(phone, "new_password", password)
    w.fill(phone, "new_password_again", password)
    w.press(phone, "next")
    w.page.locator(f'[data-testid="text-{phone}-new_password_for_auth"]').wait_for()
    w.fill(phone, "new_password", pin)
    w.fill(phone, "new_password_again", pin)
    w.press(phone, "next")
    w.expect(phone, "apply-done")


def walk_portal(w: Walker, base: str) -> None:
    """The model change ①–⑬, the manual and help, the side paths and the old phone's notice,
    on ``serve --simulator``'s real portal."""
    page = w.page
    page.goto(f"{base}/simulator/?lang={w.lang.value}", timeout=90_000)
    card = w.tid("info-card_sign_password").inner_text().strip()
    new_pw, new_pin = "NEWPH123", "2468"

    # ①② home → my page → ③ 機種変更
    w.expect("new", "home")
    w.shot("01-home")
    w.press("new", "my_page")
    w.expect("new", "my-page")
    w.shot("02-my-page")
    w.press("new", "model_change")
    w.expect("new", "apply-form")
    # ④ the password (typed in lower case: upper-cased as typed); ⑤ both ticked; ⑥ ⑦
    w.fill("new", "card_sign_password", card.lower())
    w.tick("new", "confirmed")
    w.shot("03-apply-form")
    w.press("new", "apply")
    w.expect("new", "card-read")
    w.shot("04-card-read")
    # ⑧ the card on the NFC spot; ⑨ the dialog
    page.drag_and_drop('[data-testid="card"]', '[data-testid="nfc-new"]')
    w.dialog("new", "revoke-old")
    w.shot("05-revoke-old-dialog")
    w.click("dialog-button-new-agree_next")
    # ⑩ passwords; the PIN typed twice differently first: its message, then right
    w.expect("new", "new-password")
    w.fill("new", "new_password", new_pw)
    w.fill("new", "new_password_again", new_pw)
    w.shot("06-new-password-sign")
    w.press("new", "next")
    page.locator('[data-testid="text-new-new_password_for_auth"]').wait_for()
    w.fill("new", "new_password", new_pin)
    w.fill("new", "new_password_again", "1357")
    w.press("new", "next")
    page.locator('[data-testid="message-new"][data-code="pin-mismatch"]').wait_for()
    w.shot("45-error-pin-mismatch")
    w.fill("new", "new_password", new_pin)
    w.fill("new", "new_password_again", new_pin)
    w.shot("07-new-password-pin")
    # ⑪ as the document shows it, before ⑫'s push (serve's worker may issue within the same
    # second): no poll until the picture is taken.
    with w.held():
        w.press("new", "next")
        w.expect("new", "apply-done")
        w.no_message("new")
        w.shot("08-apply-done")
    # ⑫ the push arrives through the page's polling (serve's worker issues)
    w.tid("banner-new").wait_for(timeout=60_000)
    w.shot("09-push-banner")
    w.click("banner-new")
    w.expect("new", "my-page")
    page.locator('[data-testid="button-new-register"]').wait_for()
    w.shot("10-my-page-ready")
    w.press("new", "register")
    w.expect("new", "register")
    w.shot("11-register")
    w.press("new", "register")
    w.expect("new", "register-done")
    w.shot("12-register-done")
    # The document's link 「…操作マニュアルはこちら」 → the manual, 「続きはこちら」 → page 2
    w.press("new", "manual")
    w.expect("new", "manual")
    w.shot("13-manual-1")
    w.press("new", "manual_next")
    page.locator('[data-testid="text-new-guide_screen_example_sign"]').wait_for()
    w.shot("14-manual-2")
    w.click("back-new")
    page.locator('[data-testid="button-new-manual_next"]').wait_for()
    w.click("back-new")
    w.expect("new", "register-done")

    # The old phone comes online: it fetches its deletion instruction and tells its owner.
    w.click("network-toggle-old")
    w.expect("old", "old-phone-notice")
    w.shot("20-notice-model-change")
    w.press("old", "ok")
    w.expect("old", "my-page")

    # 生体認証 (offered after ⑬), 動作確認
    w.press("new", "enrol_biometrics")
    w.expect("new", "biometrics")
    w.fill("new", "auth_pin", new_pin)
    w.shot("30-biometrics")
    w.press("new", "register")
    w.expect("new", "done")
    w.no_message("new")
    w.press("new", "to_my_page")
    w.expect("new", "my-page")
    w.press("new", "self_check")
    w.expect("new", "self-check")
    w.fill("new", "sign_password", new_pw)
    w.shot("31-self-check")
    w.press("new", "self_check")
    page.locator('[data-testid="status-new-sign"]').wait_for()
    w.no_message("new")
    w.shot("32-self-check-result")
    w.press("new", "to_my_page")
    w.expect("new", "my-page")

    # Help, from the home screen's tile
    w.click("back-new")
    w.expect("new", "home")
    w.press("new", "help")
    w.expect("new", "help")
    w.shot("15-help")
    w.click("back-new")
    w.expect("new", "home")
    w.press("new", "my_page")
    w.expect("new", "my-page")

    # Password reset (初期化): choose, the card's password, the card, the new password
    w.press("new", "password_reset")
    w.expect("new", "reset-choose")
    w.shot("39-reset-choose")
    w.press("new", "reset_sign")
    w.expect("new", "reset-card")
    w.fill("new", "card_secret", card)
    w.shot("40-reset-card")
    w.press("new", "next")
    w.expect("new", "card-read")
    w.click("tap-card-new")
    w.expect("new", "reset-new")
    new_pw = "NEWPH456"
    w.fill("new", "new_password", new_pw)
    w.fill("new", "new_password_again", new_pw)
    w.shot("41-reset-new")
    w.press("new", "next")
    w.expect("new", "done")
    w.no_message("new")
    w.press("new", "to_my_page")
    w.expect("new", "my-page")

    w.press("new", "card_settings")
    w.expect("new", "card-settings")
    w.shot("44-card-settings")
    w.click("back-new")
    w.expect("new", "my-page")

    # 失効 of this phone: the form, then its confirmation; キャンセル changes nothing
    w.press("new", "revoke_own")
    w.expect("new", "revoke-own")
    w.fill("new", "secret", new_pw)
    w.shot("33-revoke-own")
    w.press("new", "revoke_do")
    w.dialog("new", "revoke-own-confirm")
    w.shot("34-revoke-own-confirm")
    w.click("dialog-button-new-revoke_cancel")
    w.page.locator('[data-testid="dialog-new"]').wait_for(state="detached")
    w.click("back-new")
    w.expect("new", "my-page")

    # The hotline suspends; the phone releases (the card), the signing certificate re-issued
    w.click("operator-suspend")
    page.locator('[data-testid="button-new-release"]').wait_for()
    w.press("new", "release")
    w.expect("new", "release")
    w.fill("new", "card_sign_password", card)
    w.shot("42-release")
    w.press("new", "next")
    w.expect("new", "card-read")
    w.click("tap-card-new")
    w.expect("new", "new-password")
    w.fill("new", "new_password", "NEWPH789")
    w.fill("new", "new_password_again", "NEWPH789")
    with w.held():  # the re-issue's push must not overtake the picture (as at ⑪)
        w.press("new", "next")
        w.expect("new", "done")
        w.no_message("new")
        w.shot("43-release-done")
    # ... and it comes: taken now, it cannot land on a later screen (the revocation notice)
    w.tid("banner-new").wait_for(timeout=60_000)
    w.click("banner-new")
    w.expect("new", "my-page")

    # 失効 of another phone, from the old one: the card's password, confirmation, the card
    w.press("old", "revoke_other")
    w.expect("old", "revoke-other")
    w.fill("old", "card_sign_password", card)
    w.shot("35-revoke-other")
    w.press("old", "revoke_do")
    w.dialog("old", "revoke-other-confirm")
    w.shot("36-revoke-other-confirm")
    w.click("dialog-button-old-revoke_confirm")
    w.expect("old", "card-read")
    w.shot("37-revoke-other-card")
    w.click("tap-card-old")
    w.expect("old", "done")
    w.no_message("old")
    w.shot("38-revoke-other-done")
    # ... and the new phone, online, is told why its certificates are gone
    w.expect("new", "old-phone-notice", timeout=30_000)
    w.shot("22-notice-revoked-other")
    w.press("new", "ok")
    w.expect("new", "my-page")

    # The old phone applies again with push notifications off: ⑪ promises no push
    w.press("old", "to_my_page")
    w.expect("old", "my-page")
    w.press("old", "push")
    push_off = TEXTS["menu_push_off"].in_lang(w.lang)
    w.tid("button-old-push").filter(has_text=push_off).wait_for()
    w.press("old", "menu_apply")
    w.expect("old", "apply-form")
    w.fill("old", "card_sign_password", card)
    w.tick("old", "confirmed")
    w.press("old", "apply")
    w.expect("old", "card-read")
    w.click("tap-card-old")
    _new_passwords(w, "old", "OLDPH123", "1357")
    w.no_message("old")
    w.shot("08-apply-done-push-off")

    walk_portal_after_48h(w)


def _start_over(w: Walker, worlds: list[FakeWorld] | None = None) -> None:
    """The operator panel's 「最初からやり直す」: a new session world (resident, card, phones);
    with ``worlds`` (the FakeWorld server's), wait until the new world is on the list."""
    before = len(worlds) if worlds is not None else 0
    w.click("operator-reset")
    deadline = time.monotonic() + 10
    while worlds is not None and len(worlds) == before and time.monotonic() < deadline:
        time.sleep(0.05)
    # Every caller leaves both phones away from home, so home on both is the new world.
    w.expect("old", "home", timeout=90_000)
    w.expect("new", "home", timeout=90_000)


def _old_offline(w: Walker) -> None:
    """The old phone's network switch off (the portal's session world starts it so already,
    the FakeWorld's online)."""
    if w.tid("network-old").get_attribute("data-online") == "true":
        w.click("network-toggle-old")
        w.page.locator('[data-testid="network-old"][data-online="false"]').wait_for()


def _back_online(w: Walker, *, after_48h: bool) -> None:
    """The old phone comes online: at once, or after the operator moved the clock past the
    48-hour deletion window (one press moves 49 hours: the window is inclusive)."""
    if after_48h:
        before = w.tid("operator-now").inner_text()
        w.click("operator-advance-48h")
        w.page.wait_for_function(
            "(before) => document.querySelector('[data-testid=\"operator-now\"]')"
            ".innerText !== before",
            arg=before,
        )
    w.click("network-toggle-old")
    w.expect("old", "old-phone-notice")


def _model_change_old_in_drawer(w: Walker, card: str) -> None:
    """③–⑪ on the new phone while the old phone is offline (in a drawer)."""
    _old_offline(w)
    w.press("new", "my_page")
    w.press("new", "model_change")
    w.expect("new", "apply-form")
    w.fill("new", "card_sign_password", card)
    w.tick("new", "confirmed")
    w.press("new", "apply")
    w.expect("new", "card-read")
    w.click("tap-card-new")
    w.dialog("new", "revoke-old")
    w.click("dialog-button-new-agree_next")
    _new_passwords(w, "new", "NEW456", "2468")


def _revoke_other_old_in_drawer(w: Walker, card: str) -> None:
    """失効 of the old phone's certificates from the new phone, the old phone offline."""
    _old_offline(w)
    w.press("new", "my_page")
    w.press("new", "revoke_other")
    w.expect("new", "revoke-other")
    w.fill("new", "card_sign_password", card)
    w.press("new", "revoke_do")
    w.dialog("new", "revoke-other-confirm")
    w.click("dialog-button-new-revoke_confirm")
    w.expect("new", "card-read")
    w.click("tap-card-new")
    w.expect("new", "done")


def walk_portal_after_48h(w: Walker) -> None:
    """The old phone back after 48 hours, on the real portal: ``serve`` on a sandbox data
    directory (``ca init --sandbox``), whose clock the operator panel's 「時間を49時間進める」
    moves for every worker (POST /operator/v1/clock/advance does the same). A new session
    world for each case; the page is ``walk_portal``'s."""

    def card() -> str:
        return w.tid("info-card_sign_password").inner_text().strip()

    _start_over(w)
    _model_change_old_in_drawer(w, card())
    _back_online(w, after_48h=True)
    w.shot("21-notice-model-change-48h")

    _start_over(w)
    _revoke_other_old_in_drawer(w, card())
    _back_online(w, after_48h=True)
    w.shot("23-notice-revoked-other-48h")


def walk_fake(w: Walker, base: str, worlds: list[FakeWorld]) -> None:
    """The old phone's notices after a card replacement, within and after 48 hours: no
    simulator button makes one, so the walk stages it on the in-memory FakeWorld
    (``FakeWorld.replace_card`` does what the portal's ``replace_card`` does)."""
    w.page.goto(f"{base}/simulator/?lang={w.lang.value}")
    w.expect("old", "home")
    w.press("new", "my_page")  # away from home: _start_over waits for home on both phones
    for name, after_48h in (
        ("24-notice-card-replaced", False),
        ("25-notice-card-replaced-48h", True),
    ):
        _start_over(w, worlds)  # the world just made is worlds[-1]
        _old_offline(w)
        # What the portal's replace_card leaves for the phone: its certificates revoked and
        # a 48-hour deletion naming the card as the cause (FakeWorld.replace_card).
        worlds[-1].replace_card()
        _back_online(w, after_48h=after_48h)
        w.shot(name)
    walk_authapp(w, base, worlds)


# A relying party's request as the FakeWorld holds it (FakeWorld.add_auth_request); its name in
# the walk's language, as a real RP's name would be read by its users.
AUTHAPP_URL = "http://127.0.0.1:8000/api/realms/main/device-approvals/walk"
AUTHAPP_RP = {Lang.JA: "テスト商店", Lang.EN: "Test Shop"}
_FACTS = ("openid", "name", "address", "birthdate", "gender")


def walk_authapp(w: Walker, base: str, worlds: list[FakeWorld]) -> None:
    """The デジタル認証アプリ on the old phone (the FakeWorld's, holding both certificates):
    the request pasted, consent, PIN, password, done; then through the link parameter, the
    card instead, and a request that expires while the person reads it."""
    _start_over(w, worlds)
    world, rp = worlds[-1], AUTHAPP_RP[w.lang]
    world.add_auth_request(AUTHAPP_URL, client_name=rp, scopes=_FACTS)
    w.press("old", "authapp")
    w.expect("old", "authapp-open")
    w.fill("old", "authapp_url", AUTHAPP_URL)
    w.shot("50-authapp-open")
    w.press("old", "authapp_open")
    w.expect("old", "authapp-consent")
    w.shot("51-authapp-consent")
    w.press("old", "authapp_agree")
    w.expect("old", "authapp-pin")
    w.fill("old", "auth_pin", "5678")  # FakeWorld's old phone (web/simulator.FAKE_WORLD_INFO)
    w.shot("52-authapp-pin")
    w.press("old", "next")
    w.expect("old", "authapp-password")
    w.fill("old", "sign_password", "OLD123")
    w.shot("53-authapp-password")
    w.press("old", "next")
    w.expect("old", "authapp-done")
    w.no_message("old")
    w.shot("54-authapp-done")
    w.press("old", "authapp_close")
    w.expect("old", "home")

    second = AUTHAPP_URL + "-2"
    world.add_auth_request(second, client_name=rp, scopes=("openid",))
    w.page.goto(f"{base}/simulator/?authapp={quote(second, safe='')}")
    w.expect("old", "authapp-consent")
    w.press("old", "authapp_agree")
    w.expect("old", "authapp-pin")
    w.press("old", "authapp_use_card")
    w.tid("button-old-authapp_use_phone").wait_for()
    w.fill("old", "auth_pin", "1234")  # the FakeWorld's card
    w.shot("55-authapp-card-pin")
    w.press("old", "next")
    w.expect("old", "card-read")
    before = w.tid("operator-now").inner_text()
    w.click("operator-advance-1h")  # the request lives 10 minutes
    w.page.wait_for_function(
        "(before) => document.querySelector('[data-testid=\"operator-now\"]').innerText !== before",
        arg=before,
    )
    w.click("tap-card-old")
    w.expect("old", "authapp-refused")
    w.shot("56-authapp-refused")
