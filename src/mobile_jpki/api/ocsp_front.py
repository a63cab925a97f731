"""OCSP at the connection: uvicorn's HTTP protocol with a front door for RFC 5019 requests.

Relying parties open a new TCP connection for most OCSP requests (``openssl ocsp``, Go's and
Java's clients send ``Connection: close`` or HTTP/1.0), so per connection, not per byte, is
what an OCSP responder pays. Measured on the 2-core benchmark machine with wrk (16 clients,
new connection per request): uvicorn + httptools + uvloop answering a constant from a no-op
ASGI app peaks at ≈3,300 connections/s per worker; a protocol that answers the same constant
in ``data_received`` reaches ≈7,200/s. The ASGI machinery (request cycle object, a Task per
request, scope and message dicts, flow control, keep-alive timers) costs more than the OCSP
answer itself, which for the common request is one primary-key read of a pre-signed response.

:class:`OcspFrontProtocol` is the uvicorn HTTP protocol class ``mobile-jpki serve`` runs
(``uvicorn.run(http=...)``). For each new connection it looks at the first request and answers
it itself only when ALL of these hold, and hands the connection with the bytes received so
far to uvicorn's own protocol otherwise — so anything unusual gets exactly the behaviour of the
full stack (where the ASGI endpoint of :mod:`mobile_jpki.api.ocsp` answers):

- a complete, well-formed HTTP/1.0 or 1.1 request head (RFC 9112 §2 to §5) with nothing after the
  request, no ``Transfer-Encoding``, no ``Expect``, a ``Host`` for HTTP/1.1;
- the client closes after the answer (HTTP/1.1 ``Connection: close`` or HTTP/1.0 without
  keep-alive): keep-alive clients already amortise the connection, and uvicorn handles
  persistence, pipelining and its timeouts;
- ``POST /ocsp/{sign,auth}`` with a Content-Length body ≤ 16 KiB, or
  ``GET /ocsp/{sign,auth}/{base64}`` (RFC 6960 Appendix A.1);
- the CA's :class:`~mobile_jpki.service.ca.PresignedAnswers` — the one interface the front
  door calls, which the CA hands out only where it reads a local SQLite file (on PostgreSQL
  every request takes the full stack, whose reads run in the thread pool) — has a fresh
  pre-signed answer (an RFC 5019 request: one certificate, SHA-1 CertID, no nonce).

The answer is byte-for-byte the one the ASGI endpoint gives (same status, body and RFC 5019
§6.2 cache headers; uvicorn's Date and Server headers), plus ``Connection: close``; the read is
of committed state on every request, never an in-process cache, so a revocation committed by
any process is answered at once. Any exception in the front door also hands over to uvicorn.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote_to_bytes

from uvicorn.config import Config
from uvicorn.server import ServerState

from mobile_jpki.api import access_log
from mobile_jpki.api.deps import Services
from mobile_jpki.api.ocsp import MAX_REQUEST, cache_headers, decode_get
from mobile_jpki.clock import Clock, SystemClock
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.service.ca import OcspAnswer, PresignedAnswers

try:  # uvicorn[standard] brings httptools; plain uvicorn falls back to h11
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _UvicornHttp
except ImportError:  # pragma: no cover - depends on the installed extras
    from uvicorn.protocols.http.h11_impl import (  # type: ignore[assignment]
        H11Protocol as _UvicornHttp,
    )

_MAX_HEAD = 8 * 1024  # beyond this the head is not an OCSP client's: uvicorn decides
_HIERARCHIES = {h.value.encode(): h for h in Hierarchy}
_STATUS_LINE = b"HTTP/1.1 200 OK\r\n"
_FIXED_HEADERS = b"content-type: application/ocsp-response\r\nconnection: close\r\n"


def _services_of(config: Config) -> Services | None:
    """The :class:`Services` of the app uvicorn loaded, under any middleware uvicorn wrapped it
    in (ProxyHeadersMiddleware and friends keep the inner app as ``.app``)."""
    app: Any = config.loaded_app
    for _ in range(8):
        services = getattr(getattr(app, "state", None), "services", None)
        if isinstance(services, Services):
            return services
        app = getattr(app, "app", None)
        if app is None:
            break
    return None


class _Request:
    """The parts of a request head the front door decides on."""

    __slots__ = ("der", "hierarchy")

    def __init__(self, hierarchy: Hierarchy, der: bytes | None) -> None:
        self.hierarchy = hierarchy
        self.der = der


_NEED_MORE = object()  # the head or body is not complete yet


# The request head the front door takes, as one regular expression (C speed; a Python loop
# over the header lines was a third of the front door's own work per request). RFC 9112 §3: the
# request line, "GET" or "POST", an origin-form target under /ocsp/ of path characters (RFC 3986
# §3.3 pchar and "/", percent-encoding included; no query or fragment),
# HTTP/1.0 or 1.1; §5: each field line is a token, a colon right after it (no whitespace before
# it), and a value of visible characters, spaces and tabs (no CR, LF or other controls: no
# obs-fold); then the empty line. Anything else does not match and goes to uvicorn.
_HEAD = re.compile(
    rb"(GET|POST) (/ocsp/[!$-;=@-Z_a-z~]*) HTTP/1\.([01])\r\n"
    rb"((?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*)\r\n"
)
# Over the lower-cased field lines, each preceded by CRLF (so a match starts at a field name):
# a field's value without its optional whitespace (RFC 9110 §5.5), and the fields the front
# door leaves to uvicorn (bodies it does not frame itself, protocol switches).
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*([^\r]*?)[ \t]*(?=\r)")
_CONNECTION = re.compile(rb"\r\nconnection:[ \t]*([^\r]*?)[ \t]*(?=\r)")
_REFUSED_FIELDS = re.compile(rb"\r\n(?:transfer-encoding|expect|upgrade):")


def parse(buffer: bytes) -> _Request | object | None:
    """The OCSP request in ``buffer`` when the front door may answer it, :data:`_NEED_MORE` when
    more bytes are needed to tell, ``None`` when uvicorn must take the connection."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return _NEED_MORE if len(buffer) <= _MAX_HEAD else None
    body_start = head_end + 4
    match = _HEAD.fullmatch(buffer, 0, body_start)
    if match is None:
        return None
    method, target, minor, field_lines = match.groups()
    # Names are case-insensitive (RFC 9110 §5.1), and so are the tokens looked at below; a
    # CRLF before each line anchors a search at the start of a field name.
    fields = b"\r\n" + field_lines.lower()
    if _REFUSED_FIELDS.search(fields):
        return None
    lengths = _CONTENT_LENGTH.findall(fields)
    if len(lengths) > 1 or (lengths and not lengths[0].isdigit()):
        return None  # RFC 9112 §6.3: repeated or malformed lengths are an error
    length = int(lengths[0]) if lengths else None
    connection = b"," + b",".join(_CONNECTION.findall(fields)).replace(b" ", b"") + b","
    if minor == b"1":
        # HTTP/1.1 persists unless told to close; it must name its Host (RFC 9112 §3.2, §9.3).
        if b",close," not in connection or b"\r\nhost:" not in fields:
            return None
    elif b",keep-alive," in connection and b",close," not in connection:
        return None  # HTTP/1.0 closes unless it asks to be kept alive (RFC 9112 §C.2.2)
    name, slash, encoded = target[6:].partition(b"/")
    hierarchy = _HIERARCHIES.get(name)
    if hierarchy is None:
        return None  # the router answers unknown responders with problem+json 404
    if method == b"POST" and not slash:
        if length is None or length > MAX_REQUEST:
            return None
        if len(buffer) < body_start + length:
            return _NEED_MORE
        if len(buffer) > body_start + length or length == 0:
            return None
        return _Request(hierarchy, buffer[body_start:])
    if method == b"GET" and encoded and not length and len(buffer) == body_start:
        # The server percent-decodes the path before the base64 (RFC 6960 A.1, RFC 3986 §2.1).
        try:
            text = unquote_to_bytes(encoded).decode("ascii")
        except UnicodeDecodeError:
            return None
        return _Request(hierarchy, decode_get(text))
    return None


