"""A synchronous ``httpx`` transport into an ASGI app in the same process (demo, tests).

httpx's own ``ASGITransport`` is async-only and Starlette's TestClient is deprecated with
httpx; this runs the ASGI app on an anyio blocking portal (an event loop in a helper thread)
and hands the buffered response back to the synchronous client. Streaming responses (the SSE
push stream) are not for this transport: they never end. Use TCP for those.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: Any, *, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()
        # ``client``: the peer address the app sees (tests play callers on other hosts).
        self._inner = httpx.ASGITransport(app=app, client=client)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()

        async def call() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            response = await self._inner.handle_async_request(request)
            body = await response.aread()
            return response.status_code, response.headers.raw, body

        status, headers, body = self._portal.call(call)
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        self._portal_cm.__exit__(None, None, None)


def in_process_client(
    app: Any,
    *,
    base_url: str = "http://portal.test",
    client: tuple[str, int] = ("127.0.0.1", 123),
) -> httpx.Client:
    """An ``httpx.Client`` whose requests go straight into ``app``, from peer ``client``."""
    return httpx.Client(transport=InProcessTransport(app, client=client), base_url=base_url)
