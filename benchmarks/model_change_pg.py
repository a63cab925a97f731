"""Model changes per second on PostgreSQL with one and two ``serve`` processes, and the service
CPU per model change on PostgreSQL beside SQLite's, from one run (issue 19 §6).

Part 1, real ``python -m mobile_jpki serve`` processes (tests/stress/stress_harness.py): a data
directory on SQLite and one on PostgreSQL; through HTTP, P persons each with a card, a
registered old phone and a new phone whose card-signed model-change application is pre-built
(not timed). Timed: K client threads (``--clients``) POST the applications, spread over the
processes' ports, until every one is issued (``ready`` in the database, polled every 20 ms).
Configurations: SQLite with one process (the peer), PostgreSQL with one process, PostgreSQL
with two processes on one data directory and one database (each with its own P persons).
Service CPU: the serve processes' CPU time (utime + stime from /proc, every thread) per model
change; beside it the local PostgreSQL server's (every ``postgres`` process).

Part 2, where the difference comes from (only when PostgreSQL's service CPU is over 1.5x
SQLite's, or with ``--breakdown``): the in-process harness of benchmarks/model_change.py
(sequential: every apply, then run_jobs) on both engines with SQLAlchemy's
``before_cursor_execute``, ``begin``, ``commit`` and ``rollback`` events counted: statements
per model change by verb, transactions, and round trips (each execute is one on PostgreSQL; a
transaction adds its BEGIN and its COMMIT; SQLite has none: it is a library call).

    MOBILE_JPKI_BENCH_POSTGRES_URL=postgresql+psycopg://u:p@localhost/db \
        python benchmarks/model_change_pg.py [--persons 20] [--clients 4] [--breakdown]

The PostgreSQL database is emptied (DROP SCHEMA public CASCADE) first. The pre-built
applications carry a nonce valid 10 minutes: keep ``--persons`` such that the set-up and the
three runs fit in it (20 persons take about 2 minutes on a busy 2-core machine).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import bindparam, event, text

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the stress tests' harness: real serve processes

import model_change as mc  # noqa: E402  (benchmarks/model_change.py, this directory)

from mobile_jpki.phone.client import PortalClient  # noqa: E402
from mobile_jpki.store.db import Database  # noqa: E402
from stress.stress_harness import (  # noqa: E402
    BOTH,
    CARD_PASSWORD,
    PHONE_PASSWORD,
    PHONE_PIN,
    Deployment,
    Serve,
    first_phone,
    free_port,
    make_deployment,
    new_phone,
    new_resident,
)

FACTOR = 1.5  # issue 19: explain PostgreSQL's CPU where it passes 1.5x SQLite's


@dataclass(frozen=True)
class Prepared:
    device_id: str
    credential: str
    cms: bytes


@dataclass(frozen=True)
class Run:
    label: str
    n: int
    seconds: float
    service_ms: float  # serve processes' CPU per model change
    server_ms: float | None  # local PostgreSQL server's CPU per model change

    @property
    def rate(self) -> float:
        return self.n / self.seconds


def _group_cpu(pgids: list[int]) -> float:
    """CPU seconds (utime + stime, proc(5)) of every process in the process groups ``pgids``:
    a serve process and, with ``--workers``, uvicorn's children."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            rest = stat.read_text().rpartition(") ")[2].split()
        except OSError:  # ended meanwhile
            continue
        if int(rest[2]) in pgids:  # field 5, pgrp
            ticks += int(rest[11]) + int(rest[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def prepare(dep: Deployment, persons: int, tag: str) -> list[Prepared]:
    """Through the running serve: ``persons`` persons with a card and a registered old phone,
    and a new phone's pre-built model-change application each."""
    out = []
    with dep.client(timeout=60) as http:
        for i in range(persons):
            resident = new_resident(dep, http, f"{tag}{i}")
            first_phone(dep, http, resident, f"{tag}{i}-old")
            new = new_phone(dep, http, f"{tag}{i}-new")
            cms = new.prepare_application(
                resident.card,
                card_password=CARD_PASSWORD,
                certificates=BOTH,
                sign_password=PHONE_PASSWORD,
                auth_pin=PHONE_PIN,
                model_change=True,
                consent=True,
            )
            assert new.device_id is not None and new.api.credential is not None
            out.append(Prepared(new.device_id, new.api.credential, cms))
    return out


def _ready(db: Database, devices: list[str]) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM portal_application"
                    " WHERE status = 'ready' AND device_id IN :devices"
                ).bindparams(bindparam("devices", expanding=True)),
                {"devices": devices},
            ).scalar_one()
        )


