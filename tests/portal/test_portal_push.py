"""The outbox: written with the change, delivered at least once, retried with backoff while the
phone is unreachable; and serve's app factory mounting the portal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
from portal_world import START, World
from sqlalchemy import select

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
