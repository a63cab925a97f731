"""The portal's HTTP API: operator (municipal office, hotline) and device (Mynaportal app)
routers, the server-sent-events push stream, and the background worker (docs/portal.md).

Thin by design (DESIGN.md "edges thin"): parse, authenticate, call a use case of
:class:`~mobile_jpki.service.portal.service.PortalService`, render. Refusals are
:class:`~mobile_jpki.service.portal.errors.PortalError` and become problem+json here, through
``api.problems.problem`` — the same shape as the CA's errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from mobile_jpki.api.problems import problem
from mobile_jpki.clock import Clock
from mobile_jpki.push.channels import InProcessChannel, PushChannel, SseHub
from mobile_jpki.push.outbox import Dispatcher
from mobile_jpki.service.portal.errors import PortalError
from mobile_jpki.service.portal.service import PortalService

log = logging.getLogger("mobile_jpki.portal")


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

    def __post_init__(self) -> None:
        routes: dict[str, PushChannel] = {"inprocess": self.inprocess, "sse": self.sse}
        routes.update(self.channels)
        self.dispatcher = Dispatcher(self.service.db, routes)

    last_housekeeping: float = 0.0

    def work_once(self) -> tuple[int, int]:
        """One pass of the worker: due issuance jobs, then due push messages; hourly, the
        housekeeping of expired nonces and old delivered messages."""
        now = self.clock.now()
        jobs = self.service.run_jobs(now=now)
        pushed = self.dispatcher.dispatch(now=self.clock.now())
        if time.monotonic() - self.last_housekeeping > 3600:
            self.last_housekeeping = time.monotonic()
            self.service.housekeeping(now=now)
        return jobs, pushed


def install(app: FastAPI, ctx: PortalContext) -> None:
    """Add the portal routers and its problem+json handler to ``app``."""
    from . import device, operator

    app.state.portal = ctx
    app.include_router(operator.router)
    app.include_router(device.router)

    @app.exception_handler(PortalError)
    async def _portal_error(_request: Request, exc: PortalError) -> JSONResponse:
        body = exc.problem()
        response = problem(
            exc.status,
            body.pop("title"),
            body.pop("detail"),
            type_=body.pop("type"),
            **{k: v for k, v in body.items() if k != "status"},
        )
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        retry = exc.extra.get("retry_after")
        if exc.status == 429 and isinstance(retry, int):
            response.headers["Retry-After"] = str(retry)
        return response


@contextlib.asynccontextmanager
async def worker(ctx: PortalContext, *, interval: float = 0.5) -> AsyncIterator[asyncio.Task[None]]:
    """The worker loop of ``serve``: jobs and push delivery in a thread, every ``interval``."""

    async def loop() -> None:
        while True:
            try:
                await asyncio.to_thread(ctx.work_once)
            except Exception:  # a bad pass must not stop the worker; the next one retries
                log.exception("portal worker pass failed")
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
