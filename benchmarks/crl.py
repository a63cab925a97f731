"""Benchmark: a signed CRL of N entries, mobile-jpki's CA beside ``openssl ca -gencrl``.

    python benchmarks/crl.py --entries 1000000 --out /tmp/crl.der [--peer/--no-peer] [--cli]

Both sides start from their own store of the same N revocations, written before any timing, and
run as child processes measured the same way: wall time around the whole process (interpreter
start-up and imports included), CPU seconds, and peak RSS from ``os.wait4`` (the kernel's
ru_maxrss for that child).

- ours: a data directory made by ``init_data_dir`` (one shard, so one CRL holds all N) whose
  SQLite database holds the N revoked certificates in our schema (``store.models.Certificate``),
  each with its stored CRL entry (``crl_entry``) encoded by ``pki.crl.encode_entry`` as the
  service does when it revokes. The child opens the CA as ``mobile-jpki ca crl`` does
  (``open_ca``: schema revision check, key unlock) and calls ``CertificateAuthority.crl``: the
  service's own query of the stored entries, signature and durable storage of the new CRL
  (a file beside the database, ``service/ca/crl_documents.py``), then writes the DER file.
  ``--cli`` also times the literal
  ``python -m mobile_jpki ca crl``; it runs second, so it republishes over the first CRL, as a
  CA's daily publication does.
  A third child times ``build_crl`` alone, on entries already in memory (``entries=``, the encoder)
  and on stored entries already in memory (``encoded=``, concatenation, hash and signature).
- openssl: the same N entries written as an ``openssl ca`` index.txt with the same reasons,
  invalidity dates and CRL extensions; ``openssl ca -gencrl`` parses it and writes PEM (it has no
  DER output).

Our output is checked with ``openssl crl -inform DER -noout`` against the root.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

# The parent process imports nothing heavy, on purpose: a child's peak RSS (ru_maxrss from
# wait4) starts at its parent's RSS, which Linux carries over exec (measured: `true` spawned by
# a 300 MB Python reports 313 MiB). So the store is written, and everything else is imported,
# in child processes; the parent stays at ~15 MiB for both sides.
from mobile_jpki.pki.revocation import Reason

if TYPE_CHECKING:
    from cryptography import x509

    from mobile_jpki.pki.model import CaIdentity

UTC = dt.UTC
SHARD = 0
CA_ID = "sign-1"  # the signing hierarchy's first generation, as init_data_dir names it
SPAN_SECONDS = 800 * 86_400  # revocations spread over the last ~2 years

# A JPKI-like mix (JPKI-FACTS.md "Revocation reasons used"); affiliationChanged (異動) dominates.
REASONS: list[Reason | None] = [
    Reason.AFFILIATION_CHANGED,
    Reason.AFFILIATION_CHANGED,
    Reason.AFFILIATION_CHANGED,
    Reason.SUPERSEDED,
    Reason.SUPERSEDED,
    Reason.CESSATION_OF_OPERATION,
    Reason.KEY_COMPROMISE,
    Reason.CERTIFICATE_HOLD,
    Reason.UNSPECIFIED,
    None,
]
OPENSSL_REASON = {
    Reason.KEY_COMPROMISE: "keyCompromise",
    Reason.AFFILIATION_CHANGED: "affiliationChanged",
    Reason.SUPERSEDED: "superseded",
    Reason.CESSATION_OF_OPERATION: "cessationOfOperation",
    Reason.CERTIFICATE_HOLD: "certificateHold",
}


def raw_entries(
    n: int, seed: int, end: int
) -> Iterator[tuple[int, int, Reason | None, int | None]]:
    """(serial, revoked unix time, reason, invalidity unix time), revoked before ``end``: the
    same on both sides."""
    rng = random.Random(seed)
    nreasons, month = len(REASONS), 86_400 * 30
    for _ in range(n):
        # One RNG call per entry: the setup should cost little beside what it measures.
        bits = rng.getrandbits(224)
        serial = (bits & ((1 << 127) - 1)) | 1  # 16-octet serials, half need a leading 00
        revoked = end - (bits >> 128) % SPAN_SECONDS
        reason = REASONS[(bits >> 160) % nreasons]
        # invalidityDate only with keyCompromise: the one case openssl ca can express it.
        invalid = revoked - (bits >> 176) % month if reason is Reason.KEY_COMPROMISE else None
        yield serial, revoked, reason, invalid


# --- our store ----------------------------------------------------------------------------------


def make_data_dir(data_dir: Path, n: int, seed: int, now: dt.datetime) -> None:
    """A CA data directory whose database holds N revoked certificates in shard 0.

    One shard (``shard_count=1``) so that a single CRL lists all N, as the openssl side does; a
    real CA of 16 shards reaches 1,000,000 per shard at 16 million revocations. Rows are written
    with the DBAPI in the exact text SQLAlchemy stores for SQLite (its own DateTime bind
    processor): the ORM would take minutes for a million rows and this is setup, not measured.
    The ``der`` column is left empty: the CRL never reads it (openssl's index.txt has no
    certificates either). ``crl_entry`` is written as the service writes it when it revokes
    (``pki.crl.encode_entry``): that encoding is paid once per revocation, not per CRL."""
    from sqlalchemy import DateTime

    from mobile_jpki.pki.crl import encode_entry
    from mobile_jpki.service.ca.bootstrap import init_data_dir, open_ca
    from mobile_jpki.settings import Settings
    from mobile_jpki.store.models import CertRecordStatus, serial_hex

    Settings.model_validate({"data_dir": data_dir, "shard_count": 1}).save()
    settings, _ = init_data_dir(data_dir, now)
    ca = open_ca(settings, migrate=False)
    try:
        dialect = ca.db.engine.dialect
        text = DateTime().dialect_impl(dialect).bind_processor(dialect)
        assert text is not None
        fromts = dt.datetime.fromtimestamp

        def stored(unix: int) -> str:
            return str(text(fromts(unix, UTC).replace(tzinfo=None)))

        not_before = stored(int(now.timestamp()) - 4 * 365 * 86_400)
        not_after = stored(int(now.timestamp()) + 365 * 86_400)
        insert = (
            "INSERT INTO certificate (serial, ca_id, kind, subject_id, not_before, not_after,"
            " shard, der, status, revoked_at, reason, invalidity_date, crl_entry, issued_at)"
            " VALUES (?, ?, 'sign', ?, ?, ?, ?, x'', ?, ?, ?, ?, ?, ?)"
        )
        held, revoked = CertRecordStatus.HELD.value, CertRecordStatus.REVOKED.value
        with ca.db.engine.begin() as conn:
            # Setup only: a page cache that holds the serial index, or random keys go to disk.
            conn.exec_driver_sql("PRAGMA cache_size = -262144")
            batch: list[tuple[object, ...]] = []
            for i, (serial, at, reason, invalid) in enumerate(raw_entries(n, seed, end_of(now))):
                is_hold = reason is Reason.CERTIFICATE_HOLD
                batch.append(
                    (
                        serial_hex(serial),
                        CA_ID,
                        f"h{i}",
                        not_before,
                        not_after,
                        SHARD,
                        held if is_hold else revoked,
                        stored(at),
                        None if reason is None or is_hold else int(reason),
                        None if invalid is None else stored(invalid),
                        # The entry the service stores with the status change (same function).
                        encode_entry(
                            serial,
                            fromts(at, UTC),
                            reason,
                            None if invalid is None else fromts(invalid, UTC),
                        ),
                        not_before,
                    )
                )
                if len(batch) == 50_000:
                    conn.exec_driver_sql(insert, batch)
                    batch.clear()
            if batch:
                conn.exec_driver_sql(insert, batch)
    finally:
        ca.db.dispose()


def end_of(now: dt.datetime) -> int:
    """Revocations end a minute before the CRL is made."""
    return int(now.timestamp()) - 60


def load_ca(data_dir: Path) -> CaIdentity:
    from mobile_jpki.service.ca.bootstrap import open_ca
    from mobile_jpki.settings import Settings

    ca = open_ca(Settings.load(data_dir), migrate=False)
    try:
        return ca.identity(CA_ID)
    finally:
        ca.db.dispose()


# --- children -----------------------------------------------------------------------------------


def child_ours(data_dir: Path, out: Path) -> None:
    """What ``mobile-jpki ca crl --shard 0`` does, without the CLI's imports of every other
    subcommand: open the CA, have the service (re)publish the shard's CRL, write it out."""
    from mobile_jpki.service.ca.bootstrap import open_ca
    from mobile_jpki.settings import Settings

    ca = open_ca(Settings.load(data_dir))
    try:
        start, cpu_start = time.perf_counter(), time.process_time()
        der = ca.crl(CA_ID, SHARD, dt.datetime.now(UTC))
        built, cpu_built = time.perf_counter(), time.process_time()
    finally:
        ca.db.dispose()
    out.write_bytes(der)
    print(
        json.dumps({"build": built - start, "build_cpu": cpu_built - cpu_start, "bytes": len(der)})
    )