def timed(
    label: str, dep: Deployment, serves: list[Serve], apps: list[Prepared], clients: int
) -> Run:
    """``clients`` threads POST ``apps`` (round robin over the serves' ports) until every
    model change is issued."""
    db = dep.database()
    url = dep.settings.effective_database_url
    pgids = [s.proc.pid for s in serves if s.proc is not None]
    queue = list(enumerate(apps))
    lock = threading.Lock()
    https = [httpx.Client(base_url=s.url, timeout=120) for s in serves]

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                i, app = queue.pop()
            PortalClient(https[i % len(https)], credential=app.credential).apply(app.cms)

    devices = [a.device_id for a in apps]
    try:
        server = mc._server_cpu_seconds(url)
        cpu = _group_cpu(pgids)
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            for future in [pool.submit(client) for _ in range(clients)]:
                future.result()
        deadline = time.monotonic() + 300
        while _ready(db, devices) < len(apps):
            if time.monotonic() > deadline:
                raise SystemExit(f"{label}: not every model change was issued in 300 s")
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        cpu = _group_cpu(pgids) - cpu
        server_after = mc._server_cpu_seconds(url)
    finally:
        for http in https:
            http.close()
        db.dispose()
    n = len(apps)
    server_ms = (
        None if server is None or server_after is None else 1000 * (server_after - server) / n
    )
    return Run(label, n, seconds, 1000 * cpu / n, server_ms)


def processes(pg_url: str, persons: int, clients: int, tmp: Path) -> list[Run]:
    runs = []
    sqlite = make_deployment(tmp / "sqlite")
    sqlite.serve.start()
    try:
        apps = prepare(sqlite, persons, "s")
        runs.append(timed("SQLite, 1 serve", sqlite, [sqlite.serve], apps, clients))
    finally:
        sqlite.serve.stop()
    pg = make_deployment(tmp / "pg", database_url=pg_url)
    second = Serve(pg.data_dir, free_port(), pg_url)  # ONE data dir, ONE database
    pg.serve.start()
    try:
        apps = prepare(pg, 2 * persons, "p")
        runs.append(timed("PostgreSQL, 1 serve", pg, [pg.serve], apps[:persons], clients))
        second.start()
        try:
            both = [pg.serve, second]
            runs.append(timed("PostgreSQL, 2 serve", pg, both, apps[persons:], clients))
        finally:
            second.stop()
    finally:
        pg.serve.stop()
    return runs


# --- part 2: statements and round trips --------------------------------------------------------
@dataclass
class Counts:
    verbs: dict[str, int]
    begins: int = 0
    commits: int = 0
    rollbacks: int = 0
    executemany: int = 0
    notify: int = 0

    @property
    def statements(self) -> int:
        return sum(self.verbs.values())


@contextmanager
def counting(db: Database) -> Iterator[Counts]:
    counts = Counts({})
    engine = db.engine

    def on_execute(
        _c: object, _cur: object, statement: str, _p: object, _ctx: object, many: bool
    ) -> None:
        if mc._TIMING_ON[0]:
            verb = statement.lstrip().split(None, 1)[0].upper()
            counts.verbs[verb] = counts.verbs.get(verb, 0) + 1
            counts.executemany += many
            counts.notify += "pg_notify" in statement

    def on(name: str) -> Callable[..., None]:
        def bump(*_a: object) -> None:
            if mc._TIMING_ON[0]:
                setattr(counts, name, getattr(counts, name) + 1)

        return bump

    hooks = [
        ("before_cursor_execute", on_execute),
        ("begin", on("begins")),
        ("commit", on("commits")),
        ("rollback", on("rollbacks")),
    ]
    for name, fn in hooks:
        event.listen(engine, name, fn)
    try:
        yield counts
    finally:
        for name, fn in hooks:
            event.remove(engine, name, fn)


