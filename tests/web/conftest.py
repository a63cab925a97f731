"""Simulator fixtures: a real uvicorn server on a free port, for the HTTP and browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from sim_helpers import LiveServer, RecordingFactory

from mobile_jpki.web.simulator import create_simulator_app


def pytest_configure(config: pytest.Config) -> None:
    # Until the lead declares it in pyproject (--strict-markers is on).
    config.addinivalue_line(
        "markers", "browser: drives headless Chromium (/usr/bin/chromium) through Playwright"
    )


@pytest.fixture
def factory() -> RecordingFactory:
    return RecordingFactory()


@pytest.fixture
def live_server(factory: RecordingFactory) -> Iterator[LiveServer]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(
        create_simulator_app(factory),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", factory)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
