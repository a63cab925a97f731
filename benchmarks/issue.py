"""Benchmark: certificates issued per second beside openssl's RSA-2048 sign rate.

    python benchmarks/issue.py [--seconds 3]

Three figures from one run on the same machine:
- ``openssl speed -seconds S rsa2048``: RSA-2048 private-key operations per second (the ceiling:
  every certificate costs one such signature);
- pure ``Issuer.issue()`` (pki.issuance: build + sign one phone user-auth certificate);
- ``CertificateAuthority.issue()`` through the service: serial, certificate, pre-signed OCSP
  response (a second RSA signature), SQLite insert + audit record, one transaction each.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    peer = openssl_rsa2048_sign_rate(int(args.seconds))
    subject_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    os.environ["MOBILE_JPKI_BENCH_PASSPHRASE"] = "bench-passphrase"
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

        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
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
            n += 1
        pure = n / (time.perf_counter() - start)

        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            ca.issue(
                IssueOrder(
                    CertKind.PHONE_AUTH,
                    subject_key,
                    f"SVC{n:08d}",
                    NOW,
                    NOW + dt.timedelta(days=365),
                ),
                NOW,
            )
            n += 1
        service = n / (time.perf_counter() - start)
        assert ca.audit.verify().ok
        db.dispose()
    print(f"openssl speed rsa2048 sign/s:            {peer:9.1f}")
    print(f"pure Issuer.issue() certificates/s:      {pure:9.1f}  ({pure / peer:6.1%} of openssl)")
    print(
        f"service issue (cert+OCSP+DB+audit)/s:    {service:9.1f}  ({service / peer:6.1%};"
        f" {2 * service / peer:6.1%} counted as 2 signatures each)"
    )


if __name__ == "__main__":
    main()
