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