class ParsedRequests:
    """:func:`parse` results remembered by the request's bytes. A relying party's client sends
    the same bytes for the same certificate (RFC 5019 §2.1: no nonce, one CertID), and
    :func:`parse` is a function of those bytes alone, so a request seen before needs one dict
    lookup instead of the parse. Only requests the front door answers are remembered; bounded
    (the whole set is dropped when full)."""

    def __init__(self, limit: int = 65_536) -> None:
        self.limit = limit
        self._seen: dict[bytes, _Request] = {}

    def parse(self, buffer: bytes) -> _Request | object | None:
        seen = self._seen.get(buffer)
        if seen is not None:
            return seen
        request = parse(buffer)
        if isinstance(request, _Request) and request.der:
            if len(self._seen) >= self.limit:
                self._seen.clear()
            self._seen[buffer] = request
        return request


@dataclass(slots=True)
class _Answer:
    """A pre-signed answer as the front door sends it, but for Date, Server and max-age."""

    before: bytes  # content-type … etag, then "cache-control: max-age="
    after: bytes  # the rest of Cache-Control, Last-Modified, Expires, the blank line, the DER
    this_update: float  # POSIX seconds
    next_update: float
    served_until: float  # OcspAnswer.served_until: re-signed from then on
    # The whole response last sent, and what it was made for: the second (max-age counts
    # down by seconds) and uvicorn's Date/Server header block (a new one each second).
    sent: bytes = b""
    sent_at: float = -1.0
    sent_head: bytes = b""