def child_encoder(n: int, seed: int, data_dir: Path, end: int) -> None:
    """The encoder alone: entries are materialised first (memory not representative), then only
    build_crl is timed — per entry (RevokedEntry: the form deltas and encode_entry use) and over
    stored entries (the form the service publishes full CRLs from)."""
    from mobile_jpki.pki.crl import CrlScope, build_crl, encode_entry
    from mobile_jpki.pki.model import PublicUrls
    from mobile_jpki.pki.revocation import RevokedEntry

    issuer = load_ca(data_dir)
    now = dt.datetime.now(UTC)
    fromts = dt.datetime.fromtimestamp
    entries = [
        RevokedEntry(
            serial,
            fromts(at, UTC),
            reason,
            None if invalid is None else fromts(invalid, UTC),
        )
        for serial, at, reason, invalid in raw_entries(n, seed, end)
    ]
    urls = PublicUrls("http://127.0.0.1:8000")
    start, cpu_start = time.perf_counter(), time.process_time()
    build_crl(
        issuer=issuer,
        urls=urls,
        entries=entries,
        crl_number=1000,
        this_update=now,
        next_update=now + dt.timedelta(days=1),
        scope=CrlScope.full(SHARD),
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    del entries
    # The stored form the service publishes from: entries encoded at revocation, handed over
    # in joined batches of 10,000 as the service's cursor does.
    blobs = [
        encode_entry(
            serial,
            fromts(at, UTC),
            reason,
            None if invalid is None else fromts(invalid, UTC),
        )
        for serial, at, reason, invalid in raw_entries(n, seed, end)
    ]
    batches = [b"".join(blobs[i : i + 10_000]) for i in range(0, len(blobs), 10_000)]
    del blobs
    start, cpu_start = time.perf_counter(), time.process_time()
    build_crl(
        issuer=issuer,
        urls=urls,
        encoded=batches,
        crl_number=1001,
        this_update=now,
        next_update=now + dt.timedelta(days=1),
        scope=CrlScope.full(SHARD),
    )
    swall, scpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({"encoder": wall, "encoder_cpu": cpu, "stored": swall, "stored_cpu": scpu}))


