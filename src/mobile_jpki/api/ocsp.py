"""OCSP over HTTP (RFC 6960 Appendix A; caching per RFC 5019 §5 and §6): one ASGI endpoint.

Every OCSP request the front door (``api/ocsp_front.py``) leaves to the ASGI app, and every one
when the app runs without it, is answered by :class:`OcspEndpoint`: the stored pre-signed answer
read on the event loop where the CA hands out :class:`~mobile_jpki.service.ca.PresignedAnswers`
(a local SQLite file), else ``CertificateAuthority.ocsp_answer`` in the thread pool. Requests
reach it through :class:`OcspFastPath`, ahead of FastAPI's middleware and router, or through
the router's raw routes for what the middleware passes on (unknown responders, HEAD, an empty
GET path). FastAPI describes raw routes in no OpenAPI document: :func:`describe` adds them."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, FastAPI
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


# --- the endpoint -------------------------------------------------------------------------
# A raw ASGI app: every OCSP request skips FastAPI's request objects, dependency solving and
# Response classes. The common request (RFC 5019: one certificate, SHA-1, no nonce) is answered
# from the stored pre-signed response read on the event loop when the database is a local
# SQLite file (tens of microseconds); everything else (nonces, several certificates, stale or
# missing responses, errors, PostgreSQL) takes ``CertificateAuthority.ocsp_answer`` in the
# thread pool.

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
            presigned = services.ca.presigned_answers
            found = None if presigned is None else presigned.cached(der, now, hierarchy=h)
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


# --- the OpenAPI description -----------------------------------------------------------------
_BINARY = {"schema": {"type": "string", "format": "binary"}}
_HIERARCHY_PARAMETER = {
    "name": "hierarchy",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": [h.value for h in Hierarchy]},
}
_RESPONSES = {
    "200": {
        "description": "An OCSP response (RFC 6960 §4.2): bad requests are OCSP error responses",
        "content": {OCSP_RESPONSE: _BINARY},
    },
    "404": {
        "description": "No such responder",
        "content": {"application/problem+json": {"schema": {"type": "object"}}},
    },
}
OPENAPI_PATHS: dict[str, Any] = {
    "/ocsp/{hierarchy}": {
        "post": {
            "tags": ["ocsp"],
            "summary": "OCSP request by POST (RFC 6960 A.1.1)",
            "operationId": "ocsp_post",
            "parameters": [_HIERARCHY_PARAMETER],
            "requestBody": {"required": True, "content": {OCSP_REQUEST: _BINARY}},
            "responses": _RESPONSES,
        }
    },
    "/ocsp/{hierarchy}/{encoded}": {
        "get": {
            "tags": ["ocsp"],
            "summary": "OCSP request by GET, base64 of the DER request (RFC 6960 A.1.1)",
            "operationId": "ocsp_get",
            "parameters": [
                _HIERARCHY_PARAMETER,
                {"name": "encoded", "in": "path", "required": True, "schema": {"type": "string"}},
            ],
            "responses": _RESPONSES,
        }
    },
}


def describe(app: FastAPI) -> None:
    """Add the OCSP endpoints to ``app``'s OpenAPI document (FastAPI describes only its own
    routes)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema.setdefault("paths", {}).update(OPENAPI_PATHS)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
