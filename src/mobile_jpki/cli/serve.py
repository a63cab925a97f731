"""``mobile-jpki serve``: the HTTP service (front page, OCSP, CRLs, TSA, portal and, with
``--simulator``, the phone simulator sandbox) under uvicorn.

Exit codes: 0 normal shutdown; 2 a bad option value (--max-body, --simulator with
several workers); 5 data directory or database problem, or this host's keys are missing or
not the ones the database records (docs/deploy.md).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from mobile_jpki.api.access_log import ACCESS_LOG_ENV
from mobile_jpki.api.app import DATA_DIR_ENV, DATABASE_URL_ENV, SIMULATOR_ON_ENV
from mobile_jpki.api.limits import MAX_BODY_ENV, BodyLimits, LimitSpecError
from mobile_jpki.keys.errors import KeyStoreError
from mobile_jpki.settings import Settings, SettingsError
from mobile_jpki.store.db import Database, StoreError
from mobile_jpki.web.sandbox import SimulatorLimits

EXIT_SETUP = 5


def serve(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Data directory.", envvar=DATA_DIR_ENV)
    ] = Path("mobile-jpki-data"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    database_url: Annotated[str | None, typer.Option(help="Database URL.")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL or SQLite WAL).")] = 1,
    ocsp_front: Annotated[
        bool,
        typer.Option(
            help="Answer RFC 5019 OCSP requests on closing connections from the pre-signed "
            "store at the connection, ahead of the ASGI stack (api/ocsp_front.py); "
            "--no-ocsp-front serves them through the ASGI app only.",
        ),
    ] = True,
    simulator: Annotated[
        bool,
        typer.Option(
            "--simulator",
            help="Also serve the phone simulator sandbox at /simulator/ (off by default: each "
            "browser session mints a test resident, card, phones and certificates, revoked and "
            "removed when the session ends).",
        ),
    ] = False,
    simulator_max_sessions: Annotated[
        int, typer.Option(min=1, help="Simulator: most live sessions.")
    ] = SimulatorLimits.max_sessions,
    simulator_per_client: Annotated[
        int, typer.Option(min=1, help="Simulator: new sessions a minute from one address.")
    ] = SimulatorLimits.per_client_per_minute,
    simulator_per_minute: Annotated[
        int, typer.Option(min=1, help="Simulator: new sessions a minute in all.")
    ] = SimulatorLimits.per_minute,
    simulator_idle_minutes: Annotated[
        float, typer.Option(min=0.01, help="Simulator: a session idle this long ends.")
    ] = SimulatorLimits.idle_seconds / 60,
    simulator_lifetime_minutes: Annotated[
        float, typer.Option(min=0.01, help="Simulator: a session ends this long after its start.")
    ] = SimulatorLimits.lifetime_seconds / 60,
    max_body: Annotated[
        list[str] | None,
        typer.Option(
            "--max-body",
            help="Largest request body in bytes: BYTES for every route without its own limit "
            "(default 65536), /PREFIX=BYTES for one (defaults /ocsp=16384, /tsa=16384); "
            "suffixes KiB/MiB; repeatable or comma-separated. Larger bodies get 413.",
            envvar=MAX_BODY_ENV,
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            "--forwarded-allow-ips",
            help="Addresses of the reverse proxies whose X-Forwarded-For/-Proto are trusted "
            "for the client address (comma-separated; default 127.0.0.1,::1; docs/deploy.md).",
            envvar="FORWARDED_ALLOW_IPS",
        ),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log",
            help="One JSON line per request on stderr (method, route, status, duration, "
            "client; never queries, bodies or credentials).",
            envvar=ACCESS_LOG_ENV,
        ),
    ] = False,
) -> None:
    """Serve the front page, OCSP (GET and POST), CRLs, the TSA and the portal API of a data
    directory; with --simulator, the phone simulator sandbox too."""
    import uvicorn

    if simulator and workers != 1:
        # Sessions live in one process's memory: a second worker would not know the cookie,
        # and the limits would multiply.
        raise typer.BadParameter("--simulator needs --workers 1", param_hint="--workers")
    try:
        body_limits = BodyLimits.parse(max_body or [])
    except LimitSpecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        settings = Settings.load(data_dir, database_url=database_url)
        settings.ca_passphrase()
        db = Database(settings.effective_database_url)
        db.migrate()  # once, here, not racing in every worker
        db.dispose()
        _check_host(settings)
    except (SettingsError, StoreError, KeyStoreError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_SETUP) from None
    os.environ[DATA_DIR_ENV] = str(data_dir)
    if database_url:
        os.environ[DATABASE_URL_ENV] = database_url
    # The workers build the app from the environment (api.app.app_from_env).
    os.environ[MAX_BODY_ENV] = body_limits.to_spec()
    os.environ[ACCESS_LOG_ENV] = "1" if access_log else "0"
    base = f"http://{host}:{port}"
    if simulator:
        sandbox = SimulatorLimits(
            max_sessions=simulator_max_sessions,
            per_client_per_minute=simulator_per_client,
            per_minute=simulator_per_minute,
            idle_seconds=simulator_idle_minutes * 60,
            lifetime_seconds=simulator_lifetime_minutes * 60,
        )
        os.environ[SIMULATOR_ON_ENV] = sandbox.to_json()
        typer.echo(
            f"serving {base}/ — phone simulator SANDBOX (test data only; at most "
            f"{sandbox.max_sessions} sessions, each ends after "
            f"{simulator_idle_minutes:g} min idle) {base}/simulator/"
        )
        # Issue 19 §2: the sessions are this process's memory, not the database's.
        typer.echo(
            "simulator sessions live in this process: behind a load balancer, send "
            "/simulator/ to one process (sticky sessions; docs/deploy.md)"
        )
    else:
        # An inherited variable must not turn the sandbox on behind the operator's back.
        os.environ.pop(SIMULATOR_ON_ENV, None)
        typer.echo(f"serving {base}/ (phone simulator off: --simulator turns it on)")
    uvicorn.run(
        "mobile_jpki.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        # An import string, not the class: worker processes are spawned and import it.
        http="mobile_jpki.api.ocsp_front:OcspFrontProtocol" if ocsp_front else "auto",
        log_level="warning",
        access_log=False,
        # The per-client limits key on the peer address: behind a proxy, only the proxy's
        # X-Forwarded-For says who the client is, and only a listed proxy is believed.
        forwarded_allow_ips=forwarded_allow_ips,
    )


def _check_host(settings: Settings) -> None:
    """Before any worker starts: the CA keys and the shared keys (instruction key, manufacturer
    roots, TSA) are the ones the database records (service.ca.bootstrap.check_host), so a host
    that has not joined, or holds other keys, stops with one line instead of a traceback or,
    worse, signing what the other hosts' phones refuse (issue 19)."""
    from mobile_jpki.clock import SystemClock
    from mobile_jpki.service.ca.bootstrap import check_host, open_ca
    from mobile_jpki.store.clock_offset import clock_for

    ca = open_ca(settings, migrate=False)
    try:
        check_host(settings, ca, clock_for(settings, ca.db, base=SystemClock()).now())
    finally:
        ca.db.dispose()
