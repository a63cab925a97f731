"""Benchmark: a relying party checking one certificate against its shard's CRL of N entries.

    python benchmarks/verify_crl.py --entries 300000

Prints, from one run on the same CRL (median of --repeat runs each):
- ours: :func:`mobile_jpki.verify.crl_check.verify_crls` (parse, issuer/AKI/IDP/freshness
  checks, signature over the received tbsCertList bytes, serial lookup);
- cryptography: ``load_der_x509_crl`` + ``is_signature_valid`` + serial lookup (what the kit did
  before: ``is_signature_valid`` re-encodes the whole list first);
- openssl: ``openssl crl -inform DER -CAfile root.pem -noout`` (signature check only, as a child
  process, so it includes process start-up).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.pki.crl import CrlScope, build_crl
from mobile_jpki.pki.identity import BasicFourFacts, Locality, Sex
from mobile_jpki.pki.issuance import IssuanceRequest, Issuer, build_root
from mobile_jpki.pki.model import CaIdentity, CertKind, Hierarchy, PublicUrls
from mobile_jpki.pki.revocation import Reason, RevokedEntry
from mobile_jpki.verify.crl_check import verify_crls

NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
URLS = PublicUrls("http://127.0.0.1:8000")


def median_time(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=300_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = build_root(
        hierarchy=Hierarchy.SIGN,
        generation=1,
        key=key,
        not_before=NOW - dt.timedelta(days=1),
        not_after=NOW + dt.timedelta(days=3650),
        urls=URLS,
    )
    ca = CaIdentity(CaIdentity.make_id(Hierarchy.SIGN, 1), Hierarchy.SIGN, 1, root, key)
    facts = BasicFourFacts.create(
        family_name="番号",
        given_name="花子",
        sex=Sex.FEMALE,
        date_of_birth=dt.date(1990, 5, 1),
        address="東京都千代田区永田町一丁目７番１号",
    )
    cert = Issuer(ca, URLS).issue(
        IssuanceRequest(
            kind=CertKind.PHONE_SIGN,
            subject_public_key=key.public_key(),
            serial=7,
            subject_id="BENCH",
            not_before=NOW - dt.timedelta(days=1),
            not_after=NOW + dt.timedelta(days=30),
            shard=0,
            facts=facts,
            locality=Locality("Tokyo", "Chiyoda-ku"),
        )
    )
    entries = (
        RevokedEntry(1_000_000 + i, NOW - dt.timedelta(hours=1), Reason.AFFILIATION_CHANGED)
        for i in range(args.entries)
    )
    der = build_crl(
        issuer=ca,
        urls=URLS,
        entries=entries,
        crl_number=2,
        this_update=NOW,
        next_update=NOW + dt.timedelta(days=1),
        scope=CrlScope.full(0),
    )

    def ours() -> None:
        verify_crls(cert, root, der, now=NOW)

    def peer() -> None:
        crl = x509.load_der_x509_crl(der)
        assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
        crl.get_revoked_certificate_by_serial_number(cert.serial_number)

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "crl.der").write_bytes(der)
        (Path(tmp) / "root.pem").write_bytes(root.public_bytes(serialization.Encoding.PEM))

        def openssl() -> None:
            subprocess.run(
                [
                    "openssl",
                    "crl",
                    "-inform",
                    "DER",
                    "-in",
                    f"{tmp}/crl.der",
                    "-CAfile",
                    f"{tmp}/root.pem",
                    "-noout",
                ],
                check=True,
                capture_output=True,
            )

        t_openssl = median_time(openssl, args.repeat)
    t_ours = median_time(ours, args.repeat)
    t_peer = median_time(peer, args.repeat)
    print(f"CRL: {args.entries} entries, {len(der) / 1e6:.1f} MB; median of {args.repeat}")
    print(f"ours (verify_crls, full check + lookup):        {t_ours:8.3f} s")
    print(f"cryptography (is_signature_valid + lookup):     {t_peer:8.3f} s")
    print(f"openssl crl -CAfile (signature only, process):  {t_openssl:8.3f} s")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