class KeptAnswers:
    """Answers the front door derived from :meth:`PresignedAnswers.cached`, kept for as long as
    the database has not changed.

    Every request first reads the :meth:`~PresignedAnswers.version_probe` (SQLite's
    wal-index header, ``store/change_probe.py``: it changes when any connection of any process
    commits, before that commit returns); if it moved, every kept answer is dropped. So, as
    with a read of the stored answer on every request, a revocation committed anywhere is
    answered at once — the check is per request, only the row read and the HTTP encoding are
    saved while nothing at all was committed. The version is read BEFORE the answer that
    is kept under it. Time still moves: an answer is served only between its thisUpdate and
    ``served_until``, as :meth:`~PresignedAnswers.cached` serves it. Bounded: at ``limit``
    answers the whole set is dropped and refilled (a relying party population asks about a
    working set)."""

    def __init__(self, limit: int = 65_536) -> None:
        self.limit = limit
        self._probe: Callable[[], object] | None = None
        self._probed: object = None  # the answers the probe is for (the app's may change)
        self._version: object = None
        self._answers: dict[tuple[Hierarchy, bytes], _Answer] = {}

    def _lookup(
        self, answers: PresignedAnswers, clock: Clock, request: _Request
    ) -> tuple[_Answer, float, bytes] | None:
        """The kept answer for ``request`` (read and kept if need be), the time as POSIX
        seconds, and its max-age; ``None`` when ``answers`` has none."""
        if self._probed is not answers:
            # Made on first use, on the thread that will use it (the event loop's).
            self._probe, self._probed, self._version = answers.version_probe(), answers, None
            self._answers.clear()
        if self._probe is None:
            return None
        version = self._probe()
        if version != self._version:
            self._answers.clear()
            self._version = version
        assert request.der is not None  # noqa: S101 - the caller checked
        key = (request.hierarchy, request.der)
        # POSIX seconds without a datetime where the clock offers them (SystemClock does).
        stamp = clock.timestamp() if isinstance(clock, SystemClock) else clock.now().timestamp()
        kept = self._answers.get(key)
        if kept is None or not kept.this_update <= stamp < kept.served_until:
            now = clock.now()
            answer = answers.cached(request.der, now, hierarchy=request.hierarchy)
            if answer is None:
                return None
            kept = self._keep(key, answer, now)
            stamp = now.timestamp()
        # RFC 5019 §6.2 max-age, exactly as api.ocsp.cache_headers computes it.
        max_age = max(0, int(kept.next_update - stamp))
        return kept, stamp, b"%d" % max_age

    def response(
        self, answers: PresignedAnswers, clock: Clock, request: _Request, head: bytes
    ) -> bytes | None:
        """The whole HTTP response: ``head`` (status line, Date, Server), then the answer's
        headers and body; the same bytes object again within the same second and ``head``
        (no per-request building); ``None`` when ``answers`` has none."""
        found = self._lookup(answers, clock, request)
        if found is None:
            return None
        kept, stamp, max_age = found
        if kept.sent_at != stamp or kept.sent_head is not head:
            kept.sent = head + kept.before + max_age + kept.after
            kept.sent_at, kept.sent_head = stamp, head
        return kept.sent

    def _keep(self, key: tuple[Hierarchy, bytes], answer: OcspAnswer, now: dt.datetime) -> _Answer:
        assert (  # noqa: S101 - cached() sets all three on what it returns
            answer.this_update is not None
            and answer.next_update is not None
            and answer.served_until is not None
        )
        headers = cache_headers(answer, now)
        control = headers["Cache-Control"]
        _, _, rest = control.partition(",")  # "max-age=N" then ", public, …"
        kept = _Answer(
            before=_FIXED_HEADERS
            + b"content-length: %d\r\n" % len(answer.der)
            + f"etag: {headers['ETag']}\r\ncache-control: max-age=".encode("latin-1"),
            after=(
                f",{rest}\r\nlast-modified: {headers['Last-Modified']}\r\n"
                f"expires: {headers['Expires']}\r\n\r\n"
            ).encode("latin-1")
            + answer.der,
            this_update=answer.this_update.timestamp(),
            next_update=answer.next_update.timestamp(),
            served_until=answer.served_until.timestamp(),
        )
        if len(self._answers) >= self.limit:
            self._answers.clear()
        self._answers[key] = kept
        return kept


