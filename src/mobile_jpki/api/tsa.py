"""``POST /tsa``: the RFC 3161 time-stamp service over HTTP (RFC 3161 §3.4).

Thin edge: read the body, call :func:`mobile_jpki.pki.tsa.respond`, answer
``application/timestamp-reply``. Refusals are TimeStampResp ``rejection`` bodies with HTTP 200,
as §3.4 expects; only a wrong Content-Type is an HTTP error (415).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from fastapi import APIRouter, Request, Response

from mobile_jpki.clock import Clock
from mobile_jpki.pki.tsa import TimeStampAuthority, respond

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REQUEST_BYTES = 16 * 1024  # a TimeStampReq is ~100 bytes; refuse anything silly


def random_serial() -> int:
    """A 127-bit random serial: unique per token without a shared counter, so several
    ``serve`` processes can stamp at once (RFC 3161 §2.4.2 asks only for uniqueness)."""
    return secrets.randbits(127) | 1


def make_router(
    tsa: TimeStampAuthority | Callable[[], TimeStampAuthority],
    clock: Clock,
    *,
    serials: Callable[[], int] = random_serial,
    path: str = "/tsa",
) -> APIRouter:
    """A router serving the TSA. ``tsa`` may be a function so a rolled-over TSA key is picked
    up without rebuilding the app."""
    router = APIRouter(tags=["tsa"])

    @router.post(
        path,
        response_class=Response,
        responses={200: {"content": {REPLY_TYPE: {}}}},
        summary="RFC 3161 time-stamp request",
    )
    async def timestamp(request: Request) -> Response:
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != QUERY_TYPE:
            return Response(status_code=415, content=f"expected {QUERY_TYPE}\n")
        body = await request.body()
        if len(body) > MAX_REQUEST_BYTES:
            return Response(status_code=413)
        authority = tsa() if callable(tsa) else tsa
        der = respond(body, tsa=authority, now=clock.now(), serial=serials())
        return Response(content=der, media_type=REPLY_TYPE)

    return router
