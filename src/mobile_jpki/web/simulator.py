"""The browser phone simulator: two phones, a My Number Card and an operator panel at /simulator/.

A thin edge (DESIGN.md "Library first, edges thin"): it parses a browser event, hands it to the
phone's :class:`~mobile_jpki.phone.app.flows.PhoneApp` and renders the resulting
:class:`~mobile_jpki.phone.app.screens.Screen`. No rule of the app lives here.

Each browser gets its own world (cookie ``mjpki_sim``), made by the injected
``backend_factory``; the default is the deterministic :class:`FakeWorld` with the old phone
already holding both certificates (the start of the user's document). The page polls
``/poll`` once a second: that is how push notifications and the old phone's instructions
arrive while a phone is "online".

It is a sandbox (web/sandbox.py): sessions are bounded in number and rate and end after an
idle time and a lifetime, their worlds closed. ``serve`` mounts it only with ``--simulator``.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from importlib import resources
from typing import Literal

from fastapi import APIRouter, Cookie, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from mobile_jpki.clock import Clock, FixedClock, is_movable
from mobile_jpki.phone.app.authapp_flow import URL_MAX
from mobile_jpki.phone.app.backend import (
    AppBackend,
    AppCertStatus,
    BackendError,
    OperatorBackend,
)
from mobile_jpki.phone.app.events import (
    ComeOnline,
    Event,
    OpenLink,
    Press,
    TapBanner,
    TapCard,
    Toggle,
    TypeText,
)
from mobile_jpki.phone.app.fake import FakeWorld
from mobile_jpki.phone.app.flows import PhoneApp
from mobile_jpki.phone.app.texts_model import Lang
from mobile_jpki.web.pages import FAVICON_SVG, PROBLEM_JSON, SVG_TYPE, render_refused
from mobile_jpki.web.render import (
    ADVANCE,
    render_device,
    render_operator,
    render_page,
    render_setup_error,
)
from mobile_jpki.web.sandbox import (
    SessionRefused,
    SimulatorLimits,
    SimulatorSessions,
    install_sweeper,
)

log = logging.getLogger("mobile_jpki.web")

COOKIE = "mjpki_sim"
_ASSETS = {"simulator.js": "text/javascript", "simulator.css": "text/css"}
Phone = Literal["old", "new"]


@dataclass
class SimulatorWorld:
    """What one simulator session drives: two phones' backends, the operator, the clock.

    ``info``: the session's test data shown on the page (its passwords, so a person knows what
    to type; device ids); ``online``: each phone's network switch at the start."""

    old: AppBackend
    new: AppBackend
    operator: OperatorBackend
    clock: Clock
    info: Mapping[str, str] = field(default_factory=dict)
    online: Mapping[str, bool] = field(default_factory=lambda: {"old": True, "new": True})
    #: Ends the world when its session expires, is replaced or the server stops: on a real
    #: portal, revokes what it made and removes its state files (web/portal_world.py).
    close: Callable[[], object] | None = None


def close_world(world: SimulatorWorld) -> None:
    if world.close is not None:
        world.close()


BackendFactory = Callable[[], SimulatorWorld]


def fake_world_factory() -> SimulatorWorld:
    """The default: the user's document's starting point, in memory."""
    world = FakeWorld(FixedClock(dt.datetime(2026, 4, 1, 0, 0, tzinfo=dt.UTC)))
    world.give_registered_certificates("old-phone")
    return SimulatorWorld(
        world.backend("old-phone"),
        world.backend("new-phone"),
        world.operator(),
        world.clock,
        info=FAKE_WORLD_INFO,
    )


# FakeWorld's defaults (phone/app/fake.py): its card and the old phone's secrets.
FAKE_WORLD_INFO: Mapping[str, str] = {
    "card_sign_password": "ABC123",
    "card_auth_pin": "1234",
    "old_phone_sign_password": "OLD123",
    "old_phone_auth_pin": "5678",
}


@dataclass
class _Session:
    world: SimulatorWorld
    apps: dict[str, PhoneApp]
    online: dict[str, bool] = field(default_factory=lambda: {"old": True, "new": True})
    lang: Lang = Lang.JA
    lock: threading.Lock = field(default_factory=threading.Lock)
    operator_error: str = ""


def _new_session(factory: BackendFactory, lang: Lang = Lang.JA) -> _Session:
    world = factory()
    apps = {"old": PhoneApp(world.old, world.clock), "new": PhoneApp(world.new, world.clock)}
    online = {phone: bool(world.online.get(phone, True)) for phone in apps}
    return _Session(world, apps, online=online, lang=lang)


def _close_session(session: _Session) -> None:
    with session.lock:
        close_world(session.world)


def simulator_sessions(limits: SimulatorLimits | None = None) -> SimulatorSessions[_Session]:
    """The live-session registry of one simulator, bounded by ``limits``."""
    return SimulatorSessions(limits, close=_close_session)


