"""Benchmark: certificates issued per second beside openssl's RSA-2048 sign rate.

    python benchmarks/issue.py [--seconds 3] [--batch 100] [--runs 2] [--threads N]

Figures from one run on the same machine (each run prints the load average before and after:
the machine is shared), every rate also as a share of both openssl figures:
- ``openssl speed -seconds S rsa2048``: RSA-2048 private-key operations per second of ONE
  process — issue 3's definition of the target (every certificate costs at least one such
  signature);
- ``openssl speed -multi N rsa2048``: the same on N processes, the machine's all-core ceiling
  (N = ``--threads``, default ``os.cpu_count()``);
- pure ``Issuer.issue()`` (pki.issuance: build + sign one phone user-auth certificate), in one
  thread and on a signing pool of N threads (cryptography releases the GIL while signing);
- service ``issue()``: serial, certificate, pre-signed OCSP response (a second RSA signature,
  made beside the first on the pool), SQLite insert + audit record, ONE transaction (one
  ``synchronous=FULL`` fsync) per certificate;
- service ``issue_many()`` in batches of ``--batch``, one transaction per batch, signed in one
  thread (``signing_threads=1``) and on the pool (``signing_threads=N``);
- the pre-signed batch again from 2 concurrent callers sharing the pool (a server's request
  threads: one caller's insert and commit overlap the other's signing);
- the same with ``presign=False``: the OCSP response is signed on the first request (or by
  ``presign_pending``), so issuance costs one signature per certificate.

The machine is shared, so the variants compared with each other (1 thread, pool, 2 callers;
openssl 1 process and -multi) are measured in alternating slices rather than one after the
other: a load change then hits both sides of a ratio alike.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.keys.source import SecretSource
from mobile_jpki.pki.issuance import IssuanceRequest, Issuer, new_serial, shard_of
from mobile_jpki.pki.model import CertKind
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.service.keystore import FileKeyStore
from mobile_jpki.service.signing_pool import SigningPool
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def openssl_rsa2048_sign_rate(seconds: int, processes: int = 1) -> float:
    """``openssl speed`` RSA-2048 signatures per second; with ``processes`` > 1 ``-multi``
    sums the rates of that many processes."""
    multi = ["-multi", str(processes)] if processes > 1 else []
    out = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), *multi, "rsa2048"],
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


def _alternated(seconds: float, *steps: Callable[[int], int], slices: int = 3) -> list[float]:
    """The rates of ``steps`` measured in ``slices`` alternating slices each (A B A B ...),
    so a load change on the shared machine hits every variant alike."""
    made = [0] * len(steps)
    spent = [0.0] * len(steps)
    for _ in range(slices):
        for k, step in enumerate(steps):
            n, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / slices:
                n += step(made[k] + n + 1_000_000 * k)
            made[k] += n
            spent[k] += time.perf_counter() - start
    return [m / t for m, t in zip(made, spent, strict=True)]


def _openssl_alternated(seconds: int, processes: int, slices: int = 3) -> tuple[float, float]:
    """openssl speed for 1 process and for ``processes``, alternated like :func:`_alternated`
    (whole seconds per slice: openssl's -seconds is an integer)."""
    each = max(1, round(seconds / slices))
    one, multi = [], []
    for _ in range(slices):
        one.append(openssl_rsa2048_sign_rate(each))
        multi.append(openssl_rsa2048_sign_rate(each, processes))
    return sum(one) / slices, sum(multi) / slices


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _one_run(
    args: argparse.Namespace, subject_key: rsa.RSAPublicKey
) -> tuple[str, list[tuple[str, float]]]:
    load_before = _load()
    peer, peer_multi = _openssl_alternated(int(args.seconds), args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), signing_threads=args.threads)
        db = Database(settings.effective_database_url)
        db.migrate()
        keys = FileKeyStore(Path(tmp), SecretSource("env", "MOBILE_JPKI_BENCH_PASSPHRASE"))
        ca = CertificateAuthority(db, settings, keys)
        ca.init_hierarchies(NOW)
        # The same CA (database, keys) signing in the calling thread only.
        ca_1 = CertificateAuthority(db, settings.model_copy(update={"signing_threads": 1}), keys)
        issuer = Issuer(ca.identity("auth-1"), ca.urls)
        pool = SigningPool(args.threads)

        def order(n: int) -> IssueOrder:
            return IssueOrder(
                CertKind.PHONE_AUTH, subject_key, f"SVC{n:08d}", NOW, NOW + dt.timedelta(days=365)
            )

        def pure_one(n: int) -> None:
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

        def pure(n: int) -> int:
            pure_one(n)
            return 1

        def pure_pool(n: int) -> int:
            pool.run([functools.partial(pure_one, n + i) for i in range(args.batch)])
            return int(args.batch)

        def single(n: int) -> int:
            ca.issue(order(n), NOW)
            return 1

        def batch(authority: CertificateAuthority, presign: bool) -> Callable[[int], int]:
            def step(n: int) -> int:
                orders = [order(n + i) for i in range(args.batch)]
                authority.issue_many(orders, NOW, presign=presign)
                return int(args.batch)

            return step

        def two_callers(n: int) -> int:
            # Two request threads, three batches each: after the first, one caller's insert
            # and commit overlap the other's signing.
            step = batch(ca, True)
            threads = [
                threading.Thread(target=lambda k=k: [step(n + k * 1000 + i * b) for i in range(3)])
                for k in range(2)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return int(6 * b)

        n, b, t = args.threads, args.batch, args.seconds
        # Each pair (or triple) alternated in slices: the same load for both sides.
        pure_1, pure_n = _alternated(2 * t, pure, pure_pool)
        pre_1, pre_n, pre_2 = _alternated(3 * t, batch(ca_1, True), batch(ca, True), two_callers)
        def_1, def_n = _alternated(2 * t, batch(ca_1, False), batch(ca, False))
        # Labels without a suffix are the service's defaults (signing_threads = the cores);
        # benchmarks/run parses "openssl speed rsa2048 sign/s", "pure Issuer.issue()" and
        # "issue_many(100), pre-signed OCSP" followed by the figure.
        rows = [
            ("openssl speed rsa2048 sign/s", peer),
            (f"openssl speed -multi {n} rsa2048 sign/s", peer_multi),
            ("pure Issuer.issue()", pure_1),
            (f"pure Issuer.issue(), pool of {n}", pure_n),
            ("service issue(), 1 per transaction", _rate(t, single)),
            (f"service issue_many({b}), pre-signed OCSP, 1 thread", pre_1),
            (f"service issue_many({b}), pre-signed OCSP", pre_n),
            (f"service issue_many({b}), pre-signed OCSP, 2 callers", pre_2),
            (f"service issue_many({b}, presign=False), 1 thread", def_1),
            (f"service issue_many({b}, presign=False)", def_n),
        ]
        pool.close()
        assert ca.audit.verify().ok
        db.dispose()
    return f"load average (1 5 15 min) before: {load_before}, after: {_load()}", rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=os.cpu_count() or 1, help="signing threads (the pool)"
    )
    args = parser.parse_args()

    subject_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    os.environ["MOBILE_JPKI_BENCH_PASSPHRASE"] = "bench-passphrase"
    print(
        f"CPUs: {os.cpu_count()}; service rows sign on a pool of {args.threads} threads "
        "(signing_threads) unless they say '1 thread'; openssl speed rsa2048 = 1 process"
    )
    for run in range(1, args.runs + 1):
        load, rows = _one_run(args, subject_key)
        print(f"run {run}: {load}")
        peer, peer_multi = rows[0][1], rows[1][1]
        for name, rate in rows[:2]:
            print(f"  {name:52s} {rate:9.1f}/s")
        print(f"  {'':52s} {'':11s} {'of 1 process':>13s} {'of -multi':>10s}")
        for name, rate in rows[2:]:
            print(f"  {name:52s} {rate:9.1f}/s  {rate / peer:12.1%} {rate / peer_multi:10.1%}")


if __name__ == "__main__":
    main()
