"""HTML security headers (api/headers.py, issue 16 §5): every text/html page, whichever route
made it, gets the CSP without inline script, frame denial, nosniff and no-referrer; FastAPI's
/docs gets its inline script allowed by hash, never 'unsafe-inline'."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from mobile_jpki.api.app import create_app
from mobile_jpki.api.headers import HTML_CSP
from mobile_jpki.web.sandbox import SimulatorLimits

if TYPE_CHECKING:
    from conftest import Served


Get = Callable[[str], httpx.Response]


@pytest.fixture(scope="module")
def client(served: Served) -> Get:
    """GET on ``create_app`` in-process (the simulator switched on, on its in-memory world),
    plus the front page ``/`` (web/front.py)."""
    app: FastAPI = create_app(served.ca, simulator=SimulatorLimits())

    @app.get("/landing-added-later", response_class=HTMLResponse)
    def landing() -> str:
        return "<!doctype html><title>x</title><p>hello</p>"

    async def get(path: str) -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.get(path)

    return lambda path: asyncio.run(get(path))


def _assert_html_headers(headers: httpx.Headers, csp: str = HTML_CSP) -> None:
    assert headers.get("content-security-policy") == csp
    assert headers.get("x-frame-options") == "DENY"
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("referrer-policy") == "no-referrer"


def test_simulator_page(client: Get) -> None:
    page = client("/simulator/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    _assert_html_headers(page.headers)
    # What this CSP would break, checked on the page as rendered (web/render.py) so a redesign
    # that adds inline script, handlers or style attributes fails here, not silently in a
    # browser: no <script> without src, no on*= handler, no style= attribute, no <style>,
    # no javascript: URL.
    html = page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I)
    assert not re.search(r"\son[a-z]+\s*=", html, re.I)
    assert not re.search(r"\sstyle\s*=", html, re.I)
    assert "<style" not in html.lower() and "javascript:" not in html.lower()


def test_any_html_page_gets_them(client: Get) -> None:
    _assert_html_headers(client("/landing-added-later").headers)
    front = client("/")
    assert front.status_code == 200 and front.headers["content-type"].startswith("text/html")
    _assert_html_headers(front.headers)


def test_other_responses_get_nosniff_only(client: Get) -> None:
    for path in ("/openapi.json", "/simulator/static/simulator.js", "/healthz", "/nowhere"):
        resp = client(path)
        assert resp.headers["x-content-type-options"] == "nosniff", path
        assert "content-security-policy" not in resp.headers, path


def test_docs_allows_its_own_inline_script_by_hash(client: Get) -> None:
    docs = client("/docs")
    assert docs.status_code == 200
    csp = docs.headers["content-security-policy"]
    scripts = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", docs.text, re.S)
    assert scripts  # FastAPI's Swagger UI set-up
    script_src = next(d for d in csp.split(";") if d.strip().startswith("script-src"))
    for script in scripts:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert docs.headers["x-frame-options"] == "DENY"
    assert int(docs.headers["content-length"]) == len(docs.content)
