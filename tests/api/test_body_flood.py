"""A flood of oversize bodies against ``mobile-jpki serve`` running as its own process: every one
answered 413 problem+json, the server's memory barely moves, and OCSP keeps answering good
(issue 16 §1: six 50 MiB POSTs used to take the server from 115 MiB to 891 MiB)."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp

if TYPE_CHECKING:
    from conftest import Served

DECLARED = 50 * 1024 * 1024  # what each client claims, or streams, at most
PIECE = b"{" * 65536
ROUNDS = 5  # 20 clients, each sending five oversize bodies in turn
ROUTES = (
    "/portal/v1/applications",
    "/portal/v1/devices",
    "/operator/v1/persons",
    "/tsa",
    "/ocsp/auth",
)


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def _oversize(url: str, path: str, *, chunked: bool) -> tuple[int, bytes, int]:
    """POST a 50 MiB body the way an attacker would: the head, then body bytes as fast as the
    server takes them until it answers. Returns (status, response head and body, bytes sent)."""
    parts = urlsplit(url)
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {DECLARED}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.hostname}\r\n"
        f"Content-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()
    piece = b"%x\r\n%s\r\n" % (len(PIECE), PIECE) if chunked else PIECE
    received = b""
    sent = 0
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        deadline = time.monotonic() + 60
        while sent < DECLARED and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 1.0)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                received += data
                if not data or b"\r\n\r\n" in received:
                    break
            if writable:
                try:
                    sent += sock.send(piece)
                except (BrokenPipeError, ConnectionResetError):
                    break
                except BlockingIOError:
                    pass
        sock.setblocking(True)
        sock.settimeout(10)
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                received += data
        except (ConnectionResetError, TimeoutError):
            pass
    status = int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else 0
    return status, received, sent


def _ocsp_request(served: Served) -> bytes:
    info, _ = served.issue("SUBJECTFLOOD1")
    issuer = served.ca.identity(info.ca_id).certificate
    return (
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate(info.certificate, issuer, hashes.SHA1())  # noqa: S303 - RFC 5019
        .build()
        .public_bytes(serialization.Encoding.DER)
    )


def _good(url: str, req: bytes) -> bool:
    resp = httpx.post(
        f"{url}/ocsp/auth",
        content=req,
        headers={"content-type": "application/ocsp-request", "connection": "close"},
        timeout=10,
    )
    parsed = x509_ocsp.load_der_ocsp_response(resp.content)
    return bool(
        resp.status_code == 200
        and parsed.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
        and parsed.certificate_status == x509_ocsp.OCSPCertStatus.GOOD
    )


def test_flood_of_oversize_bodies(served: Served) -> None:
    req = _ocsp_request(served)
    assert _good(served.url, req)
    # An ordinary unauthenticated request is still refused by authentication, not by size.
    small = httpx.post(f"{served.url}/portal/v1/applications", json={"x": 1})
    assert small.status_code == 401
    for _ in range(20):  # warm the server's allocator before the baseline
        _good(served.url, req)
    rss_before = _kib(served.pid, "VmRSS")

    results: list[tuple[int, bytes, int]] = []
    ocsp_ok: list[bool] = []
    lock = threading.Lock()
    done = threading.Event()

    def attacker(i: int) -> None:
        # At least ROUNDS bodies each, and on until OCSP was asked five times meanwhile.
        rounds = 0
        deadline = time.monotonic() + 60
        while rounds < ROUNDS or (len(ocsp_ok) < 5 and time.monotonic() < deadline):
            rounds += 1
            result = _oversize(served.url, ROUTES[i % len(ROUTES)], chunked=i % 2 == 1)
            with lock:
                results.append(result)

    def relying_party() -> None:
        while not done.is_set():
            ok = _good(served.url, req)
            with lock:
                ocsp_ok.append(ok)

    watcher = threading.Thread(target=relying_party)
    watcher.start()
    attackers = [threading.Thread(target=attacker, args=(i,)) for i in range(20)]
    for t in attackers:
        t.start()
    for t in attackers:
        t.join(timeout=120)
    done.set()
    watcher.join(timeout=30)

    statuses = [status for status, _, _ in results]
    assert len(statuses) >= 20 * ROUNDS and set(statuses) == {413}, statuses
    for _, raw, _ in results:
        head, _, body = raw.partition(b"\r\n\r\n")
        assert b"content-type: application/problem+json" in head.lower()
        assert json.loads(body)["status"] == 413
    # Each client stopped far short of its 50 MiB: the server stopped reading.
    assert max(sent for _, _, sent in results) < 16 * 1024 * 1024
    peak_growth = _kib(served.pid, "VmHWM") - rss_before
    print(
        f"bodies {len(results)}, RSS {rss_before} KiB, peak +{peak_growth} KiB, {len(ocsp_ok)} OCSP"
    )
    assert peak_growth < 50 * 1024, f"server peak RSS grew by {peak_growth} KiB"
    assert len(ocsp_ok) >= 5 and all(ocsp_ok)  # answered good while the flood ran
    assert _good(served.url, req)
