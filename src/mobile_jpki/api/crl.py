"""CRL publication: ``/crl/{ca_id}/{shard}.crl``, ``{shard}.delta.crl``, ``root.crl``
(the layout of ``PublicUrls``; RFC 5280 §4.2.1.13 distribution points)."""

from __future__ import annotations

import hashlib
import re
from email.utils import format_datetime

from cryptography import x509
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from mobile_jpki.api.deps import Services
from mobile_jpki.service.ca import NotFound

PKIX_CRL = "application/pkix-crl"  # RFC 2585 §4.2
_NAME = re.compile(r"^(?:(?P<root>root)|(?P<shard>0|[1-9][0-9]{0,3})(?P<delta>\.delta)?)\.crl$")
_CA_ID = re.compile(r"^[a-z]+-[1-9][0-9]{0,3}$")

router = APIRouter(tags=["crl"])


@router.get(
    "/crl/{ca_id}/{name}",
    response_class=Response,
    responses={200: {"content": {PKIX_CRL: {}}}},
    summary="A full, delta or root CRL",
)
async def get_crl(ca_id: str, name: str, request: Request) -> Response:
    services: Services = request.app.state.services
    match = _NAME.match(name)
    if match is None or not _CA_ID.match(ca_id):
        raise NotFound("CRL", f"{ca_id}/{name}")
    now = services.clock.now()
    # In the thread pool: regenerating a large shard's CRL takes CPU seconds.
    if match["root"]:
        der = await run_in_threadpool(services.ca.root_crl, ca_id, now)
    else:
        der = await run_in_threadpool(
            services.ca.crl, ca_id, int(match["shard"]), now, delta=bool(match["delta"])
        )
    crl = x509.load_der_x509_crl(der)
    headers = {
        "ETag": f'"{hashlib.sha256(der).hexdigest()[:32]}"',
        "Last-Modified": format_datetime(crl.last_update_utc, usegmt=True),
    }
    next_update = crl.next_update_utc
    if next_update is not None:
        max_age = max(0, int((next_update - now).total_seconds()))
        headers["Expires"] = format_datetime(next_update, usegmt=True)
        headers["Cache-Control"] = f"max-age={max_age}, public, no-transform"
    return Response(der, media_type=PKIX_CRL, headers=headers)
