"""OCSP over HTTP (RFC 6960 Appendix A; caching per RFC 5019 §5 and §6)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from mobile_jpki.api.deps import Services
from mobile_jpki.pki import ocsp
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.service.ca import NotFound, OcspAnswer

OCSP_REQUEST = "application/ocsp-request"
OCSP_RESPONSE = "application/ocsp-response"
MAX_REQUEST = 16 * 1024  # a request for a handful of certificates is a few hundred octets

router = APIRouter(tags=["ocsp"])

_MALFORMED_DER = ocsp.error_response(ocsp.ResponseStatus.MALFORMED_REQUEST)


def _hierarchy(value: str) -> Hierarchy:
    try:
        return Hierarchy(value)
    except ValueError:
        raise NotFound("OCSP responder", value) from None


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@functools.lru_cache(maxsize=4096)
def _http_date(value: dt.datetime) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), English names whatever the locale; a third of the cost
    of ``email.utils.format_datetime`` on the hot path."""
    v = value.astimezone(dt.UTC)
    return (
        f"{_DAYS[v.weekday()]}, {v.day:02d} {_MONTHS[v.month - 1]} {v.year:04d} "
        f"{v.hour:02d}:{v.minute:02d}:{v.second:02d} GMT"
    )


def render(answer: OcspAnswer, now: dt.datetime) -> Response:
    return Response(answer.der, media_type=OCSP_RESPONSE, headers=cache_headers(answer, now))


def cache_headers(answer: OcspAnswer, now: dt.datetime) -> dict[str, str]:
    """Every answer carries ETag, Last-Modified, Expires and Cache-Control (RFC 5019 §6.2):
    shared caches may keep a no-nonce response until nextUpdate, never longer; nonce answers
    and errors are unique to their request and not cached."""
    headers = {"ETag": _etag(answer.der)}
    if answer.cacheable and answer.next_update is not None and answer.this_update is not None:
        max_age = max(0, int((answer.next_update - now).total_seconds()))
        headers["Cache-Control"] = f"max-age={max_age}, public, no-transform, must-revalidate"
        headers["Last-Modified"] = _http_date(answer.this_update)
        headers["Expires"] = _http_date(answer.next_update)
    else:
        headers["Cache-Control"] = "max-age=0, no-cache, no-store"
        headers["Last-Modified"] = _http_date(answer.produced_at)
        headers["Expires"] = _http_date(answer.produced_at)
    return headers


@functools.lru_cache(maxsize=4096)
def _etag(der: bytes) -> str:
    # A strong validator of the exact bytes (RFC 9110 §8.8.3); memoised because the responder
    # serves the same pre-signed responses over and over (the read stays per request).
    return f'"{hashlib.sha256(der).hexdigest()[:32]}"'


def _malformed(now: dt.datetime) -> Response:
    status = ocsp.ResponseStatus.MALFORMED_REQUEST
    return render(OcspAnswer(ocsp.error_response(status), status, now), now)


# --- the fast path ------------------------------------------------------------------------
# A raw ASGI endpoint, registered BEFORE the FastAPI routes below on the same paths and methods
# (Starlette takes the first full match), so every OCSP request skips FastAPI's request
# objects, dependency solving and Response classes. The common request (RFC 5019: one
# certificate, SHA-1, no nonce) is answered from the stored pre-signed response read on the
# event loop when the database is a local SQLite file (tens of microseconds); everything else
# (nonces, several certificates, stale or missing responses, errors) takes
# ``CertificateAuthority.ocsp_answer`` in the thread pool exactly as the FastAPI routes do.
# The FastAPI routes stay for the OpenAPI document and for apps that mount only them.

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class OcspEndpoint:
    """ASGI app for ``POST /ocsp/{hierarchy}`` and ``GET /ocsp/{hierarchy}/{encoded}``."""

    def __init__(self, method: str) -> None:
        self.method = method

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services: Services = scope["app"].state.services
        params = scope.get("path_params", {})
        h = _hierarchy(str(params.get("hierarchy", "")))  # NotFound -> problem+json 404
        now = services.clock.now()
        if self.method == "POST":
            der = await _read_body(receive)
        else:
            der = decode_get(str(params.get("encoded", "")))
        if not der:
            answer = OcspAnswer(_MALFORMED_DER, ocsp.ResponseStatus.MALFORMED_REQUEST, now)
        else:
            ca = services.ca
            found = ca.ocsp_cached(der, now, hierarchy=h) if ca.ocsp_cached_is_local else None
            answer = found if found is not None else await _answer(services, der, now, h)
        headers = [
            (b"content-type", b"application/ocsp-response"),
            (b"content-length", str(len(answer.der)).encode()),
            *((k.lower().encode(), v.encode()) for k, v in cache_headers(answer, now).items()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer.der})


