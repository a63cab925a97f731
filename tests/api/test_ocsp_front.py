"""api.ocsp_front: the connection-level OCSP front door answers exactly what the ASGI stack would,
only for the requests it fully understands, and hands every other connection to uvicorn."""

from __future__ import annotations

import base64
import datetime as dt
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp as x509_ocsp

from mobile_jpki.api import ocsp_front
from mobile_jpki.api.app import create_app
from mobile_jpki.api.ocsp_front import _NEED_MORE, OcspFrontProtocol, _Request, parse
from mobile_jpki.clock import SystemClock
from mobile_jpki.pki.model import CertKind, Hierarchy
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.service.ca.bootstrap import init_data_dir, open_ca
from mobile_jpki.settings import Settings

# --- parse: which requests the front door takes -------------------------------------------

BODY = bytes(range(40))


def _post(headers: str, body: bytes = BODY, target: str = "/ocsp/auth") -> bytes:
    return f"POST {target} HTTP/1.1\r\n{headers}\r\n".encode() + body


CLOSE = f"Host: x\r\nConnection: close\r\nContent-Length: {len(BODY)}\r\n"


def test_a_closing_post_is_taken_with_its_body() -> None:
    request = parse(_post(CLOSE))
    assert isinstance(request, _Request)
    assert request.hierarchy is Hierarchy.AUTH and request.der == BODY


@pytest.mark.parametrize(
    "raw",
    [
        # keep-alive (HTTP/1.1 default, or asked for by HTTP/1.0): uvicorn owns persistence
        _post(f"Host: x\r\nContent-Length: {len(BODY)}\r\n"),
        f"POST /ocsp/auth HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: {len(BODY)}"
        "\r\n\r\n".encode()
        + BODY,
        # HTTP/1.1 without Host (RFC 9112 §3.2: a 400, which uvicorn decides)
        _post(f"Connection: close\r\nContent-Length: {len(BODY)}\r\n"),
        # bodies the front door does not frame itself
        _post("Host: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n", b"28\r\n"),
        _post(CLOSE.replace("Connection: close", "Connection: close\r\nExpect: 100-continue"), b""),
        _post(CLOSE + f"Content-Length: {len(BODY)}\r\n"),  # repeated length
        _post("Host: x\r\nConnection: close\r\nContent-Length: 4x\r\n"),
        _post("Host: x\r\nConnection: close\r\nContent-Length: 999999\r\n", b""),
        _post(CLOSE, BODY + b"GET / HTTP/1.1\r\n\r\n"),  # bytes after the request
        _post(CLOSE.replace("Host: x", "Host : x")),  # whitespace before the colon
        _post(CLOSE.replace("Host: x", "Host: x\r\n folded")),  # obs-fold
        _post(CLOSE, target="/ocsp/other"),  # unknown responder: the router's 404
        _post(CLOSE, target="/ocsp/auth?x=1"),
        _post(CLOSE, target="/crl/auth-1/0.crl"),
        b"PUT /ocsp/auth HTTP/1.1\r\n" + CLOSE.encode() + b"\r\n" + BODY,
        b"POST /ocsp/auth HTTP/2.0\r\n" + CLOSE.encode() + b"\r\n" + BODY,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200) + b"\r\n\r\n",  # TLS hello
    ],
)
def test_anything_unusual_goes_to_uvicorn(raw: bytes) -> None:
    assert parse(raw) is None


@pytest.mark.parametrize(
    "headers",
    [
        # names and the tokens looked at are case-insensitive; values lose their OWS
        f"HOST: x\r\nCONNECTION:   Close \t\r\nCONTENT-LENGTH:\t{len(BODY)}  \r\n",
        # Connection fields combine (RFC 9110 §5.3): close anywhere closes
        f"Host: x\r\nConnection: keep-alive\r\nConnection: te, close\r\n"
        f"Content-Length: {len(BODY)}\r\nUser-Agent: Go-http-client/1.1\r\n",
        # a value may hold colons and non-ASCII octets (obs-text: UTF-8 here)
        "Host: [::1]:8080\r\nUser-Agent: caf\u00e9 :)\r\nConnection: close\r\n"
        f"Content-Length: {len(BODY)}\r\n",
    ],
)
def test_closing_posts_are_taken_whatever_their_field_spelling(headers: str) -> None:
    request = parse(_post(headers))
    assert isinstance(request, _Request) and request.der == BODY


