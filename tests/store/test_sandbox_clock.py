"""The sandbox clock (clock.SandboxClock over store.clock_offset.DbOffsetStore): every process
on a data directory agrees within the cache time, time only moves forward, reset returns to the
wall clock; and a clock that is not a sandbox's cannot be moved."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobile_jpki.clock import (
    ClockNotMovable,
    FixedClock,
    MovableClock,
    SandboxClock,
    SystemClock,
    advance_clock,
    is_movable,
)
from mobile_jpki.settings import Settings
from mobile_jpki.store.clock_offset import DbOffsetStore, NotASandbox, clock_for, sandbox_clock
from mobile_jpki.store.db import Database

START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'clock.db'}")
    database.migrate()
    yield database
    database.dispose()


class Ticks:
    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


def test_two_processes_agree_within_the_cache_time(db: Database) -> None:
    wall = FixedClock(START)
    ticks = Ticks()
    cli = SandboxClock(DbOffsetStore(db), base=wall, monotonic=ticks)
    # `serve` runs in another process: its own store object and engine on the same database.
    other = Database(db.url)
    served = SandboxClock(DbOffsetStore(other), base=wall, monotonic=ticks, cache_seconds=1.0)
    try:
        assert served.now() == START  # read once, cached
        assert cli.advance(dt.timedelta(hours=49)) == START + dt.timedelta(hours=49)
        ticks.value = 0.9
        assert served.now() == START  # still cached
        ticks.value = 1.0
        assert served.now() == START + dt.timedelta(hours=49)
    finally:
        other.dispose()


def test_offsets_add_up_in_whole_seconds_and_only_forward(db: Database) -> None:
    clock = SandboxClock(DbOffsetStore(db), base=FixedClock(START))
    clock.advance(dt.timedelta(minutes=30))
    clock.advance(dt.timedelta(seconds=90, microseconds=500))
    assert clock.now() == START + dt.timedelta(minutes=31, seconds=30)
    for bad in (dt.timedelta(0), dt.timedelta(hours=-1)):
        with pytest.raises(ValueError, match="forward"):
            clock.advance(bad)
    assert clock.reset() == START
    assert clock.now() == START and DbOffsetStore(db).read() == dt.timedelta(0)


def test_only_a_sandbox_data_directory_reads_or_moves_the_offset(
    db: Database, tmp_path: Path
) -> None:
    DbOffsetStore(db).add(dt.timedelta(days=3))
    real = Settings(data_dir=tmp_path)
    wall = FixedClock(START)
    assert clock_for(real, db, base=wall) is wall  # the stored offset is never read
    with pytest.raises(NotASandbox, match="not a sandbox"):
        sandbox_clock(real, db)
    sandbox = Settings(data_dir=tmp_path, sandbox=True)
    assert clock_for(sandbox, db, base=wall).now() == START + dt.timedelta(days=3)


def test_the_wall_clock_cannot_be_moved(db: Database) -> None:
    assert not is_movable(SystemClock())
    with pytest.raises(ClockNotMovable):
        advance_clock(SystemClock(), dt.timedelta(hours=49))
    for movable in (FixedClock(START), SandboxClock(DbOffsetStore(db))):
        assert isinstance(movable, MovableClock) and is_movable(movable)
