"""The access log (api/access_log.py, issue 16 §4): off by default; when on, one JSON line per
request with the route's template, status, duration and client, and never a query string,
body, Authorization or cookie; ``serve --access-log`` turns it on for the front door too."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp

from mobile_jpki.api.access_log import LOGGER_NAME
from mobile_jpki.api.app import create_app

if TYPE_CHECKING:
    from conftest import Served

SECRET = "s3cr3t-value-never-logged"


def _requests(served: Served, *, access_log: bool) -> None:
    app = create_app(served.ca, access_log=access_log)

    async def run() -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            headers = {"authorization": f"Bearer {SECRET}", "cookie": f"mjpki_sim={SECRET}"}
            await c.get(f"/crl/sign-1/root.crl?token={SECRET}", headers=headers)
            await c.get(f"/nowhere/{'x' * 300}?token={SECRET}")
            await c.post("/ocsp/auth", content=b"junk")
            await c.post("/simulator/event", content=SECRET.encode() * 5000)

    asyncio.run(run())


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == LOGGER_NAME]


def test_off_by_default(served: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    _requests(served, access_log=False)
    assert _lines(caplog) == []


def test_one_line_per_request_without_secrets(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    _requests(served, access_log=True)
    crl, nowhere, ocsp, big = _lines(caplog)
    assert crl["route"] == "/crl/{ca_id}/{name}" and crl["status"] == 200
    assert crl["method"] == "GET" and crl["client"] == "203.0.113.7"
    assert isinstance(crl["duration_ms"], float) and str(crl["time"]).endswith("Z")
    assert "path" not in crl  # the template only, not /crl/sign-1/root.crl
    assert nowhere["route"] is None and nowhere["status"] == 404
    assert str(nowhere["path"]).startswith("/nowhere/") and len(str(nowhere["path"])) == 200
    assert ocsp["route"] == "/ocsp/{hierarchy}" and ocsp["status"] == 200
    assert big["route"] is None and big["status"] == 413  # refused before any route
    text = caplog.text
    assert SECRET not in text and "token" not in text and "Bearer" not in text


def test_serve_flag_logs_front_door_answers(served: Served, tmp_path: Path) -> None:
    """``serve --access-log``: JSON lines on stderr, OCSP answered at the connection included."""
    import socket

    # Not ``from conftest import``: in a whole-suite run that name is whichever test
    # directory's conftest was imported last.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    info, _ = served.issue("SUBJECTLOG01")
    issuer = served.ca.identity(info.ca_id).certificate
    req = (
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate(info.certificate, issuer, hashes.SHA1())  # noqa: S303 - RFC 5019
        .build()
        .public_bytes(serialization.Encoding.DER)
    )
    stderr = tmp_path / "stderr"
    args = [sys.executable, "-m", "mobile_jpki", "serve", "--data-dir", str(served.data_dir)]
    env = {**os.environ, "MOBILE_JPKI_CA_PASSPHRASE": ""}
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [*args, "--port", str(port), "--access-log"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz?key={SECRET}").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, stderr.read_text()
            time.sleep(0.1)
        resp = httpx.post(
            f"{url}/ocsp/auth",
            content=req,
            headers={"content-type": "application/ocsp-request", "connection": "close"},
        )
        assert resp.status_code == 200 and resp.headers.get("connection") == "close"
        time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    text = stderr.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert {"method": "GET", "route": "/healthz", "status": 200}.items() <= lines[-2].items()
    front = lines[-1]
    assert front["route"] == "/ocsp/{hierarchy}" and front["method"] == "POST"
    assert front["status"] == 200 and front["client"] == "127.0.0.1"
    assert SECRET not in text
