"""The outbox: written with the change, delivered at least once, retried with backoff while the
phone is unreachable; a stream's messages left to the process holding the stream and delivered
by its push follower at once; and serve's app factory mounting the portal."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from pathlib import Path

import httpx
from portal_world import START, World
from sqlalchemy import select

from mobile_jpki.api.portal import PortalContext
from mobile_jpki.push.outbox import backoff
from mobile_jpki.store.portal import OutboxMessage


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert backoff(30) == dt.timedelta(hours=1)


def test_unreachable_phone_is_retried_with_backoff_then_delivered_once(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    assert phone.device_id is not None
    world.ctx.inprocess.offline.add(phone.device_id)
    world.apply_for_auth(phone, card)
    jobs, delivered = world.work()
    assert (jobs, delivered) == (1, 0)
    with world.db.transaction(write=False) as s:
        row = s.scalars(
            select(OutboxMessage).where(OutboxMessage.device_id == phone.device_id)
        ).one()
        assert (row.attempts, row.delivered_at) == (1, None)
        assert row.next_attempt_at == world.clock.now() + dt.timedelta(seconds=5)
    world.ctx.inprocess.offline.discard(phone.device_id)
    assert world.ctx.dispatcher.dispatch(now=world.clock.now()) == 0  # not due yet
    world.clock.advance(dt.timedelta(seconds=5))
    assert world.ctx.dispatcher.dispatch(now=world.clock.now()) == 1
    assert world.ctx.dispatcher.dispatch(now=world.clock.now()) == 0  # delivered: not again
    assert world.inbox(phone) == ["registration-ready"]


def _rows(world: World, device_id: str) -> list[OutboxMessage]:
    with world.db.transaction(write=False) as s:
        stmt = select(OutboxMessage).where(OutboxMessage.device_id == device_id)
        return list(s.scalars(stmt))


def test_a_stream_message_is_left_to_the_process_holding_the_stream(world: World) -> None:
    """A process without the device's event stream neither sends nor counts an attempt (it
    used to record "no open event stream" and back off 5 s, 10 s, 20 s … while another
    process held the stream); the one holding it delivers at its next pass."""
    _, _, card = world.resident()
    phone = world.new_phone("sse", push_channel="sse")
    assert phone.device_id is not None
    world.apply_for_auth(phone, card)
    assert world.work() == (1, 0)
    assert world.work() == (0, 0)
    [row] = _rows(world, phone.device_id)
    assert (row.attempts, row.last_error, row.delivered_at) == (0, None, None)

    holder = PortalContext(service=world.service, clock=world.clock)  # "the other process"

    async def on_stream() -> tuple[int, str]:
        queue = holder.sse.subscribe(str(phone.device_id))
        delivered = await asyncio.to_thread(holder.dispatcher.dispatch, now=world.clock.now())
        message = await asyncio.wait_for(queue.get(), timeout=5)
        holder.sse.unsubscribe(str(phone.device_id), queue)
        return delivered, message.topic

    assert asyncio.run(on_stream()) == (1, "registration-ready")
    [row] = _rows(world, phone.device_id)
    assert row.attempts == 0 and row.delivered_at is not None
    assert holder.sse.held() == frozenset()


def test_the_push_follower_delivers_what_any_process_enqueues_at_once(world: World) -> None:
    """No worker pass: the holder's follower hears the enqueuing transaction's NOTIFY on
    PostgreSQL, and polls the held devices' rows on SQLite."""
    _, _, card = world.resident()
    phone = world.new_phone("follow", push_channel="sse")
    device_id = str(phone.device_id)
    holder = PortalContext(service=world.service, clock=world.clock)
    assert holder.follower.mode == ("poll" if world.db.is_sqlite else "listen")
    stop = threading.Event()

    async def on_stream() -> tuple[str, float]:
        queue = holder.sse.subscribe(device_id)
        follower = threading.Thread(target=holder.follower.run, args=(stop,))
        follower.start()
        try:
            await asyncio.sleep(0.3)  # listening
            await asyncio.to_thread(world.apply_for_auth, phone, card)
            # The issuance job of "another process": jobs only, no push pass.
            await asyncio.to_thread(world.service.run_jobs, now=world.clock.now(), limit=10)
            issued = time.monotonic()
            message = await asyncio.wait_for(queue.get(), timeout=5)
            return message.topic, time.monotonic() - issued
        finally:
            stop.set()
            await asyncio.to_thread(follower.join)

    topic, latency = asyncio.run(on_stream())
    assert topic == "registration-ready"
    assert latency < 1.0
    if not world.db.is_sqlite:
        assert holder.follower.heard >= 1
    [row] = _rows(world, device_id)
    assert row.attempts == 0 and row.delivered_at is not None


def test_serve_app_factory_mounts_the_portal(tmp_path: Path, monkeypatch: object) -> None:
    from mobile_jpki.api.app import DATA_DIR_ENV, app_from_env
    from mobile_jpki.phone.transport import in_process_client
    from mobile_jpki.service.ca.bootstrap import init_data_dir

    init_data_dir(tmp_path, START)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path))  # type: ignore[attr-defined]
    app = app_from_env()
    with in_process_client(app) as http:
        info = http.get("/portal/v1/info").json()
        assert info["terms_version"] and len(info["sign_ca"]) == 1
        assert http.get("/healthz").status_code == 200
        answer = http.post("/operator/v1/persons", json={}, headers={"Authorization": "Bearer x"})
        assert answer.status_code == 401
    assert (tmp_path / "portal" / "instruction-key.pem").stat().st_mode & 0o777 == 0o600
    assert isinstance(http, httpx.Client)


def test_housekeeping_forgets_expired_nonces_and_old_delivered_messages(world: World) -> None:
    _, _, card = world.resident()
    phone = world.new_phone("p")
    phone.api.nonce("revocation")  # never used
    world.apply_for_auth(phone, card)
    world.work()  # the registration-ready message is delivered
    assert world.service.housekeeping(now=world.clock.now()) == 0
    world.clock.advance(dt.timedelta(days=8))
    assert world.service.housekeeping(now=world.clock.now()) == 2  # the unused nonce, the message
    # The used nonce stays: a replay of the application is still recognised.
    assert phone.api.registrations()  # nothing else was touched
