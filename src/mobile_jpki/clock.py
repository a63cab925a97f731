"""Time as an injected dependency.

Every issuance, revocation, OCSP and CRL function takes ``now`` explicitly; the edges (CLI, API,
emulated devices) obtain it from a :class:`Clock` so tests can move time (the 48-hour deletion
window, certificate expiry, OCSP freshness) without sleeping.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable


class Clock(Protocol):
    """Source of the current time. Always timezone-aware UTC."""

    def now(self) -> dt.datetime: ...


@runtime_checkable
class MovableClock(Clock, Protocol):
    """A clock a tester may move forward (:class:`FixedClock`, :class:`SandboxClock`). The
    wall clock of a real CA is never one: see docs/cli.md "mobile-jpki clock"."""

    def advance(self, delta: dt.timedelta) -> dt.datetime: ...


class ClockNotMovable(Exception):
    """The clock is the wall clock (a real CA's, or a data directory that is not a sandbox)."""


def is_movable(clock: Clock) -> bool:
    """Whether a tester may move ``clock`` (the simulator shows its 48-hour button then)."""
    return isinstance(clock, MovableClock)


def advance_clock(clock: Clock, delta: dt.timedelta) -> dt.datetime:
    """Move ``clock`` forward by ``delta`` and return the new time; :class:`ClockNotMovable`
    for the wall clock. What the simulator's operator panel and the operator API call."""
    if not isinstance(clock, MovableClock):
        raise ClockNotMovable("this clock is the wall clock and cannot be moved")
    return clock.advance(delta)


class SystemClock:
    """The wall clock, in UTC, truncated to whole seconds (X.509 and OCSP carry seconds)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)

    def timestamp(self) -> float:
        """``now().timestamp()`` without building the datetime (the OCSP front door asks on
        every request)."""
        return float(int(time.time()))


class FixedClock:
    """A clock that only moves when told to: the in-tree fake for tests and the demo."""

    def __init__(self, start: dt.datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = start.astimezone(dt.UTC)

    def now(self) -> dt.datetime:
        return self._now

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        self._now = self._now + delta
        return self._now

    def set(self, when: dt.datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self._now = when.astimezone(dt.UTC)


class OffsetStore(Protocol):
    """Where a sandbox keeps how far its clock runs ahead of the wall clock (the database of the
    data directory, so every process on it agrees: ``store.clock_offset``)."""

    def read(self) -> dt.timedelta: ...

    def add(self, delta: dt.timedelta) -> dt.timedelta:
        """Add ``delta`` atomically; return the new offset."""
        ...

    def clear(self) -> None: ...


class SandboxClock:
    """The wall clock plus a persisted offset that only grows (until :meth:`reset`).

    Every process on a sandbox data directory (``serve`` workers, CLI commands) reads the
    offset from the store, cached for at most ``cache_seconds``, so after ``clock advance`` they
    all agree within that time. Only forward: going back would let a later CRL or OCSP answer
    carry an earlier thisUpdate than one already published (RFC 5280 §5.1.2.4, RFC 6960
    §4.2.2.1), and certificates issued in the moved time would not yet be valid."""

    def __init__(
        self,
        store: OffsetStore,
        *,
        base: Clock | None = None,
        cache_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._base = base or SystemClock()
        self._cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._offset = dt.timedelta(0)
        self._read_at: float | None = None

    def offset(self) -> dt.timedelta:
        """The offset, read from the store at most once per ``cache_seconds``."""
        with self._lock:
            tick = self._monotonic()
            if self._read_at is None or tick - self._read_at >= self._cache_seconds:
                self._offset = self._store.read()
                self._read_at = tick
            return self._offset

    def now(self) -> dt.datetime:
        return self._base.now() + self.offset()

    def advance(self, delta: dt.timedelta) -> dt.datetime:
        if delta <= dt.timedelta(0):
            raise ValueError("the sandbox clock only moves forward")
        # Whole seconds: X.509 and OCSP carry seconds, and SystemClock truncates to them.
        offset = self._store.add(dt.timedelta(seconds=int(delta.total_seconds())))
        with self._lock:
            self._offset, self._read_at = offset, self._monotonic()
        return self._base.now() + offset

    def reset(self) -> dt.datetime:
        """Back to the wall clock (docs/cli.md says what stays dated in the moved time)."""
        self._store.clear()
        with self._lock:
            self._offset, self._read_at = dt.timedelta(0), self._monotonic()
        return self._base.now()