def client_address(request: Request) -> str:
    """The peer's address, for the per-client rate limit. Behind a reverse proxy every
    visitor shares the proxy's address: the global limit still holds then."""
    return request.client.host if request.client is not None else "-"


def _refused_headers(refused: SessionRefused) -> dict[str, str]:
    # RFC 9110 §10.2.3 Retry-After; RFC 6585 §4 429 Too Many Requests.
    return {"Cache-Control": "no-store", "Retry-After": str(refused.retry_after)}


def refused_problem(refused: SessionRefused) -> JSONResponse:
    """429 as problem+json (RFC 7807), for the simulator's JSON endpoints."""
    body = {
        "type": "urn:mobile-jpki:problem:simulator-busy",
        "title": "Too many simulator sessions",
        "status": 429,
        "detail": str(refused),
    }
    return JSONResponse(
        body, status_code=429, media_type=PROBLEM_JSON, headers=_refused_headers(refused)
    )


def _setup_failure(exc: Exception) -> str:
    """One line for the page: what failed while making a session's world."""
    log.warning("simulator session setup failed", exc_info=exc)
    return str(exc) or type(exc).__name__


class EventIn(BaseModel):
    phone: Phone
    type: Literal["press", "toggle", "tap-card", "tap-banner", "network"]
    name: str = Field(default="", max_length=64)
    fields: dict[str, str] = Field(default_factory=dict, max_length=8)


class OperatorIn(BaseModel):
    action: Literal["suspend", "change-of-address", "advance-1h", "advance-48h", "reset"]


def create_simulator_router(
    backend_factory: BackendFactory = fake_world_factory,
    *,
    prefix: str = "/simulator",
    sessions: SimulatorSessions[_Session] | None = None,
) -> APIRouter:
    """The simulator's routes under ``prefix``; mount with ``app.include_router(...)``.

    ``sessions`` bounds the live sessions (web/sandbox.py); run its sweeper in the app's
    lifespan (:func:`~mobile_jpki.web.sandbox.install_sweeper`, as ``create_app`` does) so
    idle sessions are cleaned up even when nobody comes back."""
    router = APIRouter(prefix=prefix, tags=["simulator"], include_in_schema=False)
    live = sessions if sessions is not None else simulator_sessions()

    def lookup(sid: str | None) -> _Session:
        session = live.get(sid)
        if session is None:
            raise HTTPException(409, "no simulator session: reload the page")
        return session

    def panels(session: _Session) -> dict[str, str]:
        out = {
            phone: render_device(app.screen(), phone, session.lang, session.online[phone])
            for phone, app in session.apps.items()
        }
        out["operator"] = render_operator(
            session.lang,
            session.world.clock.now(),
            info=session.world.info,
            movable=is_movable(session.world.clock),
        )
        if session.operator_error:
            out["operator"] += (
                '<p class="message" data-testid="operator-error">'
                f"{escape(session.operator_error)}</p>"
            )
        return out

    @router.get("/", response_class=HTMLResponse)
    def page(
        request: Request,
        lang: str | None = None,
        authapp: str | None = None,
        phone: str | None = None,
        mjpki_sim: str | None = Cookie(default=None),
    ) -> Response:
        """The simulator. ``authapp``: a デジタル認証アプリ link (the web step's
        「シミュレーターで開く」) the phone opens, as its OS would hand it over — on ``phone``,
        or the one holding a user-authentication certificate."""
        chosen = Lang(lang) if lang in (Lang.JA.value, Lang.EN.value) else None
        sid = mjpki_sim or ""
        session = live.get(sid)
        if session is None:
            try:
                live.reserve(client_address(request))
            except SessionRefused as refused:
                html = render_refused(str(refused), chosen or Lang.JA, prefix)
                return HTMLResponse(html, status_code=429, headers=_refused_headers(refused))
            # Outside any lock: a world on the real portal takes seconds to make
            # (a card personalised, two phones enrolled, the old one registered).
            try:
                session = _new_session(backend_factory, chosen or Lang.JA)
            except Exception as exc:  # shown on the page, never a bare 500
                live.unreserve()
                html = render_setup_error(_setup_failure(exc), chosen or Lang.JA, prefix)
                return HTMLResponse(html, status_code=503, headers={"Cache-Control": "no-store"})
            sid = secrets.token_urlsafe(16)
            live.add(sid, session)
        if chosen is not None:
            session.lang = chosen
        if authapp:
            with session.lock:
                target = phone if phone in session.apps else _authapp_phone(session)
                session.apps[target].dispatch(OpenLink(authapp[:URL_MAX]))
            # Once: a reload of the page must not open the request again.
            response: Response = RedirectResponse(f"{prefix}/", status_code=303)
            response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path=prefix)
            return response
        with session.lock:
            html = render_page(panels(session), session.lang, prefix)
        # no-store: the page shows the session's test passwords (sandbox data, for its owner).
        response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
        response.set_cookie(COOKIE, sid, httponly=True, samesite="strict", path=prefix)
        return response

    @router.get("", include_in_schema=False)
    def page_no_slash() -> Response:
        return RedirectResponse(f"{prefix}/")

    @router.get("/static/{name}")
    def asset(name: str) -> Response:
        if name not in _ASSETS:
            raise HTTPException(404)
        body = resources.files("mobile_jpki.web").joinpath("static", name).read_bytes()
        return Response(body, media_type=_ASSETS[name], headers={"Cache-Control": "no-cache"})

    @router.post("/event")
    def event(body: EventIn, mjpki_sim: str | None = Cookie(default=None)) -> JSONResponse:
        session = lookup(mjpki_sim)
        with session.lock:
            app = session.apps[body.phone]
            if body.type == "network":
                session.online[body.phone] = not session.online[body.phone]
                if session.online[body.phone]:
                    app.dispatch(ComeOnline())
            else:
                # The values typed so far travel with every event: the server's state is the
                # only truth, and a re-render shows exactly what the app holds.
                screen = app.screen()
                for name, value in body.fields.items():
                    typed = screen.field(name)
                    if typed is not None:
                        app.dispatch(TypeText(name, value[: URL_MAX if typed.url else 64]))
                app.dispatch(_event(body))
            return JSONResponse({"panels": panels(session)})

    @router.post("/poll")
    def poll(mjpki_sim: str | None = Cookie(default=None)) -> JSONResponse:
        session = lookup(mjpki_sim)
        with session.lock:
            for phone, app in session.apps.items():
                if session.online[phone]:
                    app.poll()
                    app.dispatch(ComeOnline())
            return JSONResponse({"panels": panels(session)})

    @router.post("/operator")
    def operator(
        request: Request, body: OperatorIn, mjpki_sim: str | None = Cookie(default=None)
    ) -> JSONResponse:
        session = lookup(mjpki_sim)
        with session.lock:
            if body.action == "reset":
                # A new world costs what a new session costs: the same rate limits.
                try:
                    live.charge_rebuild(client_address(request))
                except SessionRefused as refused:
                    return refused_problem(refused)
                try:
                    fresh = _new_session(backend_factory, session.lang)
                except Exception as exc:  # the old world stays; the panel says why
                    session.operator_error = _setup_failure(exc)
                    return JSONResponse({"panels": panels(session)})
                stale = session.world
                session.world, session.apps, session.online = fresh.world, fresh.apps, fresh.online
                session.operator_error = ""
                close_world(stale)
                return JSONResponse({"panels": panels(session)})
            ops = session.world.operator
            try:
                if body.action == "suspend":
                    ops.suspend_by_hotline()
                elif body.action == "change-of-address":
                    ops.change_of_address()
                else:
                    ops.advance_time(ADVANCE[body.action])
                session.operator_error = ""
            except BackendError as err:
                session.operator_error = err.code
            except Exception:  # shown in the panel, never a 500
                log.exception("operator action %s failed", body.action)
                session.operator_error = "internal-error"
            return JSONResponse({"panels": panels(session)})

    return router


