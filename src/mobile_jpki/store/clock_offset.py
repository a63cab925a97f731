"""The sandbox clock's offset in the data directory's database (table ``sandbox_clock``), and
the clock every process on a data directory uses (:func:`clock_for`).

A data directory is a sandbox when its settings.json says ``"sandbox": true`` (``ca init
--sandbox``, ``mobile-jpki demo``). Only then is the offset read, and only then may it be
moved: a real CA's clock is the wall clock, always (docs/cli.md "mobile-jpki clock").
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from mobile_jpki.clock import Clock, SandboxClock, SystemClock
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import SandboxClockOffset

_ROW = 1


class NotASandbox(Exception):
    """The data directory is not a sandbox: its clock cannot be moved."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            f"{settings.data_dir} is not a sandbox data directory: its clock is the wall clock "
            "and cannot be moved (create one with `mobile-jpki ca init --sandbox` or "
            "`mobile-jpki demo`)"
        )


class DbOffsetStore:
    """:class:`~mobile_jpki.clock.OffsetStore` on the ``sandbox_clock`` row."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def read(self) -> dt.timedelta:
        with self.db.transaction(write=False) as s:
            seconds = s.scalar(
                select(SandboxClockOffset.offset_seconds).where(SandboxClockOffset.id == _ROW)
            )
        return dt.timedelta(seconds=seconds or 0)

    def add(self, delta: dt.timedelta) -> dt.timedelta:
        # One write transaction (SQLite BEGIN IMMEDIATE, PostgreSQL FOR UPDATE): two
        # `clock advance` at once both count.
        with self.db.transaction() as s:
            query = select(SandboxClockOffset).where(SandboxClockOffset.id == _ROW)
            row = s.scalar(self.db.lock(query))
            now = SystemClock().now()
            if row is None:
                row = SandboxClockOffset(id=_ROW, offset_seconds=0, updated_at=now)
                s.add(row)
            row.offset_seconds += int(delta.total_seconds())
            row.updated_at = now
            return dt.timedelta(seconds=row.offset_seconds)

    def clear(self) -> None:
        with self.db.transaction() as s:
            s.execute(delete(SandboxClockOffset))


def sandbox_clock(settings: Settings, db: Database) -> SandboxClock:
    """The movable clock of a sandbox data directory; :class:`NotASandbox` for any other."""
    if not settings.sandbox:
        raise NotASandbox(settings)
    return SandboxClock(DbOffsetStore(db))


def clock_for(settings: Settings, db: Database, *, base: Clock | None = None) -> Clock:
    """The clock of every process on this data directory: the wall clock (``base``), plus the
    stored offset when, and only when, the data directory is a sandbox."""
    wall = base or SystemClock()
    if not settings.sandbox:
        return wall
    return SandboxClock(DbOffsetStore(db), base=wall)
