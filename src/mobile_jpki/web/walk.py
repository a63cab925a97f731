# ruff: noqa: RUF001, RUF002 - Japanese captions and the document's step ranges use
# full-width punctuation and en dashes on purpose
"""Every screen of the phone simulator, walked in headless Chromium (issue 17 "Wanted" 9).

One walk serves two masters: ``scripts/screenshots`` saves a PNG of every screen in Japanese and
English and writes ``docs/screens.md`` from :data:`CATALOGUE`; ``tests/web/test_screen_walk.py``
walks the same screens without saving and fails on what a person must never meet (a console or
page error, a failed request, a Content-Security-Policy violation, an untranslated code).

Where the screens come from (both as a user meets them, through the browser):

- ``mobile-jpki serve --simulator`` on a fresh data directory (:func:`serve_portal`): the real
  portal, CA, OCSP and push. The model change ①–⑬, the side paths, the old phone's notice
  within 48 hours.
- The in-memory FakeWorld (:func:`serve_fake`), for the notices the real portal cannot show yet:
  after 48 hours (``serve`` runs on the real clock) and after a card replacement (no simulator
  button makes one; the walk calls ``FakeWorld.replace_card``, which does what the portal's
  ``replace_card`` does).

Needs Playwright for Python (the ``dev`` extra) and Debian's ``/usr/bin/chromium``; the browser
is never downloaded (``executable_path``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mobile_jpki.phone.app.fake import FakeWorld
from mobile_jpki.phone.app.messages import ERROR_MESSAGES
from mobile_jpki.phone.app.screens import DialogId, MessageCode, ScreenId
from mobile_jpki.phone.app.texts import TEXTS
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.web.render import CHROME
from mobile_jpki.web.simulator import SimulatorWorld, fake_world_factory

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, Route
    from playwright.sync_api import Response as PwResponse

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# The policy every page must live under (issue 16 §5; api/headers.py sends it from `serve`).
# The stand-alone simulator app (no api middleware) gets it added by the walk, so its pages
# are held to the same rule (W3C CSP Level 3); pages from `serve` must carry their own.
EXPECTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The simulator page is laid out for a desktop (two phones, the card, the operator panel); the
# pictures are of one phone's panel (its frame, network switch and guide), at 1 px per CSS px.
VIEWPORT = {"width": 1280, "height": 900}
LANGS = (Lang.JA, Lang.EN)


# --- the catalogue: what is shot, in the order docs/screens.md shows it --------------------


@dataclass(frozen=True)
class Shot:
    """One picture: ``name`` is the file stem (``<name>-<lang>.png``; the front door has one,
    bilingual picture ``<name>.png``). ``steps``: the user's document's step numbers;
    ``seed``: ids of the document's narration for those steps (texts_seed, GUIDE); ``what``:
    what the picture shows, in Japanese and English."""

    name: str
    group: str
    phone: str
    steps: str
    seed: tuple[str, ...]
    what: tuple[str, str]


FLOW, OLD_PHONE, SIDE, FRONT = "flow", "old-phone", "side", "front"

CATALOGUE: tuple[Shot, ...] = (
    Shot(
        "00-front-door",
        FRONT,
        "page",
        "",
        (),
        (
            "入口 /（mobile-jpki serve --simulator）",
            "The front door / (mobile-jpki serve --simulator)",
        ),
    ),
    Shot("01-home", FLOW, "new", "①②", ("guide_step1", "guide_step2"), ("ホーム", "Home")),
    Shot(
        "02-my-page",
        FLOW,
        "new",
        "②③",
        ("guide_step2_note", "guide_step3"),
        ("マイページ", "My page"),
    ),
    Shot(
        "03-apply-form",
        FLOW,
        "new",
        "④–⑦",
        ("guide_step4", "guide_step5", "guide_step6", "guide_step7"),
        ("機種変更の申請（1画面、スクロール）", "The model-change form (one scrolling screen)"),
    ),
    Shot(
        "04-card-read",
        FLOW,
        "new",
        "⑧",
        ("guide_step8",),
        ("マイナンバーカード読み取り", "Reading the card"),
    ),
    Shot(
        "05-revoke-old-dialog",
        FLOW,
        "new",
        "⑨",
        ("guide_step9", "guide_step9_note"),
        (
            "旧スマホ用電子証明書の失効確認",
            "The dialog: the old phone's certificates will be revoked",
        ),
    ),
    Shot(
        "06-new-password-sign",
        FLOW,
        "new",
        "⑩",
        ("guide_step10_note", "guide_screen_example_sign", "guide_step10"),
        ("署名用電子証明書のパスワード", "The signing certificate's password"),
    ),
    Shot(
        "07-new-password-pin",
        FLOW,
        "new",
        "⑩⑪",
        ("guide_step10", "guide_step11"),
        ("利用者証明用電子証明書の暗証番号", "The user-authentication certificate's PIN"),
    ),
    Shot(
        "08-apply-done",
        FLOW,
        "new",
        "⑪",
        ("guide_step11_caption",),
        ("申請の完了（プッシュ通知 オン）", "Application done (push notifications on)"),
    ),
    Shot(
        "08-apply-done-push-off",
        FLOW,
        "old",
        "⑪",
        ("guide_step11_caption",),
        ("申請の完了（プッシュ通知 オフ）", "Application done (push notifications off)"),
    ),
    Shot(
        "09-push-banner",
        FLOW,
        "new",
        "⑫",
        ("guide_step12_note",),
        ("プッシュ通知 登録準備完了", "The push: ready to register"),
    ),
    Shot(
        "10-my-page-ready",
        FLOW,
        "new",
        "⑫",
        ("guide_step12",),
        ("マイページ（登録準備が完了しています）", "My page: ready to register"),
    ),
    Shot(
        "11-register",
        FLOW,
        "new",
        "⑫→⑬",
        ("guide_step13",),
        ("スマホ用電子証明書の登録", "Registering the certificates"),
    ),
    Shot(
        "12-register-done",
        FLOW,
        "new",
        "⑬",
        ("guide_step13_caption", "guide_biometrics_note", "guide_manual"),
        ("登録完了", "Registration done"),
    ),
    Shot(
        "13-manual-1", FLOW, "new", "", ("guide_manual",), ("操作マニュアル ①–⑨", "The manual, ①–⑨")
    ),
    Shot(
        "14-manual-2",
        FLOW,
        "new",
        "",
        ("guide_continued",),
        ("操作マニュアル（続き）⑩–⑬", "The manual, continued: ⑩–⑬"),
    ),
    Shot("15-help", FLOW, "new", "", ("hotline_heading",), ("お問合せ", "Help: the hotline")),
    Shot(
        "20-notice-model-change",
        OLD_PHONE,
        "old",
        "",
        ("guide_wifi",),
        (
            "古いスマホ: 機種変更、48時間以内に接続（削除）",
            "Old phone: model change, online within 48 h (deleted)",
        ),
    ),
    Shot(
        "21-notice-model-change-48h",
        OLD_PHONE,
        "old",
        "",
        (),
        (
            "古いスマホ: 機種変更、48時間後に接続（残るが利用不可）",
            "Old phone: model change, online after 48 h (kept, unusable)",
        ),
    ),
    Shot(
        "22-notice-revoked-other",
        OLD_PHONE,
        "new",
        "",
        (),
        (
            "別のスマホから失効、48時間以内（削除）",
            "Revoked from another phone, within 48 h (deleted)",
        ),
    ),
    Shot(
        "23-notice-revoked-other-48h",
        OLD_PHONE,
        "old",
        "",
        (),
        ("別のスマホから失効、48時間後", "Revoked from another phone, after 48 h"),
    ),
    Shot(
        "24-notice-card-replaced",
        OLD_PHONE,
        "old",
        "",
        (),
        ("カードの更新・再発行、48時間以内", "Card renewed or replaced, within 48 h"),
    ),
    Shot(
        "25-notice-card-replaced-48h",
        OLD_PHONE,
        "old",
        "",
        (),
        ("カードの更新・再発行、48時間後", "Card renewed or replaced, after 48 h"),
    ),
    Shot(
        "30-biometrics",
        SIDE,
        "new",
        "⑬",
        ("guide_biometrics_note",),
        ("生体認証の利用登録", "Enrolling biometrics"),
    ),
    Shot("31-self-check", SIDE, "new", "⑬", (), ("動作確認", "Self-check")),
    Shot(
        "32-self-check-result",
        SIDE,
        "new",
        "",
        (),
        ("動作確認の結果（OCSP）", "Self-check result (OCSP)"),
    ),
    Shot(
        "33-revoke-own",
        SIDE,
        "new",
        "",
        (),
        ("このスマホの証明書を失効", "Revoking this phone's certificates"),
    ),
    Shot("34-revoke-own-confirm", SIDE, "new", "", (), ("失効の確認", "Confirming the revocation")),
    Shot(
        "35-revoke-other",
        SIDE,
        "old",
        "",
        (),
        ("別のスマホの証明書を失効", "Revoking another phone's certificates"),
    ),
    Shot(
        "36-revoke-other-confirm", SIDE, "old", "", (), ("失効の確認", "Confirming the revocation")
    ),
    Shot("37-revoke-other-card", SIDE, "old", "", (), ("カード読み取り", "Reading the card")),
    Shot("38-revoke-other-done", SIDE, "old", "", (), ("完了", "Done")),
    Shot(
        "39-reset-choose",
        SIDE,
        "new",
        "",
        (),
        ("パスワードの初期化: 証明書を選ぶ", "Password reset: choose the certificate"),
    ),
    Shot(
        "40-reset-card",
        SIDE,
        "new",
        "",
        (),
        ("初期化: カードのパスワード", "Reset: the card's password"),
    ),
    Shot(
        "41-reset-new", SIDE, "new", "", (), ("初期化: 新しいパスワード", "Reset: the new password")
    ),
    Shot("42-release", SIDE, "new", "", (), ("一時利用停止の解除", "Releasing a suspension")),
    Shot(
        "43-release-done",
        SIDE,
        "new",
        "",
        (),
        ("解除の完了（署名用は再発行）", "Release done (the signing certificate re-issued)"),
    ),
    Shot(
        "44-card-settings",
        SIDE,
        "new",
        "",
        (),
        ("マイナンバーカードの設定", "My Number Card settings"),
    ),
    Shot(
        "45-error-pin-mismatch",
        SIDE,
        "new",
        "⑩",
        (),
        ("入力の誤り: 暗証番号が一致しません", "A typing error: the PINs differ"),
    ),
)
SHOTS: dict[str, Shot] = {s.name: s for s in CATALOGUE}


# --- what must never reach a screen ---------------------------------------------------------

_HYPHEN_CODES = frozenset(
    code
    for code in (
        *ERROR_MESSAGES,
        *(m.value for m in MessageCode),
        *(s.value for s in ScreenId),
        *(d.value for d in DialogId),
        "internal-error",
    )
    if "-" in code
)
_CODE = re.compile(
    r"(?<![\w-])("
    + "|".join(sorted(map(re.escape, _HYPHEN_CODES), key=len, reverse=True))
    + r")(?![\w-])"
)
_SNAKE = re.compile(r"(?<![\w/.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w/-])")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_ASCII_WORD = re.compile(r"[A-Za-z]{2,}")
_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uff66-\uff9f]")


def _ascii_words(values: Sequence[str]) -> frozenset[str]:
    return frozenset(w for v in values for w in _ASCII_WORD.findall(v))


# Words the Japanese screens may print in Latin letters: those of the Japanese texts themselves
# (OK, WiFi, IP, the document's own English hotline lines), the simulator's chrome, and the
# label of the NFC spot. Anything else on a Japanese phone screen is an English text leaking.
_JA_ASCII_OK = _ascii_words([t.ja for t in TEXTS.values()] + [ja for ja, _ in CHROME.values()])
_JA_ASCII_OK |= {"NFC"}
# Japanese characters an English screen may print: those its English texts contain.
_EN_KANA_OK = frozenset(
    c
    for v in [t.en for t in TEXTS.values()] + [en for _, en in CHROME.values()]
    for c in _JAPANESE.findall(v)
)


def untranslated(shown: str, lang: Lang, *, phone_screen: bool = True) -> list[str]:
    """What in ``shown`` (a page's visible text) is a code or text id rather than a text, or is
    in the other language. ``phone_screen``: ``shown`` is a phone's panel, so the language
    check applies (the operator panel shows test data such as passwords)."""
    found = [f"code {m!r}" for m in _CODE.findall(shown)]
    found += [f"text id {m!r}" for m in _SNAKE.findall(shown)]
    found += [f"placeholder {m!r}" for m in _PLACEHOLDER.findall(shown)]
    if phone_screen and lang is Lang.JA:
        found += [
            f"English word {w!r} on a Japanese screen"
            for w in sorted(set(_ASCII_WORD.findall(shown)) - _JA_ASCII_OK)
        ]
    if phone_screen and lang is Lang.EN:
        stray = sorted(set(_JAPANESE.findall(shown)) - _EN_KANA_OK)
        if stray:
            found.append(f"Japanese on an English screen: {''.join(stray)!r}")
    return found


# --- watching the page -----------------------------------------------------------------------


@dataclass
class Monitor:
    """Everything that went wrong in a browser context, as one line each."""

    problems: list[str] = field(default_factory=list)
    active: bool = True
    # Pages under this address must come with the server's own Content-Security-Policy.
    csp_required_from: str | None = None

    def add(self, where: str, what: str) -> None:
        if self.active:
            self.problems.append(f"{where}: {what}")

    def attach(self, page: Page, where: str) -> None:
        def console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                self.add(where, f"console error: {msg.text}")

        def response(resp: PwResponse) -> None:
            if resp.status >= 400:
                self.add(where, f"HTTP {resp.status} {resp.request.method} {resp.url}")
            if (
                self.csp_required_from is not None
                and resp.request.resource_type == "document"
                and resp.url.startswith(self.csp_required_from)
                and (
                    "content-security-policy" not in resp.headers
                    or _INJECTED in resp.headers  # the walk's own, not the server's
                )
            ):
                self.add(where, f"no Content-Security-Policy on {resp.url}")

        def failed(req: Request) -> None:
            self.add(where, f"request failed: {req.method} {req.url} ({req.failure})")

        def csp(violation: str) -> None:
            self.add(where, f"CSP violation: {violation}")

        page.on("console", console)
        page.on("pageerror", lambda exc: self.add(where, f"page error: {exc}"))
        page.on("response", response)
        page.on("requestfailed", failed)
        # Reported from the page the moment it happens (an init script runs outside the
        # page's CSP, and a binding is not a network request).
        page.expose_function("__mjpkiCsp", csp)
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', (e) =>"
            " window.__mjpkiCsp(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'}"
            " at ${e.sourceFile}:${e.lineNumber}`));"
        )
        page.route("**/*", _with_csp)


_INJECTED = "x-walk-added-csp"


def _with_csp(route: Route) -> None:
    """Serve every HTML document under :data:`EXPECTED_CSP` when the server sends none."""
    if route.request.resource_type != "document":
        route.continue_()
        return
    response = route.fetch()
    headers = dict(response.headers)
    if not any(k.lower() == "content-security-policy" for k in headers):
        headers["content-security-policy"] = EXPECTED_CSP
        headers[_INJECTED] = "1"
    route.fulfill(response=response, headers=headers)


# --- driving one session ---------------------------------------------------------------------


class Walker:
    """One browser page on the simulator, in one language; ``out`` None walks without saving."""

    def __init__(self, page: Page, lang: Lang, out: Path | None, monitor: Monitor) -> None:
        self.page = page
        self.lang = lang
        self.out = out
        self.monitor = monitor
        self.taken: list[str] = []

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
        self.check_texts(name)
        self.taken.append(name)
        if self.out is None:
            return
        panel = self.tid(f"phone-{spec.phone}")
        # A phone app scrolls; the picture shows the whole screen: the frame grows to fit
        # (CSSOM, allowed under style-src 'self'), then shrinks back.
        panel.evaluate(_GROW)
        try:
            panel.screenshot(path=str(self.out / f"{name}-{self.lang.value}.png"))
        finally:
            panel.evaluate(_SHRINK)


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
    w.press("new", "next")
    w.expect("new", "done")
    w.no_message("new")
    w.shot("43-release-done")
    w.press("new", "to_my_page")
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


def walk_fake(w: Walker, base: str, worlds: list[FakeWorld]) -> None:
    """The old phone's notices the real portal cannot show yet: after 48 hours, and after a
    card replacement (FakeWorld, its clock moved by the operator panel's button)."""
    page = w.page
    page.goto(f"{base}/simulator/?lang={w.lang.value}")

    def fresh() -> None:
        before = len(worlds)
        w.click("operator-reset")
        deadline = time.monotonic() + 10
        while len(worlds) == before and time.monotonic() < deadline:
            time.sleep(0.05)
        w.expect("old", "home")
        w.expect("new", "home")

    def old_offline() -> None:
        w.click("network-toggle-old")
        page.locator('[data-testid="network-old"][data-online="false"]').wait_for()

    def back_online_after_48h(advance: bool) -> None:
        if advance:
            # One press: it moves 49 hours, past the (inclusive) 48-hour window.
            before = w.tid("operator-now").inner_text()
            w.click("operator-advance-48h")
            page.wait_for_function(
                "(before) => document.querySelector('[data-testid=\"operator-now\"]')"
                ".innerText !== before",
                arg=before,
            )
        w.click("network-toggle-old")
        w.expect("old", "old-phone-notice")

    # A model change while the old phone is in a drawer; it comes back after 48 hours.
    w.expect("old", "home")
    old_offline()
    w.press("new", "my_page")
    w.press("new", "model_change")
    w.expect("new", "apply-form")
    w.fill("new", "card_sign_password", "ABC123")
    w.tick("new", "confirmed")
    w.press("new", "apply")
    w.expect("new", "card-read")
    w.click("tap-card-new")
    w.dialog("new", "revoke-old")
    w.click("dialog-button-new-agree_next")
    _new_passwords(w, "new", "NEW456", "2468")
    back_online_after_48h(advance=True)
    w.shot("21-notice-model-change-48h")

    # 失効 from another phone, the old phone back after 48 hours.
    fresh()
    old_offline()
    w.press("new", "my_page")
    w.press("new", "revoke_other")
    w.expect("new", "revoke-other")
    w.fill("new", "card_sign_password", "ABC123")
    w.press("new", "revoke_do")
    w.dialog("new", "revoke-other-confirm")
    w.click("dialog-button-new-revoke_confirm")
    w.expect("new", "card-read")
    w.click("tap-card-new")
    w.expect("new", "done")
    back_online_after_48h(advance=True)
    w.shot("23-notice-revoked-other-48h")

    # The card renewed or replaced: back within, then after, 48 hours.
    for name, advance in (
        ("24-notice-card-replaced", False),
        ("25-notice-card-replaced-48h", True),
    ):
        fresh()
        old_offline()
        # What the portal's replace_card leaves for the phone: its certificates revoked and
        # a 48-hour deletion naming the card as the cause (FakeWorld.replace_card).
        worlds[-1].replace_card()
        back_online_after_48h(advance)
        w.shot(name)


# --- servers and the whole walk ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    import httpx

    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"serve did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


@contextmanager
def serve_portal(root: Path) -> Iterator[str]:
    """``mobile-jpki serve --simulator`` (a subprocess, as a user runs it) on a data directory
    initialised under ``root``, on a free 127.0.0.1 port; yields its base URL."""
    from mobile_jpki.service.ca.bootstrap import init_data_dir

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings, _ = init_data_dir(root / "data", dt.datetime.now(dt.UTC), base_url=url)
    log = root / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOBILE_JPKI_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter, this package
            [sys.executable, "-m", "mobile_jpki", "serve", "--data-dir", str(settings.data_dir),
             "--host", "127.0.0.1", "--port", str(port), "--simulator"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )  # fmt: skip
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class FakeServer:
    url: str
    worlds: list[FakeWorld]


@contextmanager
def serve_fake() -> Iterator[FakeServer]:
    """The stand-alone simulator on the in-memory FakeWorld, in this process (so the walk can
    stage what no button makes), on a free 127.0.0.1 port."""
    import uvicorn

    from mobile_jpki.web.sandbox import SimulatorLimits
    from mobile_jpki.web.simulator import create_simulator_app

    worlds: list[FakeWorld] = []

    def factory() -> SimulatorWorld:
        made = fake_world_factory()
        worlds.append(made.old.world)  # type: ignore[attr-defined]
        return made

    port = free_port()
    limits = SimulatorLimits(per_client_per_minute=60, per_minute=60)
    app = create_simulator_app(factory, limits=limits)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield FakeServer(f"http://127.0.0.1:{port}", worlds)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    # The sync API runs its own event loop; stop it explicitly so the driver's pipes are
    # closed before anyone checks for ResourceWarnings.
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@dataclass
class WalkReport:
    taken: dict[Lang, list[str]]
    problems: list[str]
    seconds: float
    files: list[Path]


@contextmanager
def _page(browser: Browser, monitor: Monitor, where: str) -> Iterator[Page]:
    context = browser.new_context(
        viewport=VIEWPORT,  # type: ignore[arg-type]
        device_scale_factor=1,
        locale="ja-JP",
    )
    context.set_default_timeout(30_000)  # real RSA keys, real issuance jobs
    page = context.new_page()
    monitor.attach(page, where)
    try:
        yield page
    finally:
        monitor.active = False  # closing aborts the page's polling: not a problem
        context.close()
        monitor.active = True


def walk_all(
    browser: Browser,
    portal_url: str,
    fake: FakeServer,
    out: Path | None = None,
    langs: Sequence[Lang] = LANGS,
) -> WalkReport:
    """Every screen of :data:`CATALOGUE` in every language, plus the front door."""
    started = time.monotonic()
    monitor = Monitor(csp_required_from=portal_url)
    taken: dict[Lang, list[str]] = {}
    files: list[Path] = []
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    with _page(browser, monitor, "front door") as page:
        page.goto(f"{portal_url}/")
        page.get_by_test_id("link-simulator").wait_for()
        shown = page.locator("body").inner_text()
        for problem in untranslated(shown, Lang.JA, phone_screen=False):
            monitor.add("front door", problem)
        if out is not None:
            path = out / "00-front-door.png"
            page.screenshot(path=str(path), full_page=True)
            files.append(path)
    for lang in langs:
        names: list[str] = []
        with _page(browser, monitor, f"portal {lang.value}") as page:
            w = Walker(page, lang, out, monitor)
            walk_portal(w, portal_url)
            names += w.taken
        with _page(browser, monitor, f"fake {lang.value}") as page:
            w = Walker(page, lang, out, monitor)
            walk_fake(w, fake.url, fake.worlds)
            names += w.taken
        taken[lang] = names
        if out is not None:
            files += [out / f"{n}-{lang.value}.png" for n in names]
    return WalkReport(taken, monitor.problems, time.monotonic() - started, files)


def missing_shots(report: WalkReport) -> list[str]:
    """Catalogue entries a language's walk did not reach."""
    wanted = [s.name for s in CATALOGUE if s.group != FRONT]
    return [
        f"{lang.value}:{n}" for lang, got in report.taken.items() for n in wanted if n not in got
    ]


# --- docs/screens.md -------------------------------------------------------------------------

_GROUP_TITLES = {
    FRONT: "The front door",
    FLOW: "The model change, in the document's order (new phone unless marked)",
    OLD_PHONE: "The old phone's notice: its cause, and within or after 48 hours",
    SIDE: "Side paths (not steps of the document)",
}
_GROUP_NOTES = {
    FRONT: "`GET /` of `mobile-jpki serve --simulator`: what runs, where, the CA certificates.",
    FLOW: (
        "Left: the document's step and its narration (quoted from `texts_seed.py`, ja / en). "
        "Each picture is one phone's panel as the simulator shows it: the app, its network "
        "switch and the guide (操作手順) that follows the phone's state. A screen taller than "
        "the phone is drawn whole, as if scrolled."
    ),
    OLD_PHONE: (
        "Within 48 hours and the model change from another phone's revocation: the real portal "
        "(`serve --simulator`). After 48 hours and the card replacement: the in-memory "
        "FakeWorld, whose clock the operator panel moves (`serve` runs on the real clock) and "
        "where the walk stages the card replacement's instruction (no simulator button makes "
        "one)."
    ),
    SIDE: "",
}


def _md(value: str) -> str:
    """A text as literal Markdown inside a table cell (the document's 「※」 notes start with
    ``*`` in English)."""
    return value.replace("\\", "\\\\").replace("*", "\\*").replace("|", "\\|")


def render_markdown(images: str = "screens") -> str:
    """``docs/screens.md``: the catalogue, with the pictures under ``images`` (relative)."""
    lines = [
        "<!-- Generated by scripts/screenshots from src/mobile_jpki/web/walk.py (CATALOGUE);"
        " do not edit by hand: run `scripts/screenshots`. -->",
        "# The screens",
        "",
        "Every screen of the phone simulator, in Japanese and English, as headless Chromium "
        "draws it: `scripts/screenshots` walks `mobile-jpki serve --simulator` (the real "
        "portal) through the user's document (`seed/000_5703786ead540e5a.txt`, steps ①–⑬) "
        "and the paths around it, and writes the pictures and this page from the same "
        "catalogue (`src/mobile_jpki/web/walk.py`), so they never drift. "
        "`tests/web/test_screen_walk.py` walks the same screens on every CI run and fails on "
        "a console error, a failed request, a CSP violation or an untranslated code.",
        "",
    ]
    for group in (FRONT, FLOW, OLD_PHONE, SIDE):
        lines += [f"## {_GROUP_TITLES[group]}", ""]
        if _GROUP_NOTES[group]:
            lines += [_GROUP_NOTES[group], ""]
        shots = [s for s in CATALOGUE if s.group == group]
        if group == FRONT:
            for s in shots:
                lines += [f'<img src="{images}/{s.name}.png" width="640" alt="{s.what[1]}">', ""]
            continue
        lines += ["| step | screen; the document says | 日本語 | English |", "|---|---|---|---|"]
        for s in shots:
            seed = "<br>".join(f"{_md(TEXTS[i].ja)}<br>*{_md(TEXTS[i].en)}*" for i in s.seed)
            where = "" if s.phone == "new" else " (old phone)"
            what = f"**{s.what[0]}**<br>{s.what[1]}{where}"
            cells = [
                s.steps or "—",
                f"{what}<br><br>{seed}" if seed else what,
                *(
                    f'<img src="{images}/{s.name}-{lang.value}.png" width="260"'
                    f' alt="{s.what[1]} ({lang.value})">'
                    for lang in LANGS
                ),
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def total_size(files: Sequence[Path]) -> int:
    return sum(f.stat().st_size for f in files if f.exists())


__all__ = [
    "CATALOGUE",
    "EXPECTED_CSP",
    "Monitor",
    "Shot",
    "WalkReport",
    "Walker",
    "chromium",
    "missing_shots",
    "render_markdown",
    "serve_fake",
    "serve_portal",
    "total_size",
    "untranslated",
    "walk_all",
]