# What every connection of one server needs, found once per uvicorn Config (one per server; a
# process may run several: tests do): the CA's pre-signed answers and the app's clock, and the
# answers kept for them. The front door runs on the event loop's thread only, and the versions
# the kept answers compare come from their own connection to that CA's database.
_Door = tuple[PresignedAnswers | None, Clock, ParsedRequests, KeptAnswers]
_DOOR: weakref.WeakKeyDictionary[Config, _Door] = weakref.WeakKeyDictionary()


# The last server's, checked first: a process runs one server but in tests.
_LAST_DOOR: list[tuple[object, _Door]] = []


def _door_of(config: Config) -> _Door:
    """The pre-signed answers (``None`` where the front door cannot answer: no CA services,
    or a store read over the network), clock, parsed requests and kept answers of
    ``config``'s server."""
    if _LAST_DOOR and _LAST_DOOR[0][0] is config:
        return _LAST_DOOR[0][1]
    door = _DOOR.get(config)
    if door is None:
        services = _services_of(config)
        # None on PostgreSQL: every request takes the full stack.
        answers = None if services is None else services.ca.presigned_answers
        clock = SystemClock() if services is None else services.clock
        door = _DOOR[config] = (answers, clock, ParsedRequests(), KeptAnswers())
    _LAST_DOOR[:] = [(config, door)]
    return door


_ENCODED_HEAD: list[tuple[object, bytes]] = [(None, b"")]  # uvicorn's headers -> bytes


def _head(server_state: ServerState) -> bytes:
    """The status line and uvicorn's Date and Server headers, which its main loop replaces
    (a new list) once a second: encoded once per list."""
    headers = server_state.default_headers
    cached = _ENCODED_HEAD[0]
    if cached[0] is headers:
        return cached[1]
    head = _STATUS_LINE + b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    _ENCODED_HEAD[0] = (headers, head)
    return head