def _authapp_phone(session: _Session) -> str:
    """The phone that answers a デジタル認証アプリ link: the first (new, then old) holding a
    registered user-authentication certificate; the old phone when none does (it can still
    answer with the card: マイナンバーカードで読み取る)."""
    for phone in ("new", "old"):
        try:
            page = session.apps[phone].backend.my_page()
        except BackendError:
            continue
        if page.auth is AppCertStatus.REGISTERED:
            return phone
    return "old"


def _event(body: EventIn) -> Event:
    if body.type == "press":
        return Press(body.name)
    if body.type == "toggle":
        return Toggle(body.name)
    if body.type == "tap-card":
        return TapCard()
    return TapBanner()


def create_simulator_app(
    backend_factory: BackendFactory = fake_world_factory, *, limits: SimulatorLimits | None = None
) -> FastAPI:
    """A stand-alone app serving only the simulator (tests; before ``api.app`` mounts it)."""
    app = FastAPI(
        title="mobile-jpki phone simulator", docs_url=None, redoc_url=None, openapi_url=None
    )
    sessions = simulator_sessions(limits)
    app.include_router(create_simulator_router(backend_factory, sessions=sessions))
    install_sweeper(app, sessions)

    # Its pages link /favicon.svg (web/pages.py FAVICON_LINK), as the full app's are: without
    # it every page would log a console error for a 404 (issue 17 "Wanted" 1).
    @app.get("/favicon.svg", include_in_schema=False)
    def favicon() -> Response:
        return Response(
            FAVICON_SVG, media_type=SVG_TYPE, headers={"Cache-Control": "max-age=86400"}
        )

    return app