@pytest.mark.parametrize(
    "raw",
    [
        _post(CLOSE.replace("Host: x", "Host: x\ny")),  # a bare LF inside a field
        _post(CLOSE.replace("Host: x", "Host: x\x00")),  # a control character in a value
        _post(CLOSE.replace("Host: x", "Ho(st: x")),  # not a token
        _post(CLOSE.replace("Connection: close", "Content-length: 40\r\nConnection: close")),
        _post(CLOSE, target="/ocsp/auth/\\x"),  # not a path character
        _post(CLOSE.replace("Connection: close", "Connection: keep-alive")),
        _post(CLOSE.replace("Connection: close", "UPGRADE: h2c\r\nConnection: close")),
    ],
)
def test_field_lines_the_front_door_does_not_frame_go_to_uvicorn(raw: bytes) -> None:
    assert parse(raw) is None


def test_requests_taken_are_remembered_by_their_bytes_and_nothing_else_is() -> None:
    from mobile_jpki.api.ocsp_front import ParsedRequests

    parsed = ParsedRequests(limit=2)
    raw = _post(CLOSE)
    first = parsed.parse(raw)
    assert isinstance(first, _Request) and parsed.parse(raw) is first  # remembered
    refused = _post(CLOSE.replace("Connection: close", "Connection: keep-alive"))
    assert parsed.parse(refused) is None and parsed.parse(refused[:10]) is _NEED_MORE
    assert list(parsed._seen) == [raw]  # only what the front door answers
    other = _post(CLOSE, target="/ocsp/sign")
    third = _post(CLOSE.replace("Host: x", "Host: y"))
    assert isinstance(parsed.parse(other), _Request)
    request = parsed.parse(third)  # the limit: the set is dropped and refilled
    assert isinstance(request, _Request) and list(parsed._seen) == [third]


def test_the_system_clock_gives_whole_posix_seconds() -> None:
    clock = SystemClock()
    before = clock.now().timestamp()
    stamp = clock.timestamp()
    assert stamp == int(stamp) and before <= stamp <= clock.now().timestamp()


def test_an_incomplete_request_waits_for_more() -> None:
    whole = _post(CLOSE)
    assert parse(whole[:20]) is _NEED_MORE
    assert parse(whole[:-5]) is _NEED_MORE
    assert parse(b"GET /" + b"a" * 9000) is None  # a head this long is not an OCSP client's


def test_http_1_0_closes_by_default_and_get_is_percent_decoded() -> None:
    encoded = urllib.parse.quote(base64.b64encode(BODY).decode(), safe="")
    request = parse(f"GET /ocsp/sign/{encoded} HTTP/1.0\r\n\r\n".encode())
    assert isinstance(request, _Request)
    assert request.hierarchy is Hierarchy.SIGN and request.der == BODY


# --- the front door in a real uvicorn server ----------------------------------------------


