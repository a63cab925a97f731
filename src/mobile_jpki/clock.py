"""Time as an injected dependency.

Every issuance, revocation, OCSP and CRL function takes ``now`` explicitly; the edges (CLI, API,
emulated devices) obtain it from a :class:`Clock` so tests can move time (the 48-hour deletion
window, certificate expiry, OCSP freshness) without sleeping.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Protocol


class Clock(Protocol):
    """Source of the current time. Always timezone-aware UTC."""

    def now(self) -> dt.datetime: ...


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
