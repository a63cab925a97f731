"""Over real TCP with uvicorn: the worker loop in the app's lifespan issues the certificates
and the 登録準備完了 push arrives on the device's authenticated server-sent-events stream."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from portal_world import CARD_PASSWORD, World

from mobile_jpki.api.app import create_app
from mobile_jpki.api.portal import PortalContext
from mobile_jpki.api.portal.bootstrap import install_with_worker
from mobile_jpki.phone.client import PortalClient
from mobile_jpki.pki.model import Hierarchy


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def server(world: World) -> Iterator[str]:
    app = create_app(world.ca, clock=world.clock)
    install_with_worker(app, PortalContext(service=world.service, clock=world.clock), interval=0.05)
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


def test_application_over_tcp_and_push_over_sse(world: World, server: str) -> None:
    _, _, card = world.resident()
    with httpx.Client(base_url=server, timeout=10) as http:
        phone = world.new_phone("tcp", enrol=False)
        phone.api = PortalClient(http)
        phone.enrol(push_channel="sse")
        events: list[dict[str, object]] = []
        connected = threading.Event()

        def listen() -> None:
            headers = {"Authorization": f"Bearer {phone.api.credential}"}
            with (
                httpx.Client(base_url=server, timeout=20) as sse,
                sse.stream("GET", "/portal/v1/events", headers=headers) as stream,
            ):
                assert stream.headers["content-type"].startswith("text/event-stream")
                connected.set()
                for line in stream.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        return

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        assert connected.wait(10)
        phone.apply(
            card,
            card_password=CARD_PASSWORD,
            certificates=(Hierarchy.SIGN, Hierarchy.AUTH),
            sign_password="PHONE123",
            auth_pin="1234",
        )
        listener.join(timeout=20)
        assert [e["topic"] for e in events] == ["registration-ready"]
        assert phone.handle_push(
            [type("M", (), {"id": events[0]["id"], "topic": events[0]["topic"]})()]
        ) == ["registration-ready"]
        assert sorted(phone.register(sign_password="PHONE123", auth_pin="1234")) == [
            "phone-auth",
            "phone-sign",
        ]


def test_the_reconnect_replay_marks_what_it_sends_delivered(world: World, server: str) -> None:
    """登録準備完了 committed while no stream is open: no process tries it (no attempt, no
    backoff); the stream's replay on connect sends it and marks it delivered, so no worker
    sends it again (it used to stay undelivered and be retried)."""
    from sqlalchemy import select

    from mobile_jpki.store.portal import OutboxMessage

    _, _, card = world.resident()
    with httpx.Client(base_url=server, timeout=10) as http:
        phone = world.new_phone("replay", enrol=False)
        phone.api = PortalClient(http)
        phone.enrol(push_channel="sse")
        world.apply_for_auth(phone, card)

        def row() -> OutboxMessage | None:
            with world.db.transaction(write=False) as s:
                stmt = select(OutboxMessage).where(OutboxMessage.device_id == phone.device_id)
                return s.scalars(stmt).one_or_none()

        deadline = time.monotonic() + 20
        while (pending := row()) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pending is not None
        time.sleep(0.3)  # several worker passes (interval 0.05 s)
        again = row()
        assert again is not None and (again.attempts, again.delivered_at) == (0, None)

        headers = {"Authorization": f"Bearer {phone.api.credential}"}
        with http.stream("GET", "/portal/v1/events", headers=headers) as stream:
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    assert json.loads(line[6:])["topic"] == "registration-ready"
                    break
            deadline = time.monotonic() + 5
            while (done := row()) is not None and done.delivered_at is None:
                assert time.monotonic() < deadline, "the replay did not mark the message"
                time.sleep(0.05)
        assert done is not None and done.attempts == 0
