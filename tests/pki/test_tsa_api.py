from __future__ import annotations

import datetime as dt
import hashlib

import httpx
import pytest
from fastapi import FastAPI
from test_tsa import NOW, pki  # noqa: F401 - the module fixture

from mobile_jpki.api.tsa import QUERY_TYPE, REPLY_TYPE, make_router
from mobile_jpki.clock import FixedClock
from mobile_jpki.pki.tsa import TimeStampAuthority, build_request, read_response


async def _post(client: httpx.AsyncClient, body: bytes, ctype: str) -> httpx.Response:
    return await client.post("/tsa", content=body, headers={"Content-Type": ctype})


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_post_tsa(pki: tuple[object, TimeStampAuthority]) -> None:  # noqa: F811
    app = FastAPI()
    app.include_router(make_router(pki[1], FixedClock(NOW), serials=iter(range(1, 99)).__next__))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ok = await _post(c, build_request(hashlib.sha256(b"x").digest()), QUERY_TYPE)
        assert ok.status_code == 200 and ok.headers["content-type"] == REPLY_TYPE
        assert read_response(ok.content).granted
        bad = await _post(c, b"junk", QUERY_TYPE)
        assert bad.status_code == 200 and read_response(bad.content).status == "rejection"
        wrong = await _post(c, b"junk", "text/plain")
        assert wrong.status_code == 415
    assert NOW.tzinfo is dt.UTC