def child_setup(workdir: Path, n: int, seed: int, now: int, peer: bool) -> None:
    """Both stores, before any timing: our data directory, and openssl's index.txt."""
    from mobile_jpki.settings import Settings

    data_dir = workdir / "data"
    when = dt.datetime.fromtimestamp(now, UTC)
    start = time.perf_counter()
    make_data_dir(data_dir, n, seed, when)
    ours = time.perf_counter() - start
    if peer:
        write_openssl_ca(workdir, data_dir, n, seed, end_of(when))
    settings = Settings.load(data_dir)
    print(
        json.dumps(
            {
                "seconds": ours,
                "root": str(settings.ca_cert_path(CA_ID)),
                "passphrase": str(settings.passphrase_path),
            }
        )
    )


def mark_stale(data_dir: Path) -> None:
    """Make the next request republish the full CRL, as a new revocation would."""
    with sqlite3.connect(data_dir / "mobile-jpki.db") as con:
        con.execute("UPDATE crl_state SET full_dirty = 1")
    con.close()


# --- measuring ----------------------------------------------------------------------------------


def run_measured(args: list[str], cwd: Path | None = None) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS MiB, stdout) of one child process. CPU time (user +
    system) is printed beside wall time because the benchmark machine may be shared."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    stdout = proc.stdout.read()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({proc.returncode}): {stderr.decode(errors='replace')}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024, stdout.decode()


def openssl_time(unix: int, generalized: bool = False) -> str:
    when = dt.datetime.fromtimestamp(unix, UTC)
    return when.strftime("%Y%m%d%H%M%SZ" if generalized else "%y%m%d%H%M%SZ")


