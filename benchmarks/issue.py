"""Benchmark: certificates issued per second beside openssl's RSA-2048 sign rate.

    python benchmarks/issue.py [--seconds 3] [--batch 100] [--runs 2]

Figures from one run on the same machine (each run prints the load average first: the machine
is shared), every rate also as a share of openssl's:
- ``openssl speed -seconds S rsa2048``: RSA-2048 private-key operations per second (the ceiling:
  every certificate costs at least one such signature);
- pure ``Issuer.issue()`` (pki.issuance: build + sign one phone user-auth certificate);
- service ``issue()``: serial, certificate, pre-signed OCSP response (a second RSA signature),
  SQLite insert + audit record, ONE transaction (one ``synchronous=FULL`` fsync) per certificate;
- service ``issue_many()`` in batches of ``--batch``: the same work, one transaction per batch;
- the same with ``presign=False``: the OCSP response is signed on the first request (or by
  ``presign_pending``), so issuance costs one signature per certificate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.keys.source import SecretSource
from mobile_jpki.pki.issuance import IssuanceRequest, Issuer, new_serial, shard_of
from mobile_jpki.pki.model import CertKind
from mobile_jpki.service.authority import CertificateAuthority, IssueOrder
from mobile_jpki.service.keystore import FileKeyStore
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def openssl_rsa2048_sign_rate(seconds: int) -> float:
    out = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), "rsa2048"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # "rsa 2048 bits 0.000693s 0.000020s   1442.3  49000.1" (sign s, verify s, sign/s, verify/s)
    match = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)", out, re.MULTILINE)
    if match is None:
        sys.exit(f"cannot parse openssl speed output:\n{out}")
    return float(match.group(1))


def _rate(seconds: float, step: Callable[[int], int]) -> float:
    """Certificates per second of ``step(n) -> certificates made``, over ``seconds``."""
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += step(n)
    return n / (time.perf_counter() - start)


def _one_run(args: argparse.Namespace, subject_key: rsa.RSAPublicKey) -> list[tuple[str, float]]:
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    peer = openssl_rsa2048_sign_rate(int(args.seconds))
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        db = Database(settings.effective_database_url)
        db.migrate()
        ca = CertificateAuthority(
            db,
            settings,
            FileKeyStore(Path(tmp), SecretSource("env", "MOBILE_JPKI_BENCH_PASSPHRASE")),
        )
        ca.init_hierarchies(NOW)
        issuer = Issuer(ca.identity("auth-1"), ca.urls)

        def order(n: int) -> IssueOrder:
            return IssueOrder(
                CertKind.PHONE_AUTH, subject_key, f"SVC{n:08d}", NOW, NOW + dt.timedelta(days=365)
            )

        def pure(n: int) -> int:
            serial = new_serial()
            issuer.issue(
                IssuanceRequest(
                    kind=CertKind.PHONE_AUTH,
                    subject_public_key=subject_key,
                    serial=serial,
                    subject_id=f"BENCH{n:08d}",
                    not_before=NOW,
                    not_after=NOW + dt.timedelta(days=365),
                    shard=shard_of(serial, 16),
                )
            )
            return 1

        def single(n: int) -> int:
            ca.issue(order(n), NOW)
            return 1

        def batch(n: int, presign: bool = True) -> int:
            ca.issue_many([order(n + i) for i in range(args.batch)], NOW, presign=presign)
            return int(args.batch)

        rows = [
            (f"load average (1 5 15 min): {load}", 0.0),
            ("openssl speed rsa2048 sign/s", peer),
            ("pure Issuer.issue()", _rate(args.seconds, pure)),
            ("service issue(), 1 per transaction", _rate(args.seconds, single)),
            (f"service issue_many({args.batch}), pre-signed OCSP", _rate(args.seconds, batch)),
            (
                f"service issue_many({args.batch}, presign=False)",
                _rate(args.seconds, lambda n: batch(n, presign=False)),
            ),
        ]
        assert ca.audit.verify().ok
        db.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()

    subject_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    os.environ["MOBILE_JPKI_BENCH_PASSPHRASE"] = "bench-passphrase"
    for run in range(1, args.runs + 1):
        rows = _one_run(args, subject_key)
        print(f"run {run}: {rows[0][0]}")
        peer = rows[1][1]
        print(f"  {rows[1][0]:48s} {peer:9.1f}")
        for name, rate in rows[2:]:
            print(f"  {name:48s} {rate:9.1f}/s  {rate / peer:6.1%} of openssl")


if __name__ == "__main__":
    main()
