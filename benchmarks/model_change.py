"""Model changes per second handled by the portal service, beside the RSA ceiling.

Each model change costs the service six RSA-2048 signatures: two new phone certificates, their
two pre-signed OCSP "good" answers, and the re-signed OCSP answers of the old phone's two
revoked certificates. The ceiling is this process's RSA-2048 signing rate (cryptography,
measured in the same run) divided by six. Target: at least 50% of it.

Set-up (not timed): P persons, each with a card personalised through APDUs and a registered
phone; then a new phone per person whose card-signed application is PRE-BUILT (the app's work:
card read, key generation in the element, CMS). Timed: the service accepting every
application (CMS, card chain and status, nonce, attestation, consent, audit) and the worker
issuing each (revoke old + issue new + instruction + outbox + audit), in two ways on the same
database, each with its own P persons:

- sequential: every ``apply``, then ``run_jobs`` (nothing overlaps: the sum of the parts);
- served: as ``mobile-jpki serve`` runs under load: K client threads (``--clients``) submit
  the applications side by side (uvicorn's thread pool runs the sync endpoints the same way)
  while the worker loop of ``serve`` (``api.portal.run_worker``, woken by each committed
  application) issues them; timed until every model change is issued.

Beside each rate: the process CPU time per model change (every thread: the Python work, the
signatures and the sqlite steps), which moves less with the load than the wall time. Under it:
the CPU bound, the most model changes per second this machine's cores could give at that CPU
time (plus a local PostgreSQL server's, read from /proc) were every core busy all the time;
whatever the concurrency, a figure cannot pass it, so the target needs it well above 50 %.

    python benchmarks/model_change.py [--persons 40] [--clients 4]
    MOBILE_JPKI_BENCH_POSTGRES_URL=postgresql+psycopg://u:p@localhost/db \
        python benchmarks/model_change.py [--breakdown]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import itertools
import os
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import bindparam, event, text
from sqlalchemy.engine import make_url

from mobile_jpki.api.app import create_app
from mobile_jpki.api.portal import PortalContext, install, run_worker
from mobile_jpki.applet import Manufacturer
from mobile_jpki.applet.factory import new_card, new_secure_element
from mobile_jpki.applet.state import MemoryStateStore
from mobile_jpki.clock import FixedClock
from mobile_jpki.phone.client import OperatorClient, PortalClient
from mobile_jpki.phone.office import issue_card
from mobile_jpki.phone.steps import ScriptedPhone
from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.service.portal.cms import CmsDocumentVerifier, cms_document_signer
from mobile_jpki.service.portal.service import PortalConfig, PortalService
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database

SIGNATURES_PER_MODEL_CHANGE = 6
TIMING: dict[str, list[float]] = {}
_TIMING_ON = [False]
BREAKDOWN = [False]  # --breakdown
# SQL statements executed during the timed section, by their first word (--breakdown).
STATEMENTS: dict[str, int] = {}


def _timed(owner: type | ModuleType, name: str) -> None:
    """Wrap ``owner.name`` (a class's method or a module's function) to add its wall time to
    TIMING while the timed section runs."""
    inner = getattr(owner, name)
    label = f"{owner.__name__.rsplit('.', 1)[-1]}.{name}"  # "PortalService.apply", "jobs._issue"

    def wrapper(*args: object, **kwargs: object) -> object:
        if not _TIMING_ON[0]:
            return inner(*args, **kwargs)
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            TIMING.setdefault(label, []).append(time.perf_counter() - start)

    setattr(owner, name, wrapper)


BOTH = (Hierarchy.SIGN, Hierarchy.AUTH)
CARD_PW, OLD_PW, NEW_PW = "CARD1234", "PHONE123", "PHONE456"
_POOL = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(16)]
_KEYS = itertools.cycle(_POOL)
_SERIALS = itertools.count(1)


def pooled() -> rsa.RSAPrivateKey:
    return next(_KEYS)


class PooledKeyStore:
    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPrivateKey] = {}

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        key = pooled()
        self._keys[name] = key
        return key, name

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        return self._keys[key_ref]


def rsa_sign_rate(seconds: float = 3.0, threads: int = 1) -> float:
    """RSA-2048 PKCS#1 v1.5 signatures per second, by ``threads`` threads signing side by side
    (cryptography releases the GIL while it signs, so threads use every core)."""
    data = b"x" * 64
    deadline = time.perf_counter() + seconds

    def sign(key: rsa.RSAPrivateKey) -> int:
        n = 0
        while time.perf_counter() < deadline:
            key.sign(data, padding.PKCS1v15(), hashes.SHA256())
            n += 1
        return n

    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(sign, _POOL[:threads]))
    return total / (time.perf_counter() - start)


@dataclass
class Bench:
    """A database with persons whose model-change applications are pre-built."""

    db: Database
    service: PortalService
    ctx: PortalContext
    clock: FixedClock
    prepared: list[tuple[str, bytes]]


@dataclass(frozen=True)
class Figure:
    rate: float  # model changes per second
    seconds: float
    cpu_ms: float  # process CPU time per model change, every thread
    # The PostgreSQL server's CPU time per model change (all its processes), when it runs on
    # this machine; None for SQLite, or a server this process cannot see.
    server_cpu_ms: float | None = None

    def bound(self, cores: int) -> float:
        """The most model changes per second ``cores`` cores could give at this CPU time per
        model change (the service's and a local database server's), were every core busy."""
        return cores * 1000 / (self.cpu_ms + (self.server_cpu_ms or 0.0))


_LOCAL_HOSTS = (None, "", "localhost", "127.0.0.1", "::1")


def _server_cpu_seconds(url: str) -> float | None:
    """CPU seconds used so far by the local PostgreSQL server's processes (Linux /proc), or
    None: SQLite, a remote server, or no /proc. A backend that exits between two readings
    takes its time with it: the server's share can only be under-counted."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or parsed.host not in _LOCAL_HOSTS:
        return None
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        return None
    ticks = 0
    for stat in proc.glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(" (")[2].rpartition(") ")
        except OSError:  # the process ended meanwhile
            continue
        if name == "postgres":
            fields = rest.split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def setup(url: str, persons: int, data_dir: Path) -> Bench:
    """``persons`` persons on ``url``, each with a card, a registered phone and a new phone
    whose model-change application is pre-built."""
    db = Database(url)
    if not db.is_sqlite:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.migrate()

    if BREAKDOWN[0]:
        # Only when asked: with a statement listener the store runs every write through
        # SQLAlchemy's Connection.execute (store/direct.py), so the breakdown's run counts
        # every statement and is slower than the plain one.
        @event.listens_for(db.engine, "before_cursor_execute")
        def _count(_c: object, _cur: object, statement: str, *_rest: object) -> None:
            if _TIMING_ON[0]:
                verb = statement.lstrip().split(None, 1)[0].upper()
                STATEMENTS[verb] = STATEMENTS.get(verb, 0) + 1

    clock = FixedClock(dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC))
    ca = CertificateAuthority(db, Settings(data_dir=data_dir, shard_count=16), PooledKeyStore())
    ca.init_hierarchies(clock.now())
    maker = Manufacturer.create(key=ec.generate_private_key(ec.SECP256R1()), now=clock.now())
    service = PortalService(
        db,
        authority=ca,
        verifier=CmsDocumentVerifier(),
        instruction_key=ec.generate_private_key(ec.SECP256R1()),
        manufacturer_roots=[maker.root],
        config=PortalConfig(applications_per_card=1000),
    )
    ctx = PortalContext(service=service, clock=clock)
    app = create_app(ca, clock=clock)
    install(app, ctx)
    _, key = service.create_api_key(name="bench", role="office", now=clock.now())
    signer = cms_document_signer(clock)
    issuer_key = ec.generate_private_key(ec.SECP256R1())

    def serial() -> bytes:
        return next(_SERIALS).to_bytes(4, "big") + os.urandom(12)

    def phone(http: httpx.Client) -> ScriptedPhone:
        att = ec.generate_private_key(ec.SECP256R1())
        s = serial()
        cert = maker.attest(element_key=att.public_key(), serial=s, now=clock.now())
        applet = new_secure_element(
            s, MemoryStateStore(), att, cert, clock=clock, key_factory=pooled, kdf_iterations=10
        )
        p = ScriptedPhone(
            PortalClient(http), JpkiClient(InProcessConnection(applet)), signer, clock
        )
        p.enrol(push_channel="inprocess")
        return p

    prepared: list[tuple[str, bytes]] = []
    with in_process_client(app) as http:
        operator = OperatorClient(http, key)
        for i in range(persons):
            pid = operator.register_person(
                family_name="試験",
                given_name=f"{i}",
                sex="female",
                date_of_birth="1990-04-01",
                address="東京都千代田区永田町一丁目",
                prefecture_romaji="Tokyo",
                city_romaji="Chiyoda-ku",
            )
            card = JpkiClient(
                InProcessConnection(
                    new_card(
                        serial(),
                        MemoryStateStore(),
                        clock=clock,
                        key_factory=pooled,
                        kdf_iterations=10,
                    )
                )
            )
            issue_card(
                operator,
                PortalClient(http),
                card,
                person_id=pid,
                expires_at=clock.now() + dt.timedelta(days=3650),
                sign_password=CARD_PW,
                auth_pin="1234",
                card_instruction_key=issuer_key.public_key(),
            )
            old = phone(http)
            old.apply(
                card,
                card_password=CARD_PW,
                certificates=BOTH,
                sign_password=OLD_PW,
                auth_pin="1234",
            )
            service.run_jobs(now=clock.now())
            new = phone(http)
            assert new.device_id is not None
            cms = new.prepare_application(
                card,
                card_password=CARD_PW,
                certificates=BOTH,
                sign_password=NEW_PW,
                auth_pin="5678",
                model_change=True,
                consent=True,
            )
            prepared.append((new.device_id, cms))
    return Bench(db, service, ctx, clock, prepared)


