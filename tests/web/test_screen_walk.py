# ruff: noqa: RUF002 - the docstring writes the document's step range with its en dash
"""Every screen of the simulator, in both languages, walked in headless Chromium (issue 17).

The walk is ``mobile_jpki.web.walk`` (the one ``scripts/screenshots`` saves pictures with): the
real portal under ``mobile-jpki serve --simulator`` (a sandbox data directory) for the model
change ①–⑬, the side paths and the old phone's notices within and after 48 hours, the
in-memory FakeWorld for the notices after a card replacement. It fails on any console or page
error, failed request, Content-Security-Policy violation (the strict policy the server is to
send is applied to every page now) or code, text id, placeholder or other-language text on a
screen.
"""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sim_helpers import LiveServer

from mobile_jpki.phone.app.messages import ERROR_MESSAGES
from mobile_jpki.phone.app.screens import MESSAGE_TEXT, Message, MessageCode
from mobile_jpki.phone.app.texts import TEXTS
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.web import walk

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# --- the untranslated-text check, on its own ----------------------------------------------


def _filled(value: str) -> str:
    # Every {placeholder} of the texts gets a value a screen could show.
    value = value.replace("{tries_left}", "3").replace("{code}", "E-1")
    # the デジタル認証アプリ's: the relying party's name, a scope, a digest (as the RP gives)
    return value.replace("{client}", "1234").replace("{scope}", "99").replace("{digest}", "0f")


@pytest.mark.parametrize("lang", [Lang.JA, Lang.EN])
def test_no_text_of_the_app_is_taken_for_a_code(lang: Lang) -> None:
    """The check must pass every text the app really shows, in its own language."""
    flagged = {
        t.id: untranslated
        for t in TEXTS.values()
        if (untranslated := walk.untranslated(_filled(t.in_lang(lang)), lang))
    }
    assert flagged == {}


@pytest.mark.parametrize(
    ("shown", "lang", "expected"),
    [
        ("暗証番号 pin-format", Lang.JA, "code 'pin-format'"),
        ("Error: device-not-recognised", Lang.EN, "code 'device-not-recognised'"),
        ("guide_step3", Lang.JA, "text id 'guide_step3'"),
        ("Press err_pin_format", Lang.EN, "text id 'err_pin_format'"),
        ("あと{tries_left}回です", Lang.JA, "placeholder '{tries_left}'"),
        ("マイページ Register", Lang.JA, "English word 'Register' on a Japanese screen"),
        ("My page 登録する", Lang.EN, "Japanese on an English screen"),
    ],
)
def test_codes_ids_placeholders_and_the_other_language_are_found(
    shown: str, lang: Lang, expected: str
) -> None:
    assert any(p.startswith(expected) for p in walk.untranslated(shown, lang)), expected


def test_every_error_code_a_backend_answers_is_caught_if_it_leaks() -> None:
    for code in ERROR_MESSAGES:
        if "-" in code:
            assert walk.untranslated(f"エラー {code}", Lang.JA), code
    # ... while every message those codes become passes
    for message_code in MessageCode:
        shown = _filled(
            Message(message_code, (("tries_left", "2"), ("code", "E-1"))).render(Lang.JA)
        )
        assert walk.untranslated(shown, Lang.JA) == [], (MESSAGE_TEXT[message_code], shown)


def test_the_catalogue_quotes_only_the_document_and_is_documented() -> None:
    for shot in walk.CATALOGUE:
        assert all(TEXTS[i].source.value == "guide" for i in shot.seed), shot.name
    page = walk.render_markdown("screens")
    for shot in walk.CATALOGUE:
        assert f"screens/{shot.name}" in page
    # The committed page is the generated one (scripts/screenshots writes both).
    docs = Path(__file__).resolve().parents[2] / "docs"
    assert (docs / "screens.md").read_text(encoding="utf-8") == page
    pictures = {p.name for p in (docs / "screens").glob("*.png")}
    wanted = {re.search(r'src="screens/([^"]+)"', m)[1] for m in re.findall(r"<img [^>]+>", page)}
    assert wanted == pictures


def test_the_stand_alone_simulator_serves_the_favicon_its_pages_link(
    live_server: LiveServer,
) -> None:
    with httpx.Client(base_url=live_server.url) as client:
        page = client.get("/simulator/")
        assert '<link rel="icon" href="/favicon.svg"' in page.text
        icon = client.get("/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")


# --- in the browser ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    pytest.importorskip("playwright.sync_api", reason="Playwright for Python is absent")
    if not walk.CHROMIUM.exists():
        pytest.skip("Debian chromium (/usr/bin/chromium) absent")
    with walk.chromium() as b:
        yield b


class _Broken(http.server.BaseHTTPRequestHandler):
    """A page with what the walk must catch: an inline style and script, a missing image."""

    def do_GET(self) -> None:
        if self.path != "/":
            self.send_error(404)
            return
        body = (
            b'<!doctype html><html lang="ja"><head></head>'
            b'<body><p style="color:red">x</p><script>document.title="t"</script>'
            b'<img src="/missing.png" alt=""></body></html>'
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.browser
def test_the_monitor_catches_csp_violations_and_failed_requests(browser: Browser) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monitor = walk.Monitor()
        context = browser.new_context()
        page = context.new_page()
        monitor.attach(page, "broken")
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        page.wait_for_load_state("load")
        deadline = time.monotonic() + 5
        while len(monitor.problems) < 3 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        context.close()
    finally:
        server.shutdown()
        server.server_close()
    found = "\n".join(monitor.problems)
    assert "CSP violation: style-src" in found
    assert "CSP violation: script-src" in found
    assert "HTTP 404 GET" in found and "/missing.png" in found


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with walk.serve_portal(tmp_path_factory.mktemp("walk")) as url:
        yield url


@pytest.fixture(scope="module")
def fake() -> Iterator[walk.FakeServer]:
    with walk.serve_fake() as server:
        yield server


@pytest.mark.browser
def test_every_screen_in_both_languages(
    browser: Browser, portal: str, fake: walk.FakeServer
) -> None:
    report = walk.walk_all(browser, portal, fake)
    assert report.problems == []
    assert walk.missing_shots(report) == []
    print(f"screen walk: {sum(map(len, report.taken.values()))} screens in {report.seconds:.1f} s")
