"""The portal's HTTP API: operator (municipal office, hotline) and device (Mynaportal app)
routers, the server-sent-events push stream, and the background worker (docs/portal.md).

Thin by design (DESIGN.md "edges thin"): parse, authenticate, call a use case of
:class:`~mobile_jpki.service.portal.service.PortalService`, render. Refusals are
:class:`~mobile_jpki.service.portal.errors.PortalError` and become problem+json here, through
``api.problems.portal_problem`` (the status of each error type is in its one table,
``PORTAL_PROBLEMS``) — the same shape as the CA's errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mobile_jpki.api.problems import portal_problem
from mobile_jpki.clock import Clock
from mobile_jpki.protocol.documents import DocumentError
from mobile_jpki.push.channels import InProcessChannel, PushChannel, SseHub
from mobile_jpki.push.follow import PushFollower
from mobile_jpki.push.outbox import Dispatcher
from mobile_jpki.service.portal.errors import PortalError, RequestInvalid
from mobile_jpki.service.portal.service import PortalService

log = logging.getLogger("mobile_jpki.portal")
# Jobs one worker pass processes at most, so that push delivery is not starved by a backlog.
JOBS_PER_PASS = 100


@dataclass
class PortalContext:
    """What the routers need; kept on ``app.state.portal``."""

    service: PortalService
    clock: Clock
    sse: SseHub = field(default_factory=SseHub)
    inprocess: InProcessChannel = field(default_factory=InProcessChannel)
    # Extra channels by name (e.g. a webhook); "inprocess" and "sse" are always there.
    channels: dict[str, PushChannel] = field(default_factory=dict)
    dispatcher: Dispatcher = field(init=False)
    follower: PushFollower = field(init=False)

    def __post_init__(self) -> None:
        routes: dict[str, PushChannel] = {"inprocess": self.inprocess, "sse": self.sse}
        routes.update(self.channels)
        self.dispatcher = Dispatcher(self.service.db, routes, streams=self.sse)
        self.follower = PushFollower(self.service.db, self.dispatcher, self.sse, self.clock)

    last_housekeeping: float = 0.0
    # Other services' hourly housekeeping on the same worker (the デジタル認証アプリ twin's
    # expired codes, tokens, jti and requests).
    housekeepers: list[Callable[[dt.datetime], object]] = field(default_factory=list)

    def work_once(self) -> tuple[int, int]:
        """One pass of the worker: due issuance jobs, then due push messages; hourly, the
        housekeeping of expired nonces and old delivered messages."""
        now = self.clock.now()
        jobs = self.service.run_jobs(now=now, limit=JOBS_PER_PASS)
        pushed = self.dispatcher.dispatch(now=self.clock.now())
        if time.monotonic() - self.last_housekeeping > 3600:
            self.last_housekeeping = time.monotonic()
            self.service.housekeeping(now=now)
            for housekeeping in self.housekeepers:
                housekeeping(now)
        return jobs, pushed


def install(app: FastAPI, ctx: PortalContext) -> None:
    """Add the portal routers and its problem+json handler to ``app``."""
    from . import device, operator

    app.state.portal = ctx
    app.include_router(operator.router)
    app.include_router(device.router)

    @app.exception_handler(PortalError)
    async def _portal_error(_request: Request, exc: PortalError) -> JSONResponse:
        return portal_problem(exc)

    @app.exception_handler(DocumentError)
    async def _document_error(request: Request, exc: DocumentError) -> JSONResponse:
        # A request field that does not decode (base64 of a signature, a certificate, ...):
        # the portal's invalid-request, as if the service had refused it.
        return await _portal_error(request, RequestInvalid(str(exc)))


def run_worker(ctx: PortalContext, stop: threading.Event, *, interval: float = 0.5) -> None:
    """The worker loop: a pass (:meth:`PortalContext.work_once`), then wait until an
    application of this process queues a job, ``interval`` seconds pass (jobs queued by other
    ``serve`` processes, due retries and push messages are found by polling), or ``stop``.

    A pass that reached its limit (``JOBS_PER_PASS``) is followed at once by another: a
    backlog is drained without waiting for the poll."""
    while not stop.is_set():
        jobs = 0
        try:
            jobs, _ = ctx.work_once()
        except Exception:  # a bad pass must not stop the worker; the next one retries
            log.exception("portal worker pass failed")
        if jobs < JOBS_PER_PASS:
            ctx.service.wait_for_jobs(interval)


@contextlib.asynccontextmanager
async def worker(ctx: PortalContext, *, interval: float = 0.5) -> AsyncIterator[threading.Thread]:
    """The worker loop of ``serve`` (:func:`run_worker`) on a thread of its own for the app's
    lifetime: jobs run in blocking database transactions, never on the event loop, and an
    application committed on uvicorn's thread pool wakes it at once. Beside it, on a second
    thread, the push follower (:class:`~mobile_jpki.push.follow.PushFollower`): the messages
    of the streams this process holds, delivered as soon as any process enqueues them."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(ctx, stop), kwargs={"interval": interval}, name="portal-worker"
    )
    follower = threading.Thread(target=ctx.follower.run, args=(stop,), name="portal-push")
    thread.start()
    follower.start()
    try:
        yield thread
    finally:
        stop.set()
        ctx.service.wake()
        # The pass under way finishes (its transaction commits or rolls back) before exit.
        await asyncio.to_thread(thread.join)
        await asyncio.to_thread(follower.join)
