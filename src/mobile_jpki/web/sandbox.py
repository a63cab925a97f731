"""The simulator's sandbox bounds: how many sessions live, how fast they are made, how long
they last, and their cleanup (issue 16 §2; docs/security.md "The simulator sandbox").

A simulator session is expensive and leaves traces on a real portal (a resident, a card, two
phones, four certificates, state files, an API key), so an anonymous visitor must not be able
to mint them without bound. :class:`SimulatorSessions` holds the live sessions and refuses a
new one (:class:`SessionRefused`, answered 429) when the cap or a rate limit is reached; a
session idle too long or alive too long is closed — its world's ``close`` revokes and
removes what it made — by :meth:`SimulatorSessions.sweep`, which :func:`install_sweeper` runs
periodically in the app's lifespan, and by :meth:`SimulatorSessions.close_all` at shutdown.

Times are the process's monotonic clock, not the sandbox's (movable) clock: the limits protect
the server, whatever the simulated date.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field
from typing import Generic, TypeVar

from fastapi import FastAPI

log = logging.getLogger("mobile_jpki.web")

WINDOW = 60.0  # seconds: the rate limits count creations per minute


@dataclass(frozen=True)
class SimulatorLimits:
    """The sandbox's bounds (``serve --simulator-*`` options). Durations in seconds."""

    max_sessions: int = 16
    per_client_per_minute: int = 4
    per_minute: int = 16
    idle_seconds: float = 30 * 60.0
    lifetime_seconds: float = 4 * 3600.0
    sweep_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if value <= 0:
                raise ValueError(f"simulator limit {name} must be positive, not {value}")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SimulatorLimits:
        """What ``serve`` hands its worker processes (an environment variable); ``"1"`` or
        ``"{}"`` is the defaults."""
        data = json.loads(text) if text.strip().startswith("{") else {}
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


class SessionRefused(Exception):
    """No new session now: ``str(self)`` says why, ``retry_after`` when to try (seconds)."""

    def __init__(self, why: str, retry_after: int) -> None:
        super().__init__(why)
        self.retry_after = retry_after


S = TypeVar("S")


@dataclass
class _Entry(Generic[S]):
    session: S
    created: float
    seen: float


@dataclass
class _Rate:
    """Creation times in the last :data:`WINDOW`, globally and per client address."""

    per_client: dict[str, deque[float]] = field(default_factory=dict)
    overall: deque[float] = field(default_factory=deque)

    def prune(self, now: float) -> None:
        cutoff = now - WINDOW
        while self.overall and self.overall[0] <= cutoff:
            self.overall.popleft()
        for client in list(self.per_client):
            times = self.per_client[client]
            while times and times[0] <= cutoff:
                times.popleft()
            if not times:  # the table holds only clients seen in the window
                del self.per_client[client]


class SimulatorSessions(Generic[S]):
    """Live sessions by id, bounded by :class:`SimulatorLimits`. ``close`` ends one session
    (called outside the registry's lock; it may take seconds on a real portal)."""

    def __init__(
        self,
        limits: SimulatorLimits | None = None,
        *,
        close: Callable[[S], None] = lambda _s: None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = limits or SimulatorLimits()
        self._close = close
        #: The clock of idle and lifetime (tests move it).
        self.monotonic = monotonic
        self._entries: OrderedDict[str, _Entry[S]] = OrderedDict()
        self._pending = 0  # sessions being made: they count against the cap already
        self._rate = _Rate()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _expired(self, entry: _Entry[S], now: float) -> bool:
        return (
            now - entry.seen > self.limits.idle_seconds
            or now - entry.created > self.limits.lifetime_seconds
        )

    def get(self, sid: str | None) -> S | None:
        """The live session ``sid`` (its idle time restarts), or None. An expired one is
        closed here rather than waiting for the sweep."""
        now = self.monotonic()
        with self._lock:
            entry = self._entries.get(sid or "")
            if entry is None:
                return None
            if not self._expired(entry, now):
                entry.seen = now
                self._entries.move_to_end(sid or "")
                return entry.session
            del self._entries[sid or ""]
        self._end(entry.session)
        return None

    def _charge(self, client: str, now: float) -> None:
        """Count one creation against the rate limits, or refuse (the caller holds the lock)."""
        self._rate.prune(now)
        mine = self._rate.per_client.get(client)
        if mine is not None and len(mine) >= self.limits.per_client_per_minute:
            raise SessionRefused(
                "too many new simulator sessions from this address; try again in a minute",
                max(1, int(mine[0] + WINDOW - now) + 1),
            )
        if len(self._rate.overall) >= self.limits.per_minute:
            raise SessionRefused(
                "too many new simulator sessions on this server; try again in a minute",
                max(1, int(self._rate.overall[0] + WINDOW - now) + 1),
            )
        self._rate.per_client.setdefault(client, deque()).append(now)
        self._rate.overall.append(now)

    def reserve(self, client: str) -> None:
        """Admit the making of a new session for ``client``, or raise :class:`SessionRefused`
        (nothing is made then). Pair with :meth:`add` or :meth:`unreserve`."""
        self.sweep()
        now = self.monotonic()
        with self._lock:
            if len(self._entries) + self._pending >= self.limits.max_sessions:
                raise SessionRefused(
                    f"the simulator has its maximum of {self.limits.max_sessions} live "
                    "sessions; try again later",
                    int(min(self.limits.idle_seconds, 300)),
                )
            self._charge(client, now)
            self._pending += 1

    def unreserve(self) -> None:
        with self._lock:
            self._pending -= 1

    def add(self, sid: str, session: S) -> None:
        now = self.monotonic()
        with self._lock:
            self._pending -= 1
            self._entries[sid] = _Entry(session, now, now)

    def charge_rebuild(self, client: str) -> None:
        """A session remakes its world ("start over"): it costs a creation, not a slot."""
        with self._lock:
            self._charge(client, self.monotonic())

    def sweep(self) -> int:
        """Close every expired session; returns how many."""
        now = self.monotonic()
        with self._lock:
            gone = [sid for sid, e in self._entries.items() if self._expired(e, now)]
            ended = [self._entries.pop(sid).session for sid in gone]
        for session in ended:
            self._end(session)
        return len(ended)

    def close_all(self) -> int:
        """Close every session (the server stops)."""
        with self._lock:
            ended = [e.session for e in self._entries.values()]
            self._entries.clear()
        for session in ended:
            self._end(session)
        return len(ended)

    def _end(self, session: S) -> None:
        try:
            self._close(session)
        except Exception:  # one failed cleanup must not stop the others, nor the sweeper
            log.exception("simulator session cleanup failed")


def install_sweeper(app: FastAPI, sessions: SimulatorSessions[S]) -> None:
    """Run ``sessions.sweep`` every ``sweep_seconds`` for the app's lifetime and close every
    session when it stops (wrapped around the app's existing lifespan)."""
    inner = app.router.lifespan_context

    async def loop() -> None:
        while True:
            await asyncio.sleep(sessions.limits.sweep_seconds)
            await asyncio.to_thread(sessions.sweep)

    @contextlib.asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            task = asyncio.create_task(loop())
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await asyncio.to_thread(sessions.close_all)

    app.router.lifespan_context = lifespan