def statements(pg_url: str, persons: int, tmp: Path) -> list[tuple[str, mc.Figure, Counts]]:
    """The in-process harness (benchmarks/model_change.py, sequential) on both engines, with
    every statement counted."""
    out = []
    # The store then runs every write through SQLAlchemy (store/direct.py), so it is counted.
    mc.BREAKDOWN[0] = True
    for name, url in (("SQLite", f"sqlite:///{tmp / 'count.db'}"), ("PostgreSQL", pg_url)):
        bench = mc.setup(url, persons, tmp)
        with counting(bench.db) as counts:
            fig = mc.sequential(bench, bench.prepared)
        bench.db.dispose()
        out.append((name, fig, counts))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20, help="model changes per figure")
    parser.add_argument("--clients", type=int, default=4, help="client threads")
    parser.add_argument("--breakdown", action="store_true", help="count statements always")
    args = parser.parse_args()
    pg_url = os.environ.get("MOBILE_JPKI_BENCH_POSTGRES_URL") or os.environ.get(
        "MOBILE_JPKI_TEST_POSTGRES_URL"
    )
    if not pg_url:
        raise SystemExit("set MOBILE_JPKI_BENCH_POSTGRES_URL (a database this run may empty)")
    print("load average (1 5 15 min): " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    with tempfile.TemporaryDirectory() as tmp:
        runs = processes(pg_url, args.persons, args.clients, Path(tmp))
    peer = runs[0]
    print(f"\n{args.persons} model changes per figure, {args.clients} client threads over HTTP")
    print("| configuration | model changes/s | service CPU ms | PostgreSQL server CPU ms |"
          " peer (SQLite, 1 serve) | rate/peer | service CPU/peer |")  # fmt: skip
    print("|---|---:|---:|---:|---|---:|---:|")
    for r in runs:
        server = "-" if r.server_ms is None else f"{r.server_ms:.1f}"
        print(f"| {r.label} | {r.rate:.1f} | {r.service_ms:.1f} | {server} |"
              f" {peer.rate:.1f}/s, {peer.service_ms:.1f} ms |"
              f" {r.rate / peer.rate:.2f}x | {r.service_ms / peer.service_ms:.2f}x |")  # fmt: skip
    worst = max(r.service_ms for r in runs[1:]) / peer.service_ms
    if worst <= FACTOR and not args.breakdown:
        print(f"\nPostgreSQL's service CPU is within {FACTOR}x SQLite's: no breakdown")
        return
    print(f"\nwhere the difference comes from (in-process, sequential, {args.persons} model"
          " changes, every statement counted):")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        counted = statements(pg_url, args.persons, Path(tmp))
    n = args.persons
    print("| engine | CPU ms | statements | by verb | transactions | executemany |"
          " pg_notify | round trips |")  # fmt: skip
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    for name, fig, c in counted:
        verbs = ", ".join(f"{k} {v / n:.1f}" for k, v in sorted(c.verbs.items()))
        trips = (
            "-"
            if name == "SQLite"
            else f"{(c.statements + c.begins + c.commits + c.rollbacks) / n:.1f}"
        )
        print(f"| {name} | {fig.cpu_ms:.1f} | {c.statements / n:.1f} | {verbs} |"
              f" {c.commits / n:.1f} (+{c.rollbacks / n:.1f} rolled back) |"
              f" {c.executemany / n:.1f} | {c.notify / n:.1f} | {trips} |")  # fmt: skip


if __name__ == "__main__":
    main()