def _ready(bench: Bench, apps: list[tuple[str, bytes]]) -> int:
    """How many of ``apps`` were issued (application ``ready``)."""
    devices = [device_id for device_id, _ in apps]
    with bench.db.transaction(write=False) as s:
        return int(
            s.scalar(
                text(
                    "SELECT count(*) FROM portal_application"
                    " WHERE status = 'ready' AND device_id IN :devices"
                ).bindparams(bindparam("devices", expanding=True)),
                {"devices": devices},
            )
            or 0
        )


def _timed_section(bench: Bench, apps: list[tuple[str, bytes]], body: Callable[[], None]) -> Figure:
    TIMING.clear()
    STATEMENTS.clear()
    _TIMING_ON[0] = True
    server = _server_cpu_seconds(bench.db.url)
    cpu = time.process_time()
    start = time.perf_counter()
    body()
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    server_after = _server_cpu_seconds(bench.db.url)
    _TIMING_ON[0] = False
    done = _ready(bench, apps)
    if done != len(apps):
        raise SystemExit(f"only {done} of {len(apps)} model changes completed")
    n = len(apps)
    server_ms = (
        None if server is None or server_after is None else 1000 * (server_after - server) / n
    )
    return Figure(n / elapsed, elapsed, 1000 * cpu / n, server_ms)


