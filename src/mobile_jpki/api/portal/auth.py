"""Authentication of the portal's callers: operator API keys and device credentials, both
``Authorization: Bearer …`` (RFC 6750 §2.1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from mobile_jpki.service.portal.errors import Unauthenticated
from mobile_jpki.service.portal.service import OperatorRef

from . import PortalContext


def context(request: Request) -> PortalContext:
    ctx: PortalContext = request.app.state.portal
    return ctx


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send Authorization: Bearer <credential>")
    return token.strip()


def operator(request: Request, ctx: Annotated[PortalContext, Depends(context)]) -> OperatorRef:
    return ctx.service.authenticate_operator(_bearer(request), now=ctx.clock.now())


def device(request: Request, ctx: Annotated[PortalContext, Depends(context)]) -> str:
    # The peer address keys the wrong-secret counter (service/portal/limits.py).
    client = request.client.host if request.client is not None else None
    return ctx.service.authenticate_device(_bearer(request), client=client, now=ctx.clock.now())


Ctx = Annotated[PortalContext, Depends(context)]
Operator = Annotated[OperatorRef, Depends(operator)]
DeviceId = Annotated[str, Depends(device)]
