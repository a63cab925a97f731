"""The access log: one JSON line per HTTP request on the ``mobile_jpki.access`` logger.

Off unless asked for (``mobile-jpki serve --access-log`` or ``$MOBILE_JPKI_ACCESS_LOG=1``):
a CA's relying parties ask about certificates, and who asked about which is itself personal
data. When on, each line holds only::

    {"time": "2026-12-07T20:31:02.117Z", "method": "POST", "route": "/portal/v1/applications",
     "status": 202, "duration_ms": 41.3, "client": "127.0.0.1"}

- ``route`` is the route's template (``/portal/v1/registrations/{item_id}``), never the path
  as sent, so identifiers in paths stay out; for a path no route matched it is ``null`` and
  ``path`` holds the path (at most 200 characters);
- never the query string, the body, or any header (no ``Authorization``, no cookie);
- ``client`` is the peer address the server saw (uvicorn's, after its proxy-header handling).

OCSP answered by the connection-level front door (api/ocsp_front.py) is logged there in the
same shape (:func:`log_request`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ACCESS_LOG_ENV = "MOBILE_JPKI_ACCESS_LOG"
LOGGER_NAME = "mobile_jpki.access"
log = logging.getLogger(LOGGER_NAME)
_MAX_PATH = 200


def enabled_by_env() -> bool:
    return os.environ.get(ACCESS_LOG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def configure(stream: Any = None) -> None:
    """Send the access log's records, as they are (each one JSON line), to ``stream``
    (stderr by default, beside uvicorn's own log); idempotent."""
    log.setLevel(logging.INFO)
    log.propagate = False
    if not any(getattr(h, "_mobile_jpki_access", False) for h in log.handlers):
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._mobile_jpki_access = True  # type: ignore[attr-defined]
        log.addHandler(handler)


def log_request(
    *,
    method: str,
    route: str | None,
    path: str,
    status: int,
    started: float,
    client: str | None,
) -> None:
    """One line; ``started`` is a :func:`time.perf_counter` reading."""
    entry: dict[str, object] = {
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        "client": client,
    }
    if route is None:
        entry["path"] = path[:_MAX_PATH]
    log.info(json.dumps(entry, ensure_ascii=False))


def _route_template(scope: Scope) -> str | None:
    route = scope.get("route")
    template = getattr(route, "path", None)
    if isinstance(template, str):
        return template
    # OcspFastPath (api/ocsp.py) answers ahead of the router and names no route; it leaves
    # the parameters it took from the path.
    params = scope.get("path_params") or {}
    if scope["path"].startswith("/ocsp/") and "hierarchy" in params:
        return "/ocsp/{hierarchy}/{encoded}" if "encoded" in params else "/ocsp/{hierarchy}"
    return None


class AccessLog:
    """ASGI middleware writing :func:`log_request` once each response is finished (or the app
    failed: then 500, and the error goes on up)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            client = scope.get("client")
            log_request(
                method=str(scope["method"]),
                route=_route_template(scope),
                path=str(scope["path"]),
                status=status,
                started=started,
                client=str(client[0]) if client else None,
            )
