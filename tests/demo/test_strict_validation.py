"""Issue 16 §6: a strict PAdES validator accepts the demo's own signed PDF.

`pyhanko sign validate --force-revinfo` requires revocation information for every certificate
on every path it validates, the time-stamping authority's included. The demo runs here with
its URLs on a free port, `mobile-jpki serve` serves that data directory in a separate process,
and pyHanko fetches OCSP from the URLs the certificates name — as a relying party would."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

import mobile_jpki
from mobile_jpki.clock import SystemClock
from mobile_jpki.demo.scenario import Demo

pytestmark = pytest.mark.slow

SRC = Path(mobile_jpki.__file__).resolve().parent.parent


class _Quiet:
    def step(self, title: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The demo's data directory, served on 127.0.0.1 at the base URL its certificates name."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    data_dir = tmp_path_factory.mktemp("strict") / "data"
    Demo(data_dir, base_url=base, clock=SystemClock(), reporter=_Quiet()).run()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    log = data_dir.parent / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mobile_jpki",
                "serve",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == httpx.codes.OK:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not start: {log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield data_dir
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_pyhanko_requiring_revinfo_for_every_certificate_says_valid(served_demo: Path) -> None:
    """The library form of ``--force-revinfo`` (revocation_mode="require"): before the TSA
    certificate named our OCSP responder, its path failed ("no revocation information")."""
    export = served_demo / "export"
    pem = x509.load_pem_x509_certificate((export / "sign-ca.pem").read_bytes())
    root = ax509.Certificate.load(pem.public_bytes(Encoding.DER))
    reader = PdfFileReader(io.BytesIO((export / "signed-by-new-phone.pdf").read_bytes()))
    [sig] = reader.embedded_signatures
    vc = ValidationContext(
        trust_roots=[root],
        allow_fetching=True,
        revocation_mode="require",
        moment=dt.datetime.now(dt.UTC),
    )
    status = validate_pdf_signature(sig, vc)
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.trusted


@pytest.mark.skipif(shutil.which("pyhanko") is None, reason="pyhanko CLI (pyhanko-cli) absent")
def test_pyhanko_cli_force_revinfo_says_valid(served_demo: Path) -> None:
    export = served_demo / "export"
    result = subprocess.run(
        [
            shutil.which("pyhanko") or "pyhanko",
            "sign",
            "validate",
            "--force-revinfo",
            "--trust",
            str(export / "sign-ca.pem"),
            "--trust-replace",
            "--pretty-print",
            str(export / "signed-by-new-phone.pdf"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "The signature is judged VALID." in result.stdout
    assert "The TSA certificate is trusted." in result.stdout