async def _read_body(receive: Receive) -> bytes | None:
    """The request body, or None when it exceeds MAX_REQUEST (answered malformedRequest)."""
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # http.disconnect
        body += bytes(message.get("body", b""))
        if len(body) > MAX_REQUEST:
            return None
        if not message.get("more_body", False):
            return body


class OcspFastPath:
    """ASGI middleware sending ``POST /ocsp/{sign,auth}`` and ``GET /ocsp/{sign,auth}/{b64}``
    straight to :class:`OcspEndpoint`, ahead of FastAPI's middleware and router (measured
    ~100 µs per request in-process); every other request, unknown hierarchies included (their
    problem+json 404 comes from the router), goes to the wrapped app. Install it with
    ``app.add_middleware(OcspFastPath)``: Starlette then sets ``scope["app"]`` before it runs
    and keeps its ServerErrorMiddleware outside it."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/ocsp/"):
            hierarchy, sep, encoded = scope["path"][6:].partition("/")
            if hierarchy in _HIERARCHIES:
                method = scope["method"]
                if method == "POST" and not sep:
                    scope["path_params"] = {"hierarchy": hierarchy}
                    return await _POST(scope, receive, send)
                if method == "GET" and encoded:
                    scope["path_params"] = {"hierarchy": hierarchy, "encoded": encoded}
                    return await _GET(scope, receive, send)
        await self.app(scope, receive, send)


_HIERARCHIES = frozenset(h.value for h in Hierarchy)
_POST, _GET = OcspEndpoint("POST"), OcspEndpoint("GET")

router.routes += [
    Route("/ocsp/{hierarchy}", _POST, methods=["POST"], include_in_schema=False),
    Route(
        "/ocsp/{hierarchy}/{encoded:path}",
        _GET,
        methods=["GET"],
        include_in_schema=False,
    ),
]


@router.post(
    "/ocsp/{hierarchy}",
    response_class=Response,
    responses={200: {"content": {OCSP_RESPONSE: {}}}},
    summary="OCSP request by POST (RFC 6960 A.1.1)",
)
async def ocsp_post(hierarchy: str, request: Request) -> Response:
    services: Services = request.app.state.services
    h = _hierarchy(hierarchy)
    now = services.clock.now()
    body = await request.body()
    if not body or len(body) > MAX_REQUEST:
        return _malformed(now)
    return render(await _answer(services, body, now, h), now)


@router.get(
    "/ocsp/{hierarchy}/{encoded:path}",
    response_class=Response,
    responses={200: {"content": {OCSP_RESPONSE: {}}}},
    summary="OCSP request by GET, base64 of the DER request (RFC 6960 A.1.1)",
)
async def ocsp_get(hierarchy: str, encoded: str, request: Request) -> Response:
    services: Services = request.app.state.services
    h = _hierarchy(hierarchy)
    now = services.clock.now()
    der = decode_get(encoded)
    if der is None:
        return _malformed(now)
    return render(await _answer(services, der, now, h), now)


async def _answer(services: Services, der: bytes, now: dt.datetime, h: Hierarchy) -> OcspAnswer:
    # In the thread pool: a stale or nonce answer signs (~ms) and a re-sign waits for the
    # database write lock; neither may stall the event loop the portal shares.
    return await run_in_threadpool(services.ca.ocsp_answer, der, now, hierarchy=h)


def decode_get(encoded: str) -> bytes | None:
    """The path is base64 (RFC 4648 §4), URL-encoded by the client; the server has already
    percent-decoded it. Some clients use the URL-safe alphabet or drop the padding."""
    text = encoded.strip().replace("-", "+").replace("_", "/").replace(" ", "+")
    if not text or len(text) > MAX_REQUEST * 2:
        return None
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
