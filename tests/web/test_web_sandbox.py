"""The simulator's sandbox bounds (web/sandbox.py): session cap, creation rates per client and
overall, idle and absolute expiry, cleanup by the sweeper and at shutdown; the 429 answers."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from sim_helpers import RecordingFactory

from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.web.sandbox import (
    SessionRefused,
    SimulatorLimits,
    SimulatorSessions,
    install_sweeper,
)
from mobile_jpki.web.simulator import SimulatorWorld, create_simulator_app


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _sessions(**limits: float) -> tuple[SimulatorSessions[str], Clock, list[str]]:
    clock, closed = Clock(), []
    sessions: SimulatorSessions[str] = SimulatorSessions(
        SimulatorLimits(**limits),  # type: ignore[arg-type]
        close=closed.append,
        monotonic=clock,
    )
    return sessions, clock, closed


def _make(sessions: SimulatorSessions[str], sid: str, client: str = "10.0.0.1") -> None:
    sessions.reserve(client)
    sessions.add(sid, sid)


def test_the_cap_refuses_a_new_session_and_counts_those_being_made() -> None:
    sessions, _, _ = _sessions(max_sessions=2, per_client_per_minute=10, per_minute=10)
    _make(sessions, "a", "1.1.1.1")
    sessions.reserve("2.2.2.2")  # being made: holds the second slot already
    with pytest.raises(SessionRefused, match="maximum of 2"):
        sessions.reserve("3.3.3.3")
    sessions.unreserve()  # that one failed: its slot is free again
    _make(sessions, "b", "3.3.3.3")
    assert len(sessions) == 2


def test_rate_limits_per_client_and_overall_with_a_one_minute_window() -> None:
    sessions, clock, _ = _sessions(max_sessions=100, per_client_per_minute=2, per_minute=3)
    _make(sessions, "a1", "1.1.1.1")
    _make(sessions, "a2", "1.1.1.1")
    with pytest.raises(SessionRefused, match="from this address") as refused:
        sessions.reserve("1.1.1.1")
    assert 1 <= refused.value.retry_after <= 61
    _make(sessions, "b1", "2.2.2.2")  # another address still may
    with pytest.raises(SessionRefused, match="on this server"):
        sessions.reserve("3.3.3.3")  # ... until the server-wide rate is used up
    clock.t += 61
    _make(sessions, "a3", "1.1.1.1")
    assert len(sessions) == 4


def test_idle_and_absolute_expiry_close_the_session() -> None:
    sessions, clock, closed = _sessions(idle_seconds=100, lifetime_seconds=250)
    _make(sessions, "idle")
    _make(sessions, "busy")
    for _ in range(2):  # "busy" is used every 90 s: never idle, but it grows old
        clock.t += 90
        assert sessions.get("busy") == "busy"
    assert sessions.sweep() == 1 and closed == ["idle"]
    assert sessions.get("idle") is None
    clock.t += 80  # 260 s old, used 80 s ago: the lifetime ends it
    assert sessions.get("busy") is None
    assert closed == ["idle", "busy"] and len(sessions) == 0


def test_close_all_and_a_failing_cleanup_does_not_stop_the_others() -> None:
    def close(sid: str) -> None:
        if sid == "bad":
            raise RuntimeError("portal down")
        closed.append(sid)

    closed: list[str] = []
    sessions: SimulatorSessions[str] = SimulatorSessions(close=close)
    for sid in ("bad", "good"):
        _make(sessions, sid)
    assert sessions.close_all() == 2
    assert closed == ["good"] and len(sessions) == 0


def test_limits_travel_as_json_and_refuse_nonsense() -> None:
    limits = SimulatorLimits(max_sessions=3, idle_seconds=60)
    assert SimulatorLimits.from_json(limits.to_json()) == limits
    assert SimulatorLimits.from_json("1") == SimulatorLimits()
    with pytest.raises(ValueError, match="max_sessions"):
        SimulatorLimits(max_sessions=0)


def test_the_sweeper_runs_in_the_lifespan_and_closes_everything_at_shutdown() -> None:
    from fastapi import FastAPI

    closed: list[str] = []
    sessions: SimulatorSessions[str] = SimulatorSessions(
        SimulatorLimits(idle_seconds=0.05, sweep_seconds=0.02), close=closed.append
    )
    app = FastAPI()
    install_sweeper(app, sessions)

    async def run() -> None:
        async with app.router.lifespan_context(app):
            _make(sessions, "expires")
            await asyncio.sleep(0.3)
            assert closed == ["expires"]  # the background sweep, nobody came back
            _make(sessions, "live-at-shutdown")
        assert closed == ["expires", "live-at-shutdown"]

    asyncio.run(run())


# --- over HTTP: the 429 answers create nothing ----------------------------------------------


def _client(app: object) -> httpx.Client:
    return in_process_client(app, base_url="http://sim.test")


def test_cap_reached_is_a_429_page_and_no_world_is_made() -> None:
    factory = RecordingFactory()
    app = create_simulator_app(factory, limits=SimulatorLimits(max_sessions=2))
    for _ in range(2):
        with _client(app) as c:
            assert c.get("/simulator/").status_code == 200
    with _client(app) as c:
        r = c.get("/simulator/")
    assert r.status_code == 429
    assert r.headers["content-type"].startswith("text/html")
    assert int(r.headers["retry-after"]) > 0
    assert 'data-testid="refused"' in r.text and "maximum of 2" in r.text
    assert 'data-testid="sandbox-banner"' in r.text
    assert len(factory.worlds) == 2  # the refused visitor made nothing


def test_creation_rate_per_client_is_a_429_and_start_over_is_charged_too() -> None:
    factory = RecordingFactory()
    app = create_simulator_app(factory, limits=SimulatorLimits(per_client_per_minute=2))
    with _client(app) as c:
        assert c.get("/simulator/").status_code == 200
        assert c.post("/simulator/operator", json={"action": "reset"}).status_code == 200
        r = c.post("/simulator/operator", json={"action": "reset"})
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 429 and "this address" in r.json()["detail"]
        assert c.post("/simulator/poll").status_code == 200  # the session itself lives on
    with _client(app) as other:
        assert other.get("/simulator/").status_code == 429
    assert len(factory.worlds) == 2


def test_start_over_closes_the_world_it_replaces() -> None:
    closed: list[SimulatorWorld] = []
    inner = RecordingFactory()

    def factory() -> SimulatorWorld:
        world = inner()
        world.close = lambda: closed.append(world)
        return world

    app = create_simulator_app(factory)
    with _client(app) as c:
        c.get("/simulator/")
        c.post("/simulator/operator", json={"action": "reset"})
    assert len(closed) == 1


def test_an_expired_session_is_closed_and_its_cookie_no_longer_works() -> None:
    closed: list[SimulatorWorld] = []
    inner = RecordingFactory()

    def factory() -> SimulatorWorld:
        world = inner()
        world.close = lambda: closed.append(world)
        return world

    app = create_simulator_app(factory, limits=SimulatorLimits(idle_seconds=0.2))
    with _client(app) as c:
        c.get("/simulator/")
        assert c.post("/simulator/poll").status_code == 200
        time.sleep(0.3)
        assert c.post("/simulator/poll").status_code == 409  # reload the page
        assert len(closed) == 1
        assert c.get("/simulator/").status_code == 200  # a new session
    assert len(inner.worlds) == 2
