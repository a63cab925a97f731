"""A real data directory served by ``mobile-jpki serve`` (uvicorn) on a free local port."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.clock import SystemClock
from mobile_jpki.pki.model import CertKind
from mobile_jpki.service.ca import CertificateAuthority, CertificateInfo, IssueOrder
from mobile_jpki.service.ca.bootstrap import init_data_dir, open_ca
from mobile_jpki.settings import Settings


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    url: str
    data_dir: Path
    ca: CertificateAuthority
    key: rsa.RSAPrivateKey
    pid: int = 0  # the serve process (tests/api/test_body_flood.py reads its memory)

    def issue(self, subject: str = "SUBJECT0001") -> tuple[CertificateInfo, Path]:
        now = SystemClock().now()
        info = self.ca.issue(
            IssueOrder(
                kind=CertKind.PHONE_AUTH,
                subject_public_key=self.key.public_key(),
                subject_id=subject,
                not_before=now,
                not_after=now + dt.timedelta(days=30),
            ),
            now,
        )
        path = self.data_dir / f"{info.serial:x}.pem"
        path.write_bytes(info.certificate.public_bytes(serialization.Encoding.PEM))
        return info, path

    @property
    def auth_ca_pem(self) -> Path:
        return self.data_dir / "ca" / "auth-1.pem"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("served")
    init_data_dir(data_dir, SystemClock().now())
    port = free_port()
    env = {**os.environ, "MOBILE_JPKI_CA_PASSPHRASE": ""}
    proc = subprocess.Popen(
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
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                pytest.fail(f"serve did not start: {err}")
            time.sleep(0.1)
        ca = open_ca(Settings.load(data_dir))
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        yield Served(url, data_dir, ca, key, proc.pid)
        ca.db.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()
