"""Request bodies bounded before anything reads them: :class:`BodyLimit`, a pure ASGI middleware.

Without it a POST body is buffered whole by whatever reads it first (FastAPI reads the body
before it solves the dependencies that authenticate), so six anonymous 50 MiB POSTs took the
server from 115 MiB to 891 MiB (issue 16 §1). Here every route has a maximum body size, checked
before the app sees the request:

- a declared ``Content-Length`` over the limit is answered at once, nothing read;
- a body without one (``Transfer-Encoding: chunked``) is read here, counted chunk by chunk, and
  answered as soon as the count passes the limit; a body within it is handed to the app as one
  message (at most the limit is ever held).

The answer is ``413 Content Too Large`` (RFC 9110 §15.5.14) as problem+json with
``Connection: close``, so the server stops reading the rest of the body and drops the
connection instead of draining it (§15.5.14 allows closing).

Limits are per path prefix (:class:`BodyLimits`): small for OCSP and the TSA, whose requests are
a few hundred bytes, and a default for the portal's JSON documents (the largest real one, a
card-signed application, is about 5 KiB). ``mobile-jpki serve --max-body`` or
``$MOBILE_JPKI_MAX_BODY`` changes them (docs/security.md)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from mobile_jpki.api.problems import problem

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY_ENV = "MOBILE_JPKI_MAX_BODY"

#: Bytes allowed where no prefix says otherwise: the portal's and the operator API's JSON and
#: the simulator's events. The largest document the test suite sends is 5,010 bytes (POST
#: /portal/v1/applications: a CMS SignedData with the card's certificate, base64); the
#: signed revocation/reset requests are ~3.5 KiB. 64 KiB leaves room for longer chains.
DEFAULT_MAX_BODY = 64 * 1024
#: OCSP (api/ocsp.py ``MAX_REQUEST``) and RFC 3161 requests (api/tsa.py): an OCSP request for a
#: handful of certificates, or a TimeStampReq, is at most a few hundred bytes.
SMALL_MAX_BODY = 16 * 1024
DEFAULT_ROUTES: tuple[tuple[str, int], ...] = (("/ocsp", SMALL_MAX_BODY), ("/tsa", SMALL_MAX_BODY))


class LimitSpecError(ValueError):
    """A ``--max-body`` / ``$MOBILE_JPKI_MAX_BODY`` value that does not parse."""


@dataclass(frozen=True)
class BodyLimits:
    """The maximum request body per path prefix; ``default`` for every other path. A prefix
    covers the path itself and everything under it (``/tsa`` covers ``/tsa`` and ``/tsa/x``,
    not ``/tsax``); the longest matching prefix wins."""

    default: int = DEFAULT_MAX_BODY
    routes: tuple[tuple[str, int], ...] = DEFAULT_ROUTES
    _ordered: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = sorted(
            ((p.rstrip("/") or "/", n) for p, n in self.routes), key=lambda r: -len(r[0])
        )
        object.__setattr__(self, "_ordered", tuple(ordered))

    def for_path(self, path: str) -> int:
        for prefix, limit in self._ordered:
            if path.startswith(prefix) and (
                len(path) == len(prefix) or path[len(prefix)] == "/" or prefix == "/"
            ):
                return limit
        return self.default

    @classmethod
    def parse(cls, specs: list[str] | tuple[str, ...]) -> BodyLimits:
        """Limits from ``BYTES`` (the default) and ``/PREFIX=BYTES`` items, each item possibly
        a comma-separated list; a prefix given here replaces the built-in one."""
        default = DEFAULT_MAX_BODY
        routes = dict(DEFAULT_ROUTES)
        for spec in specs:
            for item in filter(None, (s.strip() for s in spec.split(","))):
                prefix, eq, value = item.rpartition("=")
                size = _size(value, item)
                if not eq:
                    default = size
                elif prefix.startswith("/"):
                    routes[prefix.rstrip("/") or "/"] = size
                else:
                    raise LimitSpecError(f"max body {item!r}: a prefix starts with '/'")
        return cls(default=default, routes=tuple(routes.items()))

    @classmethod
    def from_env(cls) -> BodyLimits:
        return cls.parse([os.environ.get(MAX_BODY_ENV, "")])

    def to_spec(self) -> str:
        """The inverse of :meth:`parse` (how ``serve`` passes them to its workers)."""
        return ",".join([str(self.default), *(f"{p}={n}" for p, n in self.routes)])


def _size(value: str, item: str) -> int:
    text = value.strip().lower()
    scale = 1
    for suffix, factor in (("kib", 1024), ("mib", 1024 * 1024), ("k", 1024), ("m", 1024 * 1024)):
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], factor
            break
    if not text.isdigit() or int(text) * scale < 1:
        raise LimitSpecError(f"max body {item!r}: expected BYTES or /PREFIX=BYTES (e.g. 64KiB)")
    return int(text) * scale


# Methods whose requests carry no body unless framed by Content-Length or Transfer-Encoding:
# the common GETs (OCSP GET, SSE) skip the read-ahead.
_BODILESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


class BodyLimit:
    """ASGI middleware enforcing :class:`BodyLimits` (see the module's docstring). Install it
    outermost (``app.add_middleware`` last), so nothing inside it reads a body first."""

    def __init__(self, app: ASGIApp, limits: BodyLimits | None = None) -> None:
        self.app = app
        self.limits = limits or BodyLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        declared: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None  # the server refuses it; counted below if not
            elif name == b"transfer-encoding":
                chunked = True
        if declared is not None and not chunked:
            # The server frames the body by this length (RFC 9112 §6.3): no more can arrive.
            if declared > limit:
                await _too_large(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        if not chunked and scope["method"] in _BODILESS:
            await self.app(scope, receive, send)
            return
        # No length declared: read the body here, counting, before the app sees anything.
        parts: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # http.disconnect: the client went away; nobody to answer
            chunk = bytes(message.get("body", b""))
            total += len(chunk)
            if total > limit:
                await _too_large(scope, receive, send, limit)
                return
            parts.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(parts), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for the app: the body read ahead as one message, then the server's own
    (``http.disconnect``, which streaming responses such as SSE wait for)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = problem(
        413,
        "Request body too large",
        f"the request body exceeds {limit} bytes, the limit for this route",
        type_="urn:mobile-jpki:problem:body-too-large",
        limit=limit,
    )
    # Stop reading: the server closes the connection after this answer instead of reading
    # (and discarding) the rest of the body to reach the next request.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
