"""Benchmark: OCSP responses per second, our HTTP responder beside ``openssl ocsp`` as a responder.

    python benchmarks/ocsp.py [--seconds 5] [--clients 16] [--workers 2] [--certs 50]

Same run, same machine, same client: an asyncio client with ``--clients`` concurrent tasks,
each opening a NEW TCP connection per request (HTTP/1.1 POST, ``Connection: close``), sending a
SHA-1 CertID request without nonce (the RFC 5019 profile real clients use) for one of
``--certs`` certificates, for ``--seconds`` seconds per responder.
- ours: ``uvicorn --factory mobile_jpki.api.app:app_from_env --workers N`` over a fresh data dir
  (SQLite WAL): pre-signed responses served from the database;
- openssl: ``openssl ocsp -index index.txt -port P -rsigner … -rkey … -CA …`` over the same
  certificates and the same delegated responder key; it signs every response.
Every answer is checked to be an HTTP 200 with a successful OCSP response.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp as x509_ocsp
from sqlalchemy import select

from mobile_jpki.clock import SystemClock
from mobile_jpki.pki.model import CertKind
from mobile_jpki.service.authority import IssueOrder
from mobile_jpki.service.bootstrap import init_data_dir, open_ca
from mobile_jpki.store.models import OcspResponder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _one(port: int, path: str, body: bytes) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/ocsp-request\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    # 30 03 0a 01 00 would be an error; a successful response starts 30 82 .. 0a 01 00 a0.
    return (
        head.startswith(b"HTTP/1.")
        and b" 200 " in head[:16]
        and payload[4:8] == b"\x0a\x01\x00\xa0"
    )


async def _load(
    port: int, path: str, bodies: list[bytes], clients: int, seconds: float
) -> tuple[int, int]:
    ok = bad = 0
    deadline = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        nonlocal ok, bad
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            try:
                good = await asyncio.wait_for(_one(port, path, rng.choice(bodies)), 10)
            except (OSError, TimeoutError):
                good = False
            ok, bad = (ok + 1, bad) if good else (ok, bad + 1)

    await asyncio.gather(*(worker(i) for i in range(clients)))
    return ok, bad


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"responder exited: {proc.args}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    sys.exit("responder did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--certs", type=int, default=50)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="ocsp-bench-"))
    data_dir = tmp / "data"
    now = SystemClock().now()
    os.environ.pop("MOBILE_JPKI_CA_PASSPHRASE", None)
    settings, _ = init_data_dir(data_dir, now)
    ca = open_ca(settings)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    issuer_cert = ca.identity("auth-1").certificate
    certs = [
        ca.issue(
            IssueOrder(
                CertKind.PHONE_AUTH, key.public_key(), f"B{i:06d}", now, now + dt.timedelta(days=30)
            ),
            now,
        ).certificate
        for i in range(args.certs)
    ]
    bodies = [
        x509_ocsp.OCSPRequestBuilder()
        .add_certificate(c, issuer_cert, hashes.SHA1())  # noqa: S303 - RFC 5019 CertID
        .build()
        .public_bytes(serialization.Encoding.DER)
        for c in certs
    ]
    # The same delegated responder for openssl: certificate and (decrypted) key.
    with ca.db.transaction(write=False) as s:
        row = s.scalars(select(OcspResponder).where(OcspResponder.ca_id == "auth-1")).first()
        assert row is not None
        rcert = x509.load_der_x509_certificate(row.certificate_der)
        rkey = ca._keys.load(row.key_ref)
    (tmp / "rsigner.pem").write_bytes(rcert.public_bytes(serialization.Encoding.PEM))
    (tmp / "rkey.pem").write_bytes(
        rkey.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp / "ca.pem").write_bytes(issuer_cert.public_bytes(serialization.Encoding.PEM))
    with (tmp / "index.txt").open("w") as index:
        for c in certs:
            expiry = c.not_valid_after_utc.strftime("%y%m%d%H%M%SZ")
            index.write(f"V\t{expiry}\t\t{c.serial_number:X}\tunknown\t/CN={c.serial_number:x}\n")
    ca.db.dispose()

    print(f"set up in {tmp}; measuring", file=sys.stderr)
    results: dict[str, tuple[int, int]] = {}
    port = free_port()
    ours = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "mobile_jpki.api.app:app_from_env",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env={**os.environ, "MOBILE_JPKI_DATA_DIR": str(data_dir)},
    )
    try:
        _wait_port(port, ours)
        asyncio.run(_load(port, "/ocsp/auth", bodies, args.clients, 1.0))  # warm-up
        results["mobile-jpki"] = asyncio.run(
            _load(port, "/ocsp/auth", bodies, args.clients, args.seconds)
        )
    finally:
        ours.terminate()
        ours.wait(timeout=30)

    port = free_port()
    peer = subprocess.Popen(
        [
            "openssl",
            "ocsp",
            "-index",
            str(tmp / "index.txt"),
            "-port",
            str(port),
            "-rsigner",
            str(tmp / "rsigner.pem"),
            "-rkey",
            str(tmp / "rkey.pem"),
            "-CA",
            str(tmp / "ca.pem"),
            "-nmin",
            "60",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # No probe connection: openssl serves one connection at a time and would sit on an
        # empty probe; give it a moment to bind instead.
        time.sleep(1.5)
        if peer.poll() is not None:
            sys.exit("openssl ocsp exited")
        results["openssl ocsp"] = asyncio.run(_load(port, "/", bodies, args.clients, args.seconds))
    finally:
        peer.terminate()
        peer.wait(timeout=30)

    print(
        f"{args.clients} clients, new connection per request, {args.seconds:g} s each, "
        f"{args.certs} certificates, uvicorn workers={args.workers}"
    )
    rates = {}
    for name, (ok, bad) in results.items():
        rates[name] = ok / args.seconds
        print(f"{name:14s} {rates[name]:9.1f} responses/s  ({ok} ok, {bad} failed)")
    if rates.get("openssl ocsp"):
        print(f"ratio mobile-jpki / openssl: {rates['mobile-jpki'] / rates['openssl ocsp']:.2f}x")


if __name__ == "__main__":
    main()
