"""``openssl ocsp`` and ``openssl verify`` as clients of our HTTP responder and CRLs."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from mobile_jpki.clock import SystemClock
from mobile_jpki.pki import ocsp
from mobile_jpki.pki.revocation import Reason

if TYPE_CHECKING:
    from conftest import Served

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _ocsp(served: Served, *certs: Path, extra: tuple[str, ...] = ()) -> str:
    args = ["openssl", "ocsp", "-issuer", str(served.auth_ca_pem)]
    for cert in certs:
        args += ["-cert", str(cert)]
    args += ["-url", f"{served.url}/ocsp/auth", "-CAfile", str(served.auth_ca_pem), *extra]
    done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    return done.stdout + done.stderr


def test_good(served: Served) -> None:
    _, pem = served.issue()
    out = _ocsp(served, pem)
    assert "Response verify OK" in out
    assert f"{pem}: good" in out


def test_revoked_with_reason_and_time_immediately(served: Served) -> None:
    info, pem = served.issue()
    assert f"{pem}: good" in _ocsp(served, pem, extra=("-no_nonce",))
    served.ca.revoke(info.serial, Reason.KEY_COMPROMISE, SystemClock().now())
    out = _ocsp(served, pem, extra=("-no_nonce",))
    assert f"{pem}: revoked" in out
    assert "Reason: keyCompromise" in out
    assert "Revocation Time:" in out
    assert "Response verify OK" in out


def test_unknown_and_several_in_one_request(served: Served, tmp_path: Path) -> None:
    _, good = served.issue()
    held_info, held = served.issue()
    served.ca.hold(held_info.serial, SystemClock().now())
    out = _ocsp(served, good, held, extra=("-serial", "0x1234"))
    assert f"{good}: good" in out
    assert f"{held}: revoked" in out and "certificateHold" in out
    assert "0x1234: unknown" in out
    assert "Response verify OK" in out


def test_nonce_echoed_and_no_nonce(served: Served) -> None:
    _, pem = served.issue()
    with_nonce = _ocsp(served, pem, extra=("-resp_text",))
    assert "OCSP Nonce" in with_nonce.split("Response Data")[1]
    assert "Nonce Verify error" not in with_nonce
    without = _ocsp(served, pem, extra=("-no_nonce", "-resp_text"))
    assert "OCSP Nonce" not in without.split("Response Data")[1]
    assert "Response verify OK" in without


def test_get_equals_post_and_has_cache_headers(served: Served, tmp_path: Path) -> None:
    _, pem = served.issue()
    req = tmp_path / "req.der"
    subprocess.run(
        [
            "openssl",
            "ocsp",
            "-issuer",
            str(served.auth_ca_pem),
            "-cert",
            str(pem),
            "-no_nonce",
            "-reqout",
            str(req),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    der = req.read_bytes()
    post = httpx.post(
        f"{served.url}/ocsp/auth", content=der, headers={"Content-Type": "application/ocsp-request"}
    )
    encoded = httpx.URL(f"{served.url}/ocsp/auth/").join(
        base64.b64encode(der).decode().replace("/", "%2F").replace("+", "%2B")
    )
    get = httpx.get(encoded)
    for resp in (post, get):
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/ocsp-response"
        for header in ("etag", "last-modified", "expires", "cache-control"):
            assert header in resp.headers
        assert "max-age=" in resp.headers["cache-control"]
        assert int(resp.headers["cache-control"].split("max-age=")[1].split(",")[0]) > 0
    # The pre-signed response is served to both: byte-identical.
    assert get.content == post.content


@pytest.mark.parametrize(
    "path",
    ["/ocsp/auth/%%%%", "/ocsp/auth/AAAA", "/ocsp/auth/not-base64!", "/ocsp/auth/" + "A" * 50000],
)
def test_garbage_get_is_malformed_request(served: Served, path: str) -> None:
    resp = httpx.get(served.url + path)
    assert resp.status_code == 200
    assert ocsp.parse_response(resp.content).status is ocsp.ResponseStatus.MALFORMED_REQUEST
    assert "cache-control" in resp.headers and "etag" in resp.headers


def test_garbage_post_is_malformed_request(served: Served) -> None:
    for body in (b"", b"\x30\x80", b"hello"):
        resp = httpx.post(f"{served.url}/ocsp/auth", content=body)
        assert resp.status_code == 200
        assert ocsp.parse_response(resp.content).status is ocsp.ResponseStatus.MALFORMED_REQUEST


def test_wrong_hierarchy_is_unauthorized(served: Served, tmp_path: Path) -> None:
    _, pem = served.issue()
    req = tmp_path / "req.der"
    subprocess.run(
        [
            "openssl",
            "ocsp",
            "-issuer",
            str(served.auth_ca_pem),
            "-cert",
            str(pem),
            "-reqout",
            str(req),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    resp = httpx.post(f"{served.url}/ocsp/sign", content=req.read_bytes())
    assert ocsp.parse_response(resp.content).status is ocsp.ResponseStatus.UNAUTHORIZED


def test_openssl_verify_with_our_crls(served: Served, tmp_path: Path) -> None:
    good_info, good = served.issue()
    bad_info, bad = served.issue()
    served.ca.revoke(bad_info.serial, Reason.AFFILIATION_CHANGED, SystemClock().now())
    results = {}
    for name, info, pem in (("good", good_info, good), ("bad", bad_info, bad)):
        resp = httpx.get(f"{served.url}/crl/{info.ca_id}/{info.shard}.crl")
        assert resp.headers["content-type"] == "application/pkix-crl"
        crl = tmp_path / f"{name}.crl"
        crl.write_bytes(resp.content)
        pem_crl = tmp_path / f"{name}.crl.pem"
        subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-in", str(crl), "-out", str(pem_crl)],
            check=True,
            timeout=30,
        )
        done = subprocess.run(
            [
                "openssl",
                "verify",
                "-crl_check",
                "-CAfile",
                str(served.auth_ca_pem),
                "-CRLfile",
                str(pem_crl),
                str(pem),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        results[name] = done.stdout + done.stderr
    assert f"{good}: OK" in results["good"]
    assert "certificate revoked" in results["bad"]
