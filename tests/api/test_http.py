"""HTTP contract: problem+json errors, never a 500 for bad input, OpenAPI served."""

from __future__ import annotations

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


@pytest.mark.parametrize("body", [b"", b"\x30" * (16 * 1024 + 1), b"\x30\x03\x02\x01\x00"])
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


def test_fast_path_routes_come_first() -> None:
    from starlette.routing import Match, Route

    from mobile_jpki.api.ocsp import OcspEndpoint, router

    for method, path in (("POST", "/ocsp/auth"), ("GET", "/ocsp/auth/MAo=")):
        scope = {"type": "http", "method": method, "path": path}
        first = next(r for r in router.routes if r.matches(scope)[0] is Match.FULL)
        assert isinstance(first, Route) and isinstance(first.endpoint, OcspEndpoint)


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
