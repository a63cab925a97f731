"""The web step (issue 18 §3 "In the browser"): which RP asks for what, a QR code and an app
link, following the app's progress, and the redirect — only for the browser that opened it."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import httpx

from mobile_jpki.phone.transport import InProcessTransport

from .conftest import REDIRECT, Twin, query_of


def browser(twin: Twin) -> httpx.Client:
    """A second cookie jar on the same app (another browser)."""
    return httpx.Client(
        transport=InProcessTransport(twin.system.app, client=("127.0.0.1", 124)),
        base_url="http://127.0.0.1:8000",
    )


def open_in_browser(twin: Twin, url: str, client: httpx.Client) -> str:
    parts = urlsplit(url)
    started = client.get(f"{parts.path}?{parts.query}", headers={"Accept": "text/html"})
    assert started.status_code == 303, started.text
    assert "authapp_step" in started.headers["set-cookie"]
    assert "httponly" in started.headers["set-cookie"].lower()
    location = started.headers["location"]
    assert location.startswith("/api/realms/main/web-step/")
    return location


def test_the_web_step_shows_the_request_and_redirects_its_own_browser(twin: Twin) -> None:
    url, params = twin.auth_url(scope="openid name birthdate")
    with browser(twin) as mine, browser(twin) as stranger:
        step = open_in_browser(twin, url, mine)
        page = mine.get(step)
        assert page.status_code == 200
        html = page.text
        assert "Example RP" in html
        assert "氏名" in html and "生年月日" in html and "住所" not in html
        assert '<meta http-equiv="refresh" content="2">' in html
        assert "script-src" in page.headers["content-security-policy"]
        assert "<script" not in html
        qr = re.search(r'<img class="qr" src="([^"]+)"', html)
        assert qr is not None
        svg = mine.get(qr.group(1))
        assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"
        assert svg.content.lstrip().startswith(b"<?xml") or b"<svg" in svg.content[:200]
        link = re.search(r'href="(mobile-jpki-auth://authorize\?url=[^"]+)"', html)
        assert link is not None
        approval_url = unquote(link.group(1).split("url=", 1)[1].replace("&amp;", "&"))
        # The app answers through the approval URL the page carries.
        view = twin.http.get(urlsplit(approval_url).path).json()
        assert view["needs_sign_key"] is True
        app = twin.answer(view)
        assert app.status_code == 200, app.text
        app_code = query_of(app.json()["redirect_uri"])["code"]
        # Another browser learns nothing: no redirect, no code.
        other = stranger.get(step)
        assert other.status_code == 200 and "code=" not in other.text
        assert "終了" in other.text
        # The browser that opened it is sent on, with a fresh code and the same state.
        moved = mine.get(step)
        assert moved.status_code == 303
        final = mine.get(moved.headers["location"])
        assert final.status_code == 303
        target = final.headers["location"]
        assert target.startswith(REDIRECT + "?")
        query = query_of(target)
        assert query["state"] == params["state"] and query["code"] != app_code
        # Once: the cookie is spent.
        assert mine.get(moved.headers["location"]).status_code == 404


def test_a_denied_request_sends_the_browser_back_with_the_error(twin: Twin) -> None:
    url, params = twin.auth_url()
    with browser(twin) as mine:
        step = open_in_browser(twin, url, mine)
        request_id = step.rsplit("/", 1)[1]
        denied = twin.http.post(
            f"/api/realms/main/device-approvals/{request_id}", json={"decision": "deny"}
        )
        assert denied.status_code == 200 and denied.json()["status"] == "denied"
        moved = mine.get(step)
        assert moved.status_code == 303
        query = query_of(moved.headers["location"])
        assert query["error"] == "access_denied" and query["state"] == params["state"]


def test_an_unknown_request_is_a_page_not_a_traceback(twin: Twin) -> None:
    page = twin.http.get("/api/realms/main/web-step/unknown")
    assert page.status_code == 404 and "<h1>" in page.text
    qr = twin.http.get("/api/realms/main/web-step/unknown/qr.svg")
    assert qr.status_code == 404
