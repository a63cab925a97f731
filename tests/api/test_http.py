"""HTTP contract: problem+json errors, never a 500 for bad input, OpenAPI served."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import Served


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/crl/auth-9/0.crl", 404),
        ("/crl/auth-1/99.crl", 404),
        ("/crl/auth-1/..%2F..%2Fsettings.json", 404),
        ("/crl/..%2Fca/root.crl", 404),
        ("/crl/auth-1/x.crl", 404),
        ("/ocsp/nope", 404),
        ("/nowhere", 404),
    ],
)
def test_problems(served: Served, path: str, status: int) -> None:
    method = "POST" if path.startswith("/ocsp") else "GET"
    resp = httpx.request(method, served.url + path, content=b"x" if method == "POST" else None)
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/problem+json"
    body = resp.json()
    assert body["status"] == status and body["title"] and body["detail"]


def test_crl_names(served: Served) -> None:
    for name in ("root.crl", "0.crl", "0.delta.crl"):
        resp = httpx.get(f"{served.url}/crl/sign-1/{name}")
        assert resp.status_code == 200, name
        assert resp.headers["content-type"] == "application/pkix-crl"
        assert "expires" in resp.headers and "etag" in resp.headers


def test_openapi_and_health(served: Served) -> None:
    assert httpx.get(f"{served.url}/healthz").json() == {"status": "ok"}
    doc = httpx.get(f"{served.url}/openapi.json").json()
    assert "/ocsp/{hierarchy}" in doc["paths"]
    assert "/crl/{ca_id}/{name}" in doc["paths"]


def _ocsp_status(resp: httpx.Response) -> int:
    from mobile_jpki.pki import ocsp

    return int(ocsp.parse_response(resp.content).status)


@pytest.mark.parametrize("body", [b"", b"\x30" * (16 * 1024), b"\x30\x03\x02\x01\x00"])
def test_fast_path_bad_bodies_are_malformed_request(served: Served, body: bytes) -> None:
    resp = httpx.post(
        f"{served.url}/ocsp/auth",
        content=body,
        headers={"content-type": "application/ocsp-request"},
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/ocsp-response"
    assert _ocsp_status(resp) == 1  # malformedRequest (RFC 6960 §4.2.1)
    assert resp.headers["cache-control"] == "max-age=0, no-cache, no-store"
    for header in ("etag", "last-modified", "expires", "content-length"):
        assert header in resp.headers


def test_ocsp_body_over_the_limit_is_413(served: Served) -> None:
    """Past 16 KiB an OCSP POST is refused before it is read (api/limits.py), not answered
    malformedRequest after reading it all."""
    resp = httpx.post(
        f"{served.url}/ocsp/auth",
        content=b"\x30" * (16 * 1024 + 1),
        headers={"content-type": "application/ocsp-request"},
    )
    assert resp.status_code == 413
    assert resp.headers["content-type"] == "application/problem+json"


def test_fast_path_serves_the_stored_response_with_cache_headers(served: Served) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp as x509_ocsp
    from sqlalchemy import select

    from mobile_jpki.store.models import OcspResponse, serial_hex

    info, _ = served.issue("SUBJECTFAST01")
    issuer = served.ca.identity(info.ca_id).certificate
    req = (
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate(info.certificate, issuer, hashes.SHA1())  # noqa: S303 - RFC 5019
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    resp = httpx.post(
        f"{served.url}/ocsp/auth", content=req, headers={"content-type": "application/ocsp-request"}
    )
    with served.ca.db.transaction(write=False) as s:
        stored = s.scalar(
            select(OcspResponse.der).where(OcspResponse.serial == serial_hex(info.serial))
        )
    assert resp.content == stored  # the pre-signed bytes, not a fresh signature
    assert resp.headers["cache-control"].endswith("public, no-transform, must-revalidate")
    assert int(resp.headers["content-length"]) == len(stored)


def test_every_ocsp_route_is_the_one_endpoint() -> None:
    """One serving path: whatever reaches the router under /ocsp/ (what the middleware passes
    on) meets the same ASGI endpoint, and the OpenAPI document still describes both forms."""
    from starlette.routing import Match

    from mobile_jpki.api.ocsp import OPENAPI_PATHS, OcspEndpoint, router

    for method, path in (("POST", "/ocsp/auth"), ("GET", "/ocsp/auth/MAo="), ("HEAD", "/ocsp/x/y")):
        scope = {"type": "http", "method": method, "path": path}
        matched = [r for r in router.routes if r.matches(scope)[0] is Match.FULL]
        assert matched and all(
            isinstance(getattr(r, "endpoint", None), OcspEndpoint) for r in matched
        )
    assert set(OPENAPI_PATHS) == {"/ocsp/{hierarchy}", "/ocsp/{hierarchy}/{encoded}"}


def test_http_date_matches_the_standard_library() -> None:
    import datetime as dt
    from email.utils import format_datetime

    from mobile_jpki.api.ocsp import _http_date

    start = dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
    for days in range(0, 20000, 37):
        when = start + dt.timedelta(days=days, seconds=days * 7)
        assert _http_date(when) == format_datetime(when, usegmt=True)
    jst = dt.timezone(dt.timedelta(hours=9))
    assert _http_date(dt.datetime(2026, 4, 1, 9, tzinfo=jst)) == "Wed, 01 Apr 2026 00:00:00 GMT"


def test_fast_path_middleware(served: Served) -> None:
    """``OcspFastPath`` in front of the whole app: OCSP answered without FastAPI, the same
    bytes as the routed path; everything else, unknown hierarchies included, passes through."""
    import asyncio
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp as x509_ocsp

    from mobile_jpki.api.app import create_app
    from mobile_jpki.api.ocsp import OcspFastPath

    info, _ = served.issue("SUBJECTFAST02")
    issuer = served.ca.identity(info.ca_id).certificate
    req = (
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate(info.certificate, issuer, hashes.SHA1())  # noqa: S303 - RFC 5019
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    app = create_app(served.ca)
    app.add_middleware(OcspFastPath)
    routed = httpx.post(f"{served.url}/ocsp/auth", content=req).content

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            b64 = base64.b64encode(req).decode()
            return [
                await client.post("/ocsp/auth", content=req),
                await client.get(f"/ocsp/auth/{b64}"),
                await client.post("/ocsp/nope", content=req),
                await client.get("/healthz"),
                await client.post("/ocsp/auth", content=b"junk"),
            ]

    post, get, nope, health, junk = asyncio.run(run())
    assert post.content == get.content == routed
    assert post.headers["content-type"] == "application/ocsp-response"
    assert "etag" in post.headers and "max-age=" in post.headers["cache-control"]
    assert nope.status_code == 404
    assert nope.headers["content-type"] == "application/problem+json"
    assert health.json() == {"status": "ok"}
    assert junk.status_code == 200 and _ocsp_status(junk) == 1


@contextmanager
def socket_port() -> Iterator[int]:
    """A free local TCP port (released on exit, for the server to bind)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    yield port


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_revocation_is_seen_by_every_worker_at_once(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``serve --workers 2``: answers come from both processes; once a revocation made by a
    third process (this test) commits, no worker answers "good" again — no worker may keep
    an unvalidated copy of the pre-signed response."""
    import datetime as dt
    import os
    import subprocess
    import sys
    import time

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509 import ocsp as x509_ocsp
    from sqlalchemy import text

    from mobile_jpki.clock import SystemClock
    from mobile_jpki.pki import ocsp
    from mobile_jpki.pki.model import CertKind
    from mobile_jpki.pki.revocation import Reason
    from mobile_jpki.service.ca import IssueOrder
    from mobile_jpki.service.ca.bootstrap import init_data_dir, open_ca
    from mobile_jpki.settings import Settings
    from mobile_jpki.store.db import Database

    url = None
    if backend == "postgres":
        url = os.environ.get("MOBILE_JPKI_TEST_POSTGRES_URL")
        if not url:
            pytest.skip("MOBILE_JPKI_TEST_POSTGRES_URL not set")
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        db.dispose()
    data_dir = tmp_path_factory.mktemp("workers")
    now = SystemClock().now()
    init_data_dir(data_dir, now, database_url=url)
    with socket_port() as port:
        args = [sys.executable, "-m", "mobile_jpki", "serve", "--data-dir", str(data_dir)]
        args += ["--port", str(port), "--workers", "2"]
        args += ["--database-url", url] if url else []
        env = {**os.environ, "MOBILE_JPKI_CA_PASSPHRASE": ""}
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    ca = open_ca(Settings.load(data_dir, database_url=url))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        info = ca.issue(
            IssueOrder(
                CertKind.PHONE_AUTH, key.public_key(), "WORKERS01", now, now + dt.timedelta(days=30)
            ),
            now,
        )
        req = (
            x509_ocsp.OCSPRequestBuilder()
            .add_certificate(
                info.certificate,
                ca.identity(info.ca_id).certificate,
                hashes.SHA1(),  # noqa: S303 - RFC 5019 CertID
            )
            .build()
            .public_bytes(serialization.Encoding.DER)
        )

        def statuses(n: int) -> set[ocsp.CertStatus]:
            found = set()
            for _ in range(n):  # new connections, spread by the kernel over both workers
                resp = httpx.post(f"{base}/ocsp/auth", content=req)
                found.add(ocsp.parse_response(resp.content).answers[0].status)
            return found

        assert statuses(20) == {ocsp.CertStatus.GOOD}
        ca.revoke(info.serial, Reason.KEY_COMPROMISE, SystemClock().now())
        assert statuses(40) == {ocsp.CertStatus.REVOKED}
    finally:
        ca.db.dispose()
        proc.terminate()
        proc.wait(timeout=20)
        if proc.stderr:
            proc.stderr.close()
