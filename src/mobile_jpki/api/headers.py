"""Security headers by content type: :class:`SecurityHeaders`, a pure ASGI middleware.

Every response gets ``X-Content-Type-Options: nosniff`` (a browser must not run a JSON or DER
body as script or HTML). Every ``text/html`` response, whichever route made it — the simulator
under ``/simulator/``, a landing page at ``/``, pages added later — also gets:

- ``Content-Security-Policy`` (CSP Level 3) :data:`HTML_CSP`: scripts, styles and everything
  else only from this origin; no inline script, no inline style, no ``eval``; images also as
  ``data:`` URLs; the page may not be framed (``frame-ancestors 'none'``, against
  clickjacking), may not change its base URL, and posts forms only to itself;
- ``X-Frame-Options: DENY`` for browsers without ``frame-ancestors`` (RFC 7034);
- ``Referrer-Policy: no-referrer``: a page URL (a simulator session's, a query) never leaves in
  a Referer header.

A route that sets a header itself keeps its own value.

FastAPI's interactive API pages (``/docs``, Swagger UI; ``/redoc``) are the exception: FastAPI
renders them with one inline ``<script>`` (Swagger UI's set-up) and inline ``<style>``, and
loads Swagger UI and ReDoc from the jsDelivr CDN. They get :data:`DOCS_CSP` instead: scripts
from this origin, that CDN, and exactly the inline scripts of the page as served, each allowed
by its SHA-256 hash (CSP3 "hash-source"), never ``'unsafe-inline'`` for scripts; inline styles
are allowed there only. The server is often offline: then the CDN does not load and the pages
stay blank; ``/openapi.json`` is the document either way (docs/security.md).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HTML_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
_CDN = "https://cdn.jsdelivr.net"
#: For FastAPI's /docs and /redoc; ``{hashes}`` is filled with the page's inline scripts.
DOCS_CSP = (
    f"default-src 'self'; script-src 'self' {_CDN}{{hashes}}; "
    f"style-src 'self' {_CDN} https://fonts.googleapis.com 'unsafe-inline'; "
    "font-src 'self' https://fonts.gstatic.com; "
    f"img-src 'self' data: {_CDN} https://fastapi.tiangolo.com; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})

_HTML_HEADERS = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


class SecurityHeaders:
    """ASGI middleware adding the headers above by the response's content type."""

    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str] = DOCS_PATHS) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in self.docs_paths
        held: list[Message] = []  # a docs page, held until its inline scripts are known

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if _is_html(headers):
                    headers += [(n, v) for n, v in _HTML_HEADERS if n not in names]
                    if b"content-security-policy" not in names:
                        if docs:
                            held.append({**message, "headers": headers})
                            return
                        headers.append((b"content-security-policy", HTML_CSP.encode()))
                message = {**message, "headers": headers}
            elif held and message["type"] == "http.response.body":
                held.append(message)
                if message.get("more_body", False):
                    return
                await _send_docs_page(held, send)
                held.clear()
                return
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_html(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower() in (
                b"text/html",
                b"application/xhtml+xml",
            )
    return False


async def _send_docs_page(held: list[Message], send: Send) -> None:
    start, *bodies = held
    body = b"".join(bytes(m.get("body", b"")) for m in bodies)
    hashes = "".join(
        " 'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"
        for script in _INLINE_SCRIPT.findall(body)
        if script.strip()
    )
    csp = DOCS_CSP.format(hashes=hashes).encode()
    await send({**start, "headers": [*start["headers"], (b"content-security-policy", csp)]})
    await send({"type": "http.response.body", "body": body, "more_body": False})