def write_openssl_ca(workdir: Path, data_dir: Path, n: int, seed: int, end: int) -> None:
    """An ``openssl ca`` directory with the same CA (certificate, encrypted key and passphrase of
    the data directory), the same N revocations in index.txt and the same CRL extensions."""
    from mobile_jpki.pki.model import PublicUrls
    from mobile_jpki.settings import Settings

    settings = Settings.load(data_dir)
    urls = PublicUrls(settings.base_url)
    expiry = openssl_time(end + 1000 * 86_400)
    with (workdir / "index.txt").open("w") as index:
        for i, (serial, revoked, reason, invalid) in enumerate(raw_entries(n, seed, end)):
            revinfo = openssl_time(revoked)
            if reason is not None and reason is not Reason.UNSPECIFIED:
                revinfo += "," + OPENSSL_REASON[reason]
                if reason is Reason.CERTIFICATE_HOLD:
                    revinfo += ",holdInstructionNone"  # openssl ca requires one
                elif invalid is not None:
                    revinfo += "," + openssl_time(invalid, generalized=True)
            hexserial = f"{serial:X}"
            if len(hexserial) % 2:
                hexserial = "0" + hexserial
            index.write(f"R\t{expiry}\t{revinfo}\t{hexserial}\tunknown\t/C=JP/CN=h{i}\n")
    (workdir / "index.txt.attr").write_text("unique_subject = no\n")
    (workdir / "crlnumber").write_text("1000\n")
    (workdir / "ca.cnf").write_text(
        f"""[ca]
default_ca = CA_default
[CA_default]
database = index.txt
crlnumber = crlnumber
certificate = {settings.ca_cert_path(CA_ID)}
private_key = {settings.ca_key_path(CA_ID)}
default_md = sha256
default_crl_hours = 24
unique_subject = no
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical, @idp
freshestCRL = URI:{urls.delta_crl(CA_ID, SHARD)}
[idp]
fullname = URI:{urls.crl(CA_ID, SHARD)}
onlyuser = TRUE
"""
    )


SAME_ENTRIES_CHECK_MAX = 200_000  # parsing both CRLs entry by entry in Python is slow beyond


def _entry_facts(crl: x509.CertificateRevocationList) -> dict[int, tuple[object, ...]]:
    from cryptography import x509

    facts: dict[int, tuple[object, ...]] = {}
    for revoked in crl:
        exts = {ext.oid: ext.value for ext in revoked.extensions}
        reason = exts.get(x509.oid.CRLEntryExtensionOID.CRL_REASON)
        facts[revoked.serial_number] = (
            revoked.revocation_date_utc,
            reason.reason if isinstance(reason, x509.CRLReason) else None,
        )
    return facts