def sequential(bench: Bench, apps: list[tuple[str, bytes]]) -> Figure:
    """Every application, then every job: one thread, nothing overlapping."""

    def body() -> None:
        for device_id, cms in apps:
            bench.service.apply(device_id, cms, now=bench.clock.now())
        bench.service.run_jobs(now=bench.clock.now(), limit=len(apps) + 1)

    return _timed_section(bench, apps, body)


def served(bench: Bench, apps: list[tuple[str, bytes]], clients: int) -> Figure:
    """``clients`` threads submitting the applications side by side while ``serve``'s worker
    loop issues them; until every one is issued."""
    issued = [0]
    all_issued = threading.Event()
    work_once = bench.ctx.work_once

    def counting_pass() -> tuple[int, int]:
        jobs, pushed = work_once()
        issued[0] += jobs
        if issued[0] >= len(apps):
            all_issued.set()
        return jobs, pushed

    bench.ctx.work_once = counting_pass  # type: ignore[method-assign]
    queue = list(reversed(apps))
    lock = threading.Lock()

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                device_id, cms = queue.pop()
            bench.service.apply(device_id, cms, now=bench.clock.now())

    def body() -> None:
        stop = threading.Event()
        worker = threading.Thread(target=run_worker, args=(bench.ctx, stop))
        worker.start()
        try:
            with ThreadPoolExecutor(clients) as pool:
                for future in [pool.submit(client) for _ in range(clients)]:
                    future.result()
            if not all_issued.wait(timeout=120):
                raise SystemExit("the worker did not issue every model change in 120 s")
        finally:
            stop.set()
            bench.service.wake()
            worker.join()

    try:
        return _timed_section(bench, apps, body)
    finally:
        bench.ctx.work_once = work_once  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=100, help="model changes per figure")
    parser.add_argument("--clients", type=int, default=4, help="client threads (served)")
    parser.add_argument("--breakdown", action="store_true", help="where the time goes")
    args = parser.parse_args()
    if args.breakdown:
        BREAKDOWN[0] = True
        from mobile_jpki.pki import ocsp
        from mobile_jpki.service.audit import AuditLog
        from mobile_jpki.service.portal.cms import CmsDocumentVerifier as Verifier
        from mobile_jpki.service.signing_pool import SignedWrites

        for name in ("issue", "issue_many", "issue_later", "revoke", "revoke_many"):
            _timed(CertificateAuthority, name)
        # A job batch's end: waiting for the signatures still under way, then their rows.
        _timed(SignedWrites, "finish")
        _timed(AuditLog, "append_many")
        _timed(Verifier, "verify")
        from mobile_jpki.service.portal import jobs

        _timed(PortalService, "apply")
        # The model-change transaction; jobs' batches call it through the module's global.
        _timed(jobs, "_issue")
        ocsp_build = ocsp.build_response

        def build(*a: object, **k: object) -> bytes:
            start = time.perf_counter()
            try:
                return ocsp_build(*a, **k)  # type: ignore[arg-type]
            finally:
                if _TIMING_ON[0]:
                    TIMING.setdefault("ocsp.build_response", []).append(time.perf_counter() - start)

        # The module the CA calls it through (service/ca/responses.py imports pki.ocsp).
        ocsp.build_response = build
    # The machine is shared: every figure below is read beside the load it ran under.
    print("load average (1 5 15 min): " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    per = SIGNATURES_PER_MODEL_CHANGE
    cores = os.cpu_count() or 1
    sign_rate = rsa_sign_rate()
    ceiling = sign_rate / per
    print(f"RSA-2048 sign rate (cryptography, 1 thread): {sign_rate:8.1f} /s")
    print(f"ceiling: {per} signatures per model change  -> {ceiling:8.1f} model changes/s")
    # The issue's ceiling is the one-thread rate above; the CA signs on a thread pool, so the
    # ceiling with every core busy signing is printed too, measured the same way.
    all_rate = rsa_sign_rate(threads=cores)
    all_ceiling = all_rate / per
    print(f"RSA-2048 sign rate ({cores} threads, all cores): {all_rate:8.1f} /s")
    print(f"ceiling with all cores: {per} signatures  -> {all_ceiling:8.1f} model changes/s")
    targets: list[tuple[str, str | None]] = [("SQLite", None)]
    pg = os.environ.get("MOBILE_JPKI_BENCH_POSTGRES_URL") or os.environ.get(
        "MOBILE_JPKI_TEST_POSTGRES_URL"
    )
    targets.append(("PostgreSQL", pg))
    for name, url in targets:
        with tempfile.TemporaryDirectory() as tmp:
            if name == "SQLite":
                url = f"sqlite:///{Path(tmp) / 'bench.db'}"
            if url is None:
                print(f"{name:10s}: skipped (set MOBILE_JPKI_BENCH_POSTGRES_URL)")
                continue
            n = args.persons
            bench = setup(url, 2 * n, Path(tmp))
            runs: list[tuple[str, Callable[[], Figure]]] = [
                ("sequential", functools.partial(sequential, bench, bench.prepared[:n])),
                (
                    f"served, {args.clients} clients",
                    functools.partial(served, bench, bench.prepared[n:], args.clients),
                ),
            ]
            for label, measure in runs:
                # The machine is shared and its speed drifts (the RSA rate moves by 10-20 %
                # between runs): each figure is read against the ceiling measured just before
                # and just after it, and the all-core ceiling scaled alike.
                before = rsa_sign_rate(seconds=1.0)
                fig = measure()
                now = (before + rsa_sign_rate(seconds=1.0)) / 2 / per
                all_now = all_ceiling * now / ceiling
                print(f"{name:10s} {label:18s}: {fig.rate:6.1f} model changes/s ({n} in"
                      f" {fig.seconds:.2f} s, CPU {fig.cpu_ms:5.1f} ms each)"
                      f" = {100 * fig.rate / now:5.1f}% of the ceiling ({now:.1f}/s beside it),"
                      f" {100 * fig.rate / all_now:5.1f}% of the all-core ceiling")  # fmt: skip
                # What the machine allows at this CPU per model change, whatever the
                # concurrency: the target needs this bound well above 50 % of the ceiling.
                server = (
                    ""
                    if fig.server_cpu_ms is None
                    else f" + PostgreSQL server {fig.server_cpu_ms:.1f} ms"
                )
                print(f"{'':10s} {'':18s}  CPU bound on {cores} cores: {fig.cpu_ms:.1f} ms"
                      f"{server} per model change -> at most {fig.bound(cores):6.1f}/s"
                      f" = {100 * fig.bound(cores) / now:5.1f}% of the ceiling")  # fmt: skip
                if args.breakdown:
                    _print_breakdown(n)
            bench.db.dispose()


def _print_breakdown(n: int) -> None:
    """Where the time went (wall time of each call, nested; in the served run, calls on
    different threads overlap; ``ocsp.build_response`` runs on the signing threads too, so
    it overlaps the job's own work) and the statements."""
    for key, values in sorted(TIMING.items(), key=lambda kv: -sum(kv[1])):
        ms = 1000 * sum(values) / n
        print(f"    {key:34s} {len(values) / n:4.1f} calls, {ms:7.1f} ms per model change")
    total = sum(STATEMENTS.values())
    verbs = ", ".join(f"{k} {v / n:.1f}" for k, v in sorted(STATEMENTS.items()))
    print(f"    SQL statements per model change: {total / n:.1f} ({verbs})")


if __name__ == "__main__":
    main()
