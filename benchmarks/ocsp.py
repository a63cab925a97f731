"""Benchmark: OCSP responses per second, our HTTP responder beside ``openssl ocsp`` as a responder.

    python benchmarks/ocsp.py [--seconds 5] [--clients 16] [--workers 2] [--certs 50] [--runs 2]
                              [--client auto|wrk|python]

Same run, same machine, same client for both responders, ``--clients`` concurrent connections,
each request on a NEW TCP connection (HTTP/1.1 POST, ``Connection: close``), a SHA-1 CertID
request without nonce (the RFC 5019 profile real clients use) for one of ``--certs``
certificates, ``--seconds`` per responder per run, ``--runs`` alternating runs.
- client: ``wrk`` (C, Debian package ``wrk``) with a Lua script when installed — it costs far
  less CPU per request than a Python client, which matters when client and responders share
  two cores — else an asyncio client. Both check every answer is HTTP 200 with a successful
  OCSP response.
- ours: ``mobile-jpki serve --workers N`` over a fresh data dir (SQLite WAL), as users run it:
  pre-signed responses read from the database on every request and answered at the connection
  by the front door of ``api/ocsp_front.py``; then the same with ``--no-ocsp-front`` (the raw
  ASGI fast path of ``api/ocsp.py`` behind uvicorn's protocol) to show what the front buys;
- openssl: ``openssl ocsp -index index.txt -port P -rsigner … -rkey … -CA …`` over the same
  certificates and the same delegated responder key. That is the peer's real behaviour: ONE
  process serving one connection at a time and signing every response (no pre-signing).
The load average is printed at the start of every run: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import importlib.util
import os
import random
import shutil
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
from mobile_jpki.service.ca import IssueOrder
from mobile_jpki.service.ca.bootstrap import init_data_dir, open_ca
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


_WRK_LUA = """
-- wrk's own resolve() probes each address with a connection it never closes; openssl ocsp
-- serves one connection at a time and would wait on that probe forever.
function wrk.resolve(host, service) wrk.addrs = wrk.lookup(host, service) end
local bodies = {%s}
local i = 0
local threads = {}
bad = 0
function setup(thread) table.insert(threads, thread) end
function request()
  i = i + 1
  local body = bodies[(i %% #bodies) + 1]
  return wrk.format("POST", wrk.path, {
    ["Host"] = "127.0.0.1",
    ["Content-Type"] = "application/ocsp-request",
    ["Connection"] = "close",
  }, body)
end
function response(status, headers, body)
  -- a successful OCSPResponse: 30 82 LL LL 0a 01 00 a0 ...
  if status ~= 200 or string.sub(body, 5, 8) ~= "\\10\\1\\0\\160" then bad = bad + 1 end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do b = b + t:get("bad") end
  io.write(string.format("RESULT %%d %%d %%d\\n", summary.requests, b,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
end
"""


def _lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b}" for b in data) + '"'


def _wrk_load(
    port: int, path: str, bodies: list[bytes], clients: int, seconds: float, script: Path
) -> tuple[int, int]:
    script.write_text(_WRK_LUA % ", ".join(_lua_string(b) for b in bodies))
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(clients),
            "-d",
            f"{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    total, bad, errors = (int(v) for v in line.split()[1:])
    return total - bad - errors, bad + errors


# A reference, not our responder: uvicorn (same loop and parser) serving a fixed response of the
# same size from a no-op ASGI app, doing no OCSP work at all (wrk's checks are skipped for it).
# What any responder behind uvicorn's ASGI protocol could reach here; the front door
# (api/ocsp_front.py) answers before that protocol, which is how ours can pass it.
_BARE_APP = """
BODY = bytes(%d)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/ocsp-response")]})
    await send({"type": "http.response.body", "body": BODY})
"""


def _load_avg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"responder exited: {proc.args!r}")
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
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
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
        rkey = ca.keys.load(row.key_ref)
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

    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
    client = "wrk (C, Lua script)" if use_wrk else "Python asyncio"

    def load(port: int, path: str, seconds: float) -> tuple[int, int]:
        if use_wrk:
            return _wrk_load(port, path, bodies, args.clients, seconds, tmp / "bench.lua")
        return asyncio.run(_load(port, path, bodies, args.clients, seconds))

    fast = [
        *(["--http", "httptools"] if importlib.util.find_spec("httptools") else []),
        *(["--loop", "uvloop"] if importlib.util.find_spec("uvloop") else []),
    ]
    print(f"set up in {tmp}; measuring", file=sys.stderr)
    (tmp / "bare_asgi.py").write_text(_BARE_APP % 1800)
    cli = shutil.which("mobile-jpki") or sys.exit("mobile-jpki is not on PATH (pip install -e .)")

    def rate(command: list[str], env: dict[str, str]) -> tuple[int, int]:
        port = free_port()
        server = subprocess.Popen([*command, "--port", str(port)], env={**os.environ, **env})
        try:
            _wait_port(port, server)
            load(port, "/ocsp/auth", 1.0)  # warm-up: imports, connections, first reads
            return load(port, "/ocsp/auth", args.seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)

    serve = [cli, "serve", "--data-dir", str(data_dir), "--workers", str(args.workers)]
    bare = [sys.executable, "-m", "uvicorn", "--app-dir", str(tmp), "bare_asgi:app"]
    bare += ["--workers", str(args.workers), *fast, "--log-level", "warning", "--no-access-log"]
    rows: list[tuple[int, str, float, float, float, float, int, int]] = []
    for run in range(1, args.runs + 1):
        load_avg = _load_avg()
        ok, bad = rate(serve, {})
        asgi_ok, asgi_bad = rate([*serve, "--no-ocsp-front"], {})
        # The bare app answers zeros, which the OCSP check counts as failed: count all.
        bare_ok, bare_bad = rate(bare, {})
        bare_rate = (bare_ok + bare_bad) / args.seconds

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
            # No probe connection: openssl serves one connection at a time and would sit on
            # an empty probe; give it a moment to bind instead.
            time.sleep(1.5)
            if peer.poll() is not None:
                sys.exit("openssl ocsp exited")
            peer_ok, peer_bad = load(port, "/", args.seconds)
        finally:
            peer.terminate()
            peer.wait(timeout=30)
        rows.append(
            (
                run,
                load_avg,
                ok / args.seconds,
                asgi_ok / args.seconds,
                bare_rate,
                peer_ok / args.seconds,
                bad + asgi_bad,
                peer_bad,
            )
        )

    print(
        f"client: {client}; {args.clients} concurrent connections, new connection per request, "
        f"{args.seconds:g} s each, {args.certs} certificates"
    )
    print(
        f"ours: mobile-jpki serve --workers {args.workers} (front door api/ocsp_front.py: "
        "pre-signed responses read from SQLite per request, answered at the connection)"
    )
    print("  --no-ocsp-front: the same, answered by the ASGI fast path of api/ocsp.py instead")
    print("peer: openssl ocsp -index (one process, one connection at a time, signs every response)")
    print(
        f"reference: a no-op ASGI app on uvicorn {' '.join(fast) or '(h11, asyncio)'} "
        f"--workers {args.workers} answering 1800 zero bytes (any ASGI responder's ceiling here)"
    )
    print(
        f"{'run':>3}  {'load avg (1 5 15)':>17}  {'mobile-jpki/s':>13}  {'no front/s':>10}  "
        f"{'no-op ASGI/s':>12}  {'openssl/s':>9}  ratios to openssl (ours, no front, no-op ASGI)"
    )
    for run, load_avg, ours, asgi, noop, openssl, bad, peer_bad in rows:
        ratios = ", ".join(f"{r / openssl:.2f}x" for r in (ours, asgi, noop)) if openssl else "n/a"
        failed = f"  (failed: ours {bad}, openssl {peer_bad})" if bad or peer_bad else ""
        print(
            f"{run:>3}  {load_avg:>17}  {ours:13.1f}  {asgi:10.1f}  {noop:12.1f}  {openssl:9.1f}  "
            f"{ratios}{failed}"
        )


if __name__ == "__main__":
    main()