@dataclass
class Front:
    port: int
    ca: CertificateAuthority
    data_dir: Path
    handed_over: list[int]

    def request(
        self, raw: bytes | list[bytes], pause: float = 0.0
    ) -> tuple[int, dict[str, str], bytes]:
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as conn:
            for i, part in enumerate([raw] if isinstance(raw, bytes) else raw):
                if i and pause:
                    time.sleep(pause)
                conn.sendall(part)
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), headers, body


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    data_dir = tmp_path_factory.mktemp("front")
    now = SystemClock().now()
    settings, _ = init_data_dir(data_dir, now)
    ca = open_ca(settings)
    handed_over = [0]

    class CountingUvicorn(ocsp_front._UvicornHttp):  # type: ignore[misc, name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            handed_over[0] += 1
            super().__init__(*args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(ocsp_front, "_UvicornHttp", CountingUvicorn)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(
        create_app(open_ca(Settings.load(data_dir))),
        host="127.0.0.1",
        port=port,
        http=OcspFrontProtocol,
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield Front(port, ca, data_dir, handed_over)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        mp.undo()
        ca.db.dispose()


def _issue(front: Front) -> tuple[x509.Certificate, x509.Certificate]:
    now = SystemClock().now()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info = front.ca.issue(
        IssueOrder(
            CertKind.PHONE_AUTH, key.public_key(), "FRONT1", now, now + dt.timedelta(days=9)
        ),
        now,
    )
    return info.certificate, front.ca.identity("auth-1").certificate


def _ocsp_request(
    cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes | None = None
) -> bytes:
    builder = x509_ocsp.OCSPRequestBuilder().add_certificate(
        cert,
        issuer,
        hashes.SHA1(),  # noqa: S303 - RFC 5019 CertID
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _http_post(der: bytes, *, close: bool = True, path: str = "/ocsp/auth") -> bytes:
    connection = "Connection: close\r\n" if close else ""
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\n"
        f"{connection}Content-Length: {len(der)}\r\n\r\n"
    ).encode() + der


def test_the_front_door_answers_as_the_asgi_stack_does(front: Front) -> None:
    cert, issuer = _issue(front)
    der = _ocsp_request(cert, issuer)
    before = front.handed_over[0]
    status, headers, body = front.request(_http_post(der))
    assert front.handed_over[0] == before, "the closing RFC 5019 request went to uvicorn"
    # The same request on a keep-alive connection takes uvicorn and the ASGI fast path; the
    # client then closes (the server keeps the connection open), so read one response.
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as conn:
        conn.sendall(_http_post(der, close=False))
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < len(body):
            data += conn.recv(65536)
    assert front.handed_over[0] == before + 1
    head, _, asgi_body = data.partition(b"\r\n\r\n")
    asgi_headers = {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(":") for line in head.decode().split("\r\n")[1:])
    }
    assert status == 200 and head.startswith(b"HTTP/1.1 200 ")
    assert body == asgi_body
    for name in ("content-type", "content-length", "etag", "last-modified", "expires", "server"):
        assert headers[name] == asgi_headers[name], name
    # max-age counts down by the second: equal but for a tick between the two requests
    front_age = int(headers["cache-control"].split("max-age=")[1].split(",")[0])
    asgi_age = int(asgi_headers["cache-control"].split("max-age=")[1].split(",")[0])
    assert 0 <= front_age - asgi_age <= 1
    assert headers["cache-control"].endswith("public, no-transform, must-revalidate")
    assert headers["connection"] == "close" and "date" in headers
    response = x509_ocsp.load_der_ocsp_response(body)
    assert response.certificate_status is x509_ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == cert.serial_number


def test_get_split_requests_and_http_1_0_are_answered_at_the_connection(front: Front) -> None:
    cert, issuer = _issue(front)
    der = _ocsp_request(cert, issuer)
    before = front.handed_over[0]
    encoded = urllib.parse.quote(base64.b64encode(der).decode(), safe="")
    status, _, by_get = front.request(f"GET /ocsp/auth/{encoded} HTTP/1.0\r\n\r\n".encode())
    assert status == 200
    raw = _http_post(der)
    split_status, _, by_parts = front.request([raw[:30], raw[30:-10], raw[-10:]], pause=0.05)
    assert split_status == 200
    assert front.handed_over[0] == before
    assert by_get == by_parts
    assert x509_ocsp.load_der_ocsp_response(by_get).serial_number == cert.serial_number


def test_a_revocation_is_answered_by_the_front_door_at_once(front: Front) -> None:
    cert, issuer = _issue(front)
    der = _ocsp_request(cert, issuer)
    _, _, good = front.request(_http_post(der))
    assert x509_ocsp.load_der_ocsp_response(good).certificate_status is (
        x509_ocsp.OCSPCertStatus.GOOD
    )
    # Revoked through another CertificateAuthority on the same database: another process.
    other = open_ca(Settings.load(front.data_dir))
    try:
        other.revoke(cert.serial_number, Reason.KEY_COMPROMISE, SystemClock().now())
    finally:
        other.db.dispose()
    before = front.handed_over[0]
    _, _, revoked = front.request(_http_post(der))
    assert front.handed_over[0] == before, "the re-signed answer is served by the front door"
    response = x509_ocsp.load_der_ocsp_response(revoked)
    assert response.certificate_status is x509_ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_reason is x509.ReasonFlags.key_compromise


def test_what_the_front_door_does_not_answer_gets_the_full_stack(front: Front) -> None:
    cert, issuer = _issue(front)
    before = front.handed_over[0]
    # A nonce is echoed only in a freshly signed response (RFC 8954): the full path.
    nonce = bytes(range(1, 17))
    status, headers, body = front.request(_http_post(_ocsp_request(cert, issuer, nonce)))
    assert status == 200 and headers["cache-control"].startswith("max-age=0")
    nonce_ext = x509_ocsp.load_der_ocsp_response(body).extensions.get_extension_for_class(
        x509.OCSPNonce
    )
    assert nonce_ext.value.nonce == nonce
    # Garbage where a request should be: an OCSP malformedRequest from the full path.
    status, _, body = front.request(_http_post(b"\x30\x03\x02\x01\x01"))
    assert status == 200
    assert x509_ocsp.load_der_ocsp_response(body).response_status is (
        x509_ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    )
    # Other paths, and unknown responders (problem+json 404 from the router).
    status, _, body = front.request(
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert status == 200 and b"ok" in body
    status, headers, _ = front.request(_http_post(b"\x30\x00", path="/ocsp/nowhere"))
    assert status == 404 and headers["content-type"].startswith("application/problem+json")
    assert front.handed_over[0] == before + 4


def test_a_client_that_gives_up_mid_request_leaves_the_server_serving(front: Front) -> None:
    cert, issuer = _issue(front)
    raw = _http_post(_ocsp_request(cert, issuer))
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as conn:
        conn.sendall(raw[:25])
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
    with socket.create_connection(("127.0.0.1", front.port), timeout=10) as conn:
        conn.sendall(raw[:25])  # and one that just drops the connection
    status, _, body = front.request(raw)
    assert status == 200
    assert x509_ocsp.load_der_ocsp_response(body).serial_number == cert.serial_number


# --- answers kept while nothing was committed ------------------------------------------------


class _CountingAnswers:
    """The CA's pre-signed answers (the front door's one interface), reads counted."""

    def __init__(self, ca: CertificateAuthority) -> None:
        self.ca = ca
        answers = ca.presigned_answers
        assert answers is not None  # a SQLite file
        self.answers = answers
        self.reads = 0

    def version_probe(self) -> Any:
        return self.answers.version_probe()

    def cached(self, der: bytes, now: dt.datetime, *, hierarchy: Hierarchy | None = None) -> Any:
        self.reads += 1
        return self.answers.cached(der, now, hierarchy=hierarchy)


def _max_age(response: bytes) -> int:
    return int(response.split(b"max-age=", 1)[1].split(b",", 1)[0])


def test_kept_answers_last_until_any_commit_and_only_in_their_window(front: Front) -> None:
    from mobile_jpki.api.ocsp_front import KeptAnswers
    from mobile_jpki.clock import FixedClock

    cert, issuer = _issue(front)
    request = parse(_http_post(_ocsp_request(cert, issuer)))
    assert isinstance(request, _Request)
    counting = _CountingAnswers(open_ca(Settings.load(front.data_dir)))
    now = SystemClock().now()
    clock = FixedClock(now)
    kept = KeptAnswers()
    first = kept.response(counting, clock, request, b"")
    assert first is not None and counting.reads == 1
    assert kept.response(counting, clock, request, b"") == first and counting.reads == 1  # kept
    # Any commit, by any connection, drops every kept answer: here an unrelated issuance.
    _issue(front)
    again = kept.response(counting, clock, request, b"")
    assert counting.reads == 2 and again is not None
    # Revoked elsewhere: the next answer is the re-signed one.
    front.ca.revoke(cert.serial_number, Reason.SUPERSEDED, SystemClock().now())
    clock.advance(SystemClock().now() - clock.now())  # not before the re-signed thisUpdate
    revoked = kept.response(counting, clock, request, b"")
    assert revoked is not None and counting.reads == 3
    der = revoked.partition(b"\r\n\r\n")[2]
    assert x509_ocsp.load_der_ocsp_response(der).certificate_status is (
        x509_ocsp.OCSPCertStatus.REVOKED
    )
    # max-age counts down with the clock; past served_until the store decides again (and
    # cached() declines a response that should be re-signed: the full path signs it).
    clock.advance(dt.timedelta(seconds=10))
    later = kept.response(counting, clock, request, b"")
    assert later is not None and counting.reads == 3
    assert _max_age(revoked) - _max_age(later) == 10
    clock.advance(dt.timedelta(days=1))
    assert kept.response(counting, clock, request, b"") is None and counting.reads == 4
    counting.ca.db.dispose()


def test_the_whole_response_is_built_once_per_second_and_header_block(front: Front) -> None:
    from mobile_jpki.api.ocsp_front import KeptAnswers
    from mobile_jpki.clock import FixedClock

    cert, issuer = _issue(front)
    request = parse(_http_post(_ocsp_request(cert, issuer)))
    assert isinstance(request, _Request)
    ca = open_ca(Settings.load(front.data_dir))
    clock = FixedClock(SystemClock().now())
    answers = ca.presigned_answers
    assert answers is not None
    kept = KeptAnswers()
    head = b"HTTP/1.1 200 OK\r\ndate: x\r\n"
    first = kept.response(answers, clock, request, head)
    assert first is not None and first.startswith(head)
    assert kept.response(answers, clock, request, head) is first  # reused, not rebuilt
    bare = kept.response(answers, clock, request, b"")
    assert bare is not None and first == head + bare
    other = b"HTTP/1.1 200 OK\r\ndate: y\r\n"  # uvicorn's next Date
    assert kept.response(answers, clock, request, other) == other + first[len(head) :]
    clock.advance(dt.timedelta(seconds=3))
    later = kept.response(answers, clock, request, other)
    assert later is not None
    assert _max_age(later) == _max_age(first) - 3
    ca.db.dispose()
