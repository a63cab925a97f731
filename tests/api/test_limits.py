"""api/limits.py: request bodies bounded per route before the app reads them (issue 16 §1)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mobile_jpki.api.limits import (
    DEFAULT_MAX_BODY,
    BodyLimit,
    BodyLimits,
    LimitSpecError,
)

Message = dict[str, Any]


class App:
    """An inner app that records whether it ran and what body it read."""

    def __init__(self) -> None:
        self.called = False
        self.body = b""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True
        while True:
            message = await receive()
            self.body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def run(
    limits: BodyLimits,
    path: str,
    chunks: list[bytes],
    *,
    content_length: int | None = None,
    method: str = "POST",
) -> tuple[App, list[Message], int]:
    """The middleware over ``chunks``; returns the inner app, what was sent, and how many
    chunks the middleware pulled from the server."""
    app = App()
    headers: list[tuple[bytes, bytes]] = [(b"host", b"t")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    else:
        headers.append((b"transfer-encoding", b"chunked"))
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    pulled = 0

    async def receive() -> Message:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {
                "type": "http.request",
                "body": chunks[pulled - 1],
                "more_body": pulled < len(chunks),
            }
        return {"type": "http.disconnect"}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(BodyLimit(app, limits)(scope, receive, send))
    return app, sent, pulled


def _status(sent: list[Message]) -> int:
    return int(sent[0]["status"])


def _headers(sent: list[Message]) -> dict[bytes, bytes]:
    return dict(sent[0]["headers"])


def test_declared_length_over_the_limit_is_refused_unread() -> None:
    app, sent, pulled = run(
        BodyLimits(), "/portal/v1/applications", [b"x"], content_length=50 << 20
    )
    assert not app.called and pulled == 0
    assert _status(sent) == 413
    headers = _headers(sent)
    assert headers[b"content-type"] == b"application/problem+json"
    assert headers[b"connection"] == b"close"
    doc = json.loads(sent[1]["body"])
    assert doc["status"] == 413 and doc["limit"] == DEFAULT_MAX_BODY
    assert doc["type"] == "urn:mobile-jpki:problem:body-too-large"


def test_chunked_body_stops_at_the_limit() -> None:
    """Without a Content-Length the body is counted as it streams in: reading stops at the
    first chunk past the limit, long before the end of a 50 MiB body."""
    chunk = b"a" * 4096
    chunks = [chunk] * (50 * 256)  # 50 MiB
    app, sent, pulled = run(BodyLimits(default=64 * 1024), "/portal/v1/devices", chunks)
    assert not app.called
    assert _status(sent) == 413
    assert pulled == 64 * 1024 // 4096 + 1


def test_bodies_within_the_limit_reach_the_app_whole() -> None:
    app, sent, _ = run(BodyLimits(), "/portal/v1/devices", [b"ab", b"cd", b"e"])
    assert app.called and app.body == b"abcde" and _status(sent) == 200
    app, sent, _ = run(BodyLimits(), "/portal/v1/devices", [b"abc"], content_length=3)
    assert app.called and app.body == b"abc" and _status(sent) == 200


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/ocsp/auth", 16 * 1024),
        ("/ocsp", 16 * 1024),
        ("/tsa", 16 * 1024),
        ("/tsax", DEFAULT_MAX_BODY),
        ("/portal/v1/applications", DEFAULT_MAX_BODY),
    ],
)
def test_per_route_limits(path: str, limit: int) -> None:
    limits = BodyLimits()
    assert limits.for_path(path) == limit
    _, at_limit, _ = run(limits, path, [b"x"], content_length=limit)
    _, over, _ = run(limits, path, [b"x"], content_length=limit + 1)
    assert _status(at_limit) == 200 and _status(over) == 413


def test_spec_parsing() -> None:
    limits = BodyLimits.parse(["128KiB", "/tsa=1k,/portal/v1/applications=8192"])
    assert limits.default == 128 * 1024
    assert limits.for_path("/tsa") == 1024
    assert limits.for_path("/portal/v1/applications") == 8192
    assert limits.for_path("/portal/v1/devices") == 128 * 1024
    assert limits.for_path("/ocsp/sign") == 16 * 1024
    assert BodyLimits.parse([limits.to_spec()]) == limits
    for bad in ("", "x", "tsa=5", "/tsa=0", "-1"):
        if bad:
            with pytest.raises(LimitSpecError):
                BodyLimits.parse([bad])
    assert BodyLimits.parse([""]) == BodyLimits()