class OcspFrontProtocol(asyncio.Protocol):
    """uvicorn HTTP protocol: RFC 5019 OCSP requests on closing connections are answered from
    the pre-signed store in ``data_received``; every other connection is handed, with the bytes
    read so far, to uvicorn's own protocol (httptools), which then owns it for its lifetime."""

    # One instance per connection: no per-instance dict to allocate.
    __slots__ = (
        "_answers",
        "_app_state",
        "_buffer",
        "_clock",
        "_config",
        "_inner",
        "_kept",
        "_loop",
        "_parsed",
        "_server_state",
        "_transport",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self._config = config
        self._server_state = server_state
        self._app_state = app_state
        self._loop = _loop
        self._answers, self._clock, self._parsed, self._kept = _door_of(config)
        self._transport: asyncio.Transport | None = None
        self._inner: asyncio.Protocol | None = None
        self._buffer = b""

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream server's transport (uvloop's is not an asyncio.Transport subclass).
        self._transport = cast(asyncio.Transport, transport)
        # Registered like uvicorn's protocols: a graceful shutdown calls shutdown() on each.
        self._server_state.connections.add(self)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)
            return
        buffer = self._buffer + data if self._buffer else data
        try:
            answered = self._answer(buffer)
        except Exception:  # the full stack answers (and logs) instead
            answered = False
        if answered is None:
            self._buffer = buffer
        elif not answered:
            self._hand_over(buffer)

    def eof_received(self) -> bool | None:
        if self._inner is None:
            # Half-closed before a whole request: uvicorn gives the answer it would give.
            self._hand_over(self._buffer)
        assert self._inner is not None  # noqa: S101 - set by _hand_over
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is not None:
            self._inner.connection_lost(exc)
        else:
            self._server_state.connections.discard(self)
            # Break the protocol <-> transport cycle: both are freed by reference counting
            # now, not by a later garbage collection pass.
            self._transport = None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: a front-door connection has no response in flight
        (the answer is written in one call), so it is closed at once."""
        if self._inner is not None:
            self._inner.shutdown()  # type: ignore[attr-defined]
        elif self._transport is not None:
            self._transport.close()

    # --- the front door -----------------------------------------------------------------

    def _answer(self, buffer: bytes) -> bool | None:
        """True: answered; None: wait for more bytes; False: hand over to uvicorn."""
        started = time.perf_counter()
        answers = self._answers
        if answers is None:
            return False
        request = self._parsed.parse(buffer)
        if request is _NEED_MORE:
            return None
        if not isinstance(request, _Request) or not request.der:
            return False
        response = self._kept.response(answers, self._clock, request, _head(self._server_state))
        if response is None:
            return False  # nonce, several certificates, stale, unknown…: the full path
        transport = self._transport
        assert transport is not None  # noqa: S101 - connection_made ran
        transport.write(response)
        transport.close()
        self._server_state.total_requests += 1
        if access_log.log.isEnabledFor(logging.INFO):  # serve --access-log (a cached check)
            self._log(buffer, transport, started)
        return True

    @staticmethod
    def _log(buffer: bytes, transport: asyncio.Transport, started: float) -> None:
        peer = transport.get_extra_info("peername")
        post = buffer.startswith(b"POST")
        access_log.log_request(
            method="POST" if post else "GET",
            route="/ocsp/{hierarchy}" if post else "/ocsp/{hierarchy}/{encoded}",
            path="",
            status=200,
            started=started,
            client=str(peer[0]) if peer else None,
        )

    def _hand_over(self, buffer: bytes) -> None:
        self._buffer = b""
        self._server_state.connections.discard(self)
        inner = _UvicornHttp(self._config, self._server_state, self._app_state, self._loop)
        self._inner = inner
        assert self._transport is not None  # noqa: S101 - connection_made ran
        inner.connection_made(self._transport)
        if buffer:
            inner.data_received(buffer)
