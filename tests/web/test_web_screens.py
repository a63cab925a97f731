# ruff: noqa: RUF001 - the app's texts are Japanese, full-width punctuation and all
"""The simulator's HTML as the Mynaportal app draws it (issue 17): app bar, tiles, button weight,
links, the whole hotline block, a guide of steps that follows the phone, and markup a strict CSP
(`script-src 'self'; style-src 'self'`) allows: no inline script, handler or style."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sim_helpers import LiveServer


@pytest.fixture
def client(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url) as client:
        assert client.get("/simulator/").status_code == 200
        yield client


def ev(client: httpx.Client, phone: str, type_: str, name: str = "", **fields: str) -> str:
    r = client.post(
        "/simulator/event", json={"phone": phone, "type": type_, "name": name, "fields": fields}
    )
    assert r.status_code == 200, r.text
    panel: str = r.json()["panels"][phone]
    return panel


def tag(html: str, testid: str) -> str:
    m = re.search(rf'<(\w+)[^>]*data-testid="{re.escape(testid)}"[^>]*>', html)
    assert m, testid
    return m.group(0)


def no_inline_code_or_style(html: str) -> None:
    assert re.search(r"<script(?![^>]*\bsrc=)", html) is None  # only <script src=...>
    assert re.search(r"\son[a-z]+\s*=", html) is None
    assert re.search(r"\sstyle\s*=", html) is None


def walk_to_registered(client: httpx.Client) -> str:
    ev(client, "new", "press", "my_page")
    ev(client, "new", "press", "model_change")
    ev(client, "new", "toggle", "confirmed")
    ev(client, "new", "press", "apply", card_sign_password="ABC123")
    ev(client, "new", "tap-card")
    ev(client, "new", "press", "agree_next")
    ev(client, "new", "press", "next", new_password="NEW456", new_password_again="NEW456")
    panel = ev(client, "new", "press", "next", new_password="2468", new_password_again="2468")
    assert 'data-screen="apply-done"' in panel
    client.post("/simulator/poll")
    ev(client, "new", "tap-banner")
    ev(client, "new", "press", "register")
    panel = ev(client, "new", "press", "register")
    assert 'data-screen="register-done"' in panel
    return panel


def test_home_has_tiles_and_no_back_arrow_my_page_has_an_app_bar(client: httpx.Client) -> None:
    page = client.get("/simulator/").text
    assert '<div class="tiles">' in page
    assert 'class="tile"' in tag(page, "button-new-my_page")
    assert 'data-testid="back-new"' not in page
    panel = ev(client, "new", "press", "my_page")
    assert '<header class="appbar">' in panel
    back = tag(panel, "back-new")
    assert 'data-name="home"' in back and 'aria-label="戻る"' in back
    assert 'data-screen="home"' in ev(client, "new", "press", "home")


def test_primary_is_filled_back_is_outlined_revoke_is_destructive_and_confirmed(
    client: httpx.Client,
) -> None:
    ev(client, "new", "press", "my_page")
    panel = ev(client, "new", "press", "model_change")
    assert 'class="btn btn-primary"' in tag(panel, "button-new-apply")
    assert 'class="btn btn-secondary"' in tag(panel, "button-new-back")
    ev(client, "old", "press", "my_page")
    panel = ev(client, "old", "press", "revoke_own")
    assert 'class="btn btn-destructive"' in tag(panel, "button-old-revoke_do")
    panel = ev(client, "old", "press", "revoke_do", secret="OLD123")
    assert 'data-dialog="revoke-own-confirm"' in panel
    assert 'class="btn btn-destructive"' in tag(panel, "dialog-button-old-revoke_confirm")
    assert "スマホ用電子証明書を失効しますか？" in panel
    panel = ev(client, "old", "press", "revoke_cancel")
    assert 'data-screen="revoke-own"' in panel and "data-dialog" not in panel


def test_my_page_has_one_revoke_row_per_heading(client: httpx.Client) -> None:
    panel = ev(client, "old", "press", "my_page")
    rows = re.findall(r'<button type="button" class="row"[^>]*>([^<]+)</button>', panel)
    assert rows.count("失効") == 1 and len(rows) == len(set(rows))
    assert "このスマホのスマホ用電子証明書を失効" in rows


def test_the_seeds_links_are_links_to_the_in_app_manual(client: httpx.Client) -> None:
    panel = walk_to_registered(client)
    link = tag(panel, "button-new-manual")
    assert link.startswith('<a class="link" href=')
    panel = ev(client, "new", "press", "manual")
    assert 'data-screen="manual"' in panel and "①マイナポータルアプリを開き" in panel
    assert tag(panel, "button-new-manual_next").startswith('<a class="link"')
    panel = ev(client, "new", "press", "manual_next")
    assert "⑬「登録する」を押します" in panel and "画面例 署名用電子証明書" in panel
    assert 'href="tel:0120950178"' in panel


def test_the_operator_panel_and_help_screen_show_the_whole_hotline(client: httpx.Client) -> None:
    page = client.get("/simulator/").text
    panel = ev(client, "new", "press", "help")
    for html in (page, panel):
        for needle in (
            "0120-95-0178",
            "平日：9時30分～20時00分",
            "土日祝：9時30分～17時30分（年末年始を除く）",
            "050-3818-1250",
            "050-3816-9405",
            "0120-0178-26",
            "0120-0178-27",
            "Inquiries about Individual Number Card, etc.",
        ):
            assert needle in html


def test_the_guide_follows_the_phone_and_shows_only_steps(client: httpx.Client) -> None:
    page = client.get("/simulator/").text
    assert 'data-testid="guide-new-guide_step1"' in page
    panel = walk_to_registered(client)
    panel = ev(client, "new", "press", "to_my_page")
    assert 'data-screen="my-page"' in panel
    assert "③「機種変更」を押します" not in panel
    assert '<div class="guide" data-testid="guide-new" hidden>' in panel
    guides = re.findall(r'data-testid="guide-new-(\w+)"', page)
    assert guides and all(re.fullmatch(r"guide_step\d+", g) for g in guides)


def test_the_pin_is_called_a_pin(client: httpx.Client) -> None:
    ev(client, "new", "press", "my_page")
    ev(client, "new", "press", "model_change")
    ev(client, "new", "toggle", "confirmed")
    ev(client, "new", "press", "apply", card_sign_password="ABC123")
    ev(client, "new", "tap-card")
    ev(client, "new", "press", "agree_next")
    panel = ev(client, "new", "press", "next", new_password="NEW456", new_password_again="NEW456")
    screen = panel[: panel.index('<p class="network"')]
    assert "暗証番号（確認用）" in screen and "パスワード" not in screen
    panel = ev(client, "new", "press", "next", new_password="2468", new_password_again="2467")
    assert "入力した暗証番号が一致しません。" in panel


def test_no_inline_script_handler_or_style_anywhere(client: httpx.Client) -> None:
    no_inline_code_or_style(client.get("/simulator/").text)
    no_inline_code_or_style(client.get("/simulator/?lang=en").text)
    for name in ("my_page", "home", "manual", "manual_next", "back", "back", "help", "back"):
        no_inline_code_or_style(ev(client, "new", "press", name))
    no_inline_code_or_style(walk_to_registered(client))