def same_entries(ours: Path, peer_pem: Path) -> bool:
    """Both tools listed the same revocations. Invalidity dates are not compared: OpenSSL 3.0's
    ``ca -gencrl`` does not write the compromise time of index.txt as invalidityDate (measured),
    so it encodes ~10% fewer entry extensions than we do; it adds holdInstructionCode instead."""
    from cryptography import x509

    mine = _entry_facts(x509.load_der_x509_crl(ours.read_bytes()))
    theirs = _entry_facts(x509.load_pem_x509_crl(peer_pem.read_bytes()))
    return mine == theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=Path("crl.der"))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--peer", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--cli", action="store_true", help="also time the literal `mobile-jpki ca crl`"
    )
    parser.add_argument("--child", choices=["setup", "ours", "encoder"], help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--now", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--end", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child == "setup":
        child_setup(args.workdir, args.entries, args.seed, args.now, args.peer)
        return
    if args.child == "ours":
        child_ours(args.data_dir, args.out)
        return
    if args.child == "encoder":
        child_encoder(args.entries, args.seed, args.data_dir, args.end)
        return

    n, seed = args.entries, args.seed
    with tempfile.TemporaryDirectory(prefix="crl-bench-") as tmp:
        workdir = Path(tmp)
        data_dir = workdir / "data"
        now = dt.datetime.now(UTC)
        me = [sys.executable, str(Path(__file__).resolve())]
        out = args.out.resolve()
        sizes = ["--entries", str(n), "--seed", str(seed), "--now", str(int(now.timestamp()))]
        peer = "--peer" if args.peer else "--no-peer"
        setup = json.loads(
            run_measured([*me, "--child", "setup", "--workdir", str(workdir), *sizes, peer])[3]
        )
        print(
            f"CRL of {n:,} entries (seed {seed}); our store written in {setup['seconds']:.1f} s"
            f" (not timed); load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )

        ours_wall, ours_cpu, ours_rss, ours_out = run_measured(
            [*me, "--child", "ours", "--data-dir", str(data_dir), "--out", str(out)]
        )
        ours = json.loads(ours_out)
        cli = None
        if args.cli:
            mark_stale(data_dir)
            cli_out = workdir / "cli.der"
            cli = run_measured(
                [
                    sys.executable,
                    "-m",
                    "mobile_jpki",
                    "ca",
                    "crl",
                    "--data-dir",
                    str(data_dir),
                    "--ca",
                    CA_ID,
                    "--shard",
                    str(SHARD),
                    "--out",
                    str(cli_out),
                ]
            )
        encoder = json.loads(
            run_measured(
                [
                    *me,
                    "--child",
                    "encoder",
                    "--data-dir",
                    str(data_dir),
                    "--entries",
                    str(n),
                    "--seed",
                    str(seed),
                    "--end",
                    str(end_of(now)),
                ]
            )[3]
        )

        root = setup["root"]
        check = subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-in", str(out), "-noout", "-CAfile", root],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode != 0 or "verify OK" not in check.stdout + check.stderr:
            raise SystemExit(f"openssl crl rejected our CRL: {check.stderr}")

        print(
            "ours (open_ca + CertificateAuthority.crl: the stored entries concatenated, signed,"
            " stored; the service path of `mobile-jpki ca crl`)"
        )
        print(
            f"ours"
            f" written to {out} ({ours['bytes'] / 1e6:.1f} MB DER): `openssl crl -noout` verify OK"
        )
        row = "{:52}{:>8}{:>8}{:>10}"
        print(row.format("", "wall s", "CPU s", "peak MiB"))
        print(
            row.format(
                "mobile-jpki, whole process",  # benchmarks/run reads this line
                f"{ours_wall:.2f}",
                f"{ours_cpu:.2f}",
                f"{ours_rss:.0f}",
            )
        )
        print(
            row.format(
                "  CertificateAuthority.crl (query+encode+sign+store)",
                f"{ours['build']:.2f}",
                f"{ours['build_cpu']:.2f}",
                "",
            )
        )
        if cli is not None:
            print(
                row.format(
                    "`mobile-jpki ca crl` (CLI), whole process",
                    f"{cli[0]:.2f}",
                    f"{cli[1]:.2f}",
                    f"{cli[2]:.0f}",
                )
            )
        print(
            row.format(
                "build_crl(entries=...) alone, in memory",
                f"{encoder['encoder']:.2f}",
                f"{encoder['encoder_cpu']:.2f}",
                "n/a",
            )
        )
        print(
            row.format(
                "build_crl(encoded=...) alone, stored entries in memory",
                f"{encoder['stored']:.2f}",
                f"{encoder['stored_cpu']:.2f}",
                "n/a",
            )
        )
        if not args.peer:
            return

        passphrase = setup["passphrase"]
        ossl_wall, ossl_cpu, ossl_rss, _ = run_measured(
            [
                "openssl",
                "ca",
                "-gencrl",
                "-config",
                "ca.cnf",
                "-out",
                "peer.pem",
                "-batch",
                "-passin",
                f"file:{passphrase}",
            ],
            cwd=workdir,
        )
        peer_size = (workdir / "peer.pem").stat().st_size
        same = same_entries(out, workdir / "peer.pem") if n <= SAME_ENTRIES_CHECK_MAX else None
        print(
            row.format(
                "openssl ca -gencrl, whole process",
                f"{ossl_wall:.2f}",
                f"{ossl_cpu:.2f}",
                f"{ossl_rss:.0f}",
            )
            + f"   ({peer_size / 1e6:.1f} MB PEM)"
        )
        if same is not None:
            print(f"same entries in both CRLs (serial, date, reason): {same}")
        print(
            f"openssl / mobile-jpki, whole process: wall {ossl_wall / ours_wall:.1f}x, "
            f"CPU {ossl_cpu / ours_cpu:.1f}x, peak memory {ossl_rss / ours_rss:.1f}x; "
            f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )


if __name__ == "__main__":
    main()
