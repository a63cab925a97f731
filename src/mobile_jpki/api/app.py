"""The FastAPI application factory. The portal adds its routers to the same app later."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI, Request
from sqlalchemy import text

from mobile_jpki import __version__
from mobile_jpki.api import access_log as access_log_
from mobile_jpki.api import crl, ocsp, problems
from mobile_jpki.api import tsa as tsa_api
from mobile_jpki.api.deps import Services
from mobile_jpki.api.headers import SecurityHeaders
from mobile_jpki.api.limits import BodyLimit, BodyLimits
from mobile_jpki.clock import Clock, SystemClock
from mobile_jpki.pki.tsa import TimeStampAuthority
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.service.ca.timestamping import load_or_create_tsa
from mobile_jpki.web import front
from mobile_jpki.web.sandbox import SimulatorLimits, install_sweeper

DATA_DIR_ENV = "MOBILE_JPKI_DATA_DIR"
DATABASE_URL_ENV = "MOBILE_JPKI_DATABASE_URL"
# Set by ``serve --simulator`` (the limits as JSON); unset, the simulator is not mounted.
SIMULATOR_ON_ENV = "MOBILE_JPKI_SERVE_SIMULATOR"


def create_app(
    ca: CertificateAuthority,
    *,
    clock: Clock | None = None,
    tsa: TimeStampAuthority | None = None,
    simulator: SimulatorLimits | None = None,
    body_limits: BodyLimits | None = None,
    access_log: bool = False,
) -> FastAPI:
    """The HTTP app: the front page ``/``, OCSP, CRLs, the CA certificates, (when ``tsa`` is
    given) the RFC 3161 time-stamp service at ``/tsa`` and (only when ``simulator`` is given)
    the phone simulator sandbox at ``/simulator/``, bounded by those limits. The portal adds
    its routers with ``api.portal.install``. Request bodies are bounded by ``body_limits``
    (api/limits.py); ``access_log`` writes one JSON line per request (api/access_log.py);
    docs/security.md."""
    app = FastAPI(
        title="mobile-jpki",
        version=__version__,
        description="JPKI certificate authority: OCSP responder (RFC 6960/5019) and CRLs "
        "(RFC 5280). Errors are RFC 7807 problem+json.",
    )
    app.state.services = Services(ca=ca, clock=clock or SystemClock())
    problems.install(app)
    # OCSP skips FastAPI's middleware and router (api/ocsp.py, docs/ca.md "HTTP"); what the
    # middleware passes on (unknown responders, HEAD) meets the same endpoint in the router.
    # Security headers by content type (api/headers.py), inside the OCSP fast path: its DER
    # answers need none and keep their measured cost.
    app.add_middleware(SecurityHeaders)
    app.add_middleware(ocsp.OcspFastPath)
    # Added last, so outermost: bodies are bounded before OCSP or any route reads them.
    app.add_middleware(BodyLimit, limits=body_limits)
    if access_log:
        app.add_middleware(access_log_.AccessLog)
    app.include_router(ocsp.router)
    ocsp.describe(app)
    app.include_router(crl.router)
    if tsa is not None:
        app.include_router(tsa_api.make_router(tsa, clock or SystemClock()))
    app.state.tsa_certificate = tsa.certificate if tsa is not None else None
    app.state.simulator_on = simulator is not None
    if simulator is not None:
        # Opt-in (issue 16 §2): each session mints a resident, a card, phones and
        # certificates. On this app's portal once installed (serve), else the in-memory
        # FakeWorld (web/portal_world.py); imported here so a plain app never loads it.
        from mobile_jpki.web.portal_world import portal_world_for
        from mobile_jpki.web.simulator import create_simulator_router, simulator_sessions

        sessions = simulator_sessions(simulator)
        app.state.simulator_sessions = sessions
        app.include_router(create_simulator_router(portal_world_for(app), sessions=sessions))
        install_sweeper(app, sessions)
    app.include_router(front.router)

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> dict[str, str]:
        services: Services = request.app.state.services
        with services.ca.db.transaction(write=False) as s:
            s.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` (each worker process builds its own app)."""
    from mobile_jpki.service.ca.bootstrap import check_host, open_ca
    from mobile_jpki.settings import Settings

    data_dir = Path(os.environ.get(DATA_DIR_ENV, "mobile-jpki-data"))
    settings = Settings.load(data_dir, database_url=os.environ.get(DATABASE_URL_ENV))
    ca = open_ca(settings, migrate=False)
    # The wall clock, or on a sandbox data directory the wall clock plus its stored offset:
    # every worker reads the same offset (store.clock_offset), so they agree.
    from mobile_jpki.store.clock_offset import clock_for

    clock = clock_for(settings, ca.db)
    # `serve` ran the same check before starting the workers; a worker re-checks because the
    # data directory may have changed since (one line from serve, a traceback from here).
    check_host(settings, ca, clock.now())
    limits = os.environ.get(SIMULATOR_ON_ENV)
    logging_on = access_log_.enabled_by_env()
    if logging_on:
        access_log_.configure()
    app = create_app(
        ca,
        clock=clock,
        tsa=load_or_create_tsa(settings, ca, clock.now()),
        simulator=SimulatorLimits.from_json(limits) if limits else None,
        body_limits=BodyLimits.from_env(),
        access_log=logging_on,
    )
    # The portal (persons, devices, applications, push) on the same app and port.
    from mobile_jpki.api.portal.bootstrap import install_from_settings

    install_from_settings(app, ca, settings, clock=clock)
    return app
