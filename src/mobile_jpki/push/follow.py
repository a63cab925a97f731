"""Pushing across ``serve`` processes: the process that holds a device's event stream learns
at once that a message is due for it (docs/portal.md "Push").

Every ``serve`` process (``--workers N`` or several hosts on one database) keeps its event
streams in memory (:class:`~mobile_jpki.push.channels.SseHub`), so only the process holding a
device's stream can deliver to it. :class:`PushFollower` runs beside the worker loop:

- on PostgreSQL it keeps ONE dedicated connection (outside the pool, autocommit) listening on
  :data:`~mobile_jpki.push.outbox.NOTIFY_CHANNEL`; the enqueuing transaction NOTIFYs the
  device id (:func:`~mobile_jpki.push.outbox.announce`, delivered on commit), and a process
  holding that device's stream delivers the device's due messages at once. A lost connection
  is re-opened with backoff; notifications missed meanwhile are caught by a pass over the held
  devices after every (re)connect, and by the worker's poll in any case;
- on SQLite (one host; several processes share the file in WAL mode) there is nothing to
  listen to: it polls the outbox every ``poll_interval`` seconds, only for the devices whose
  stream this process holds and only while it holds any (an indexed look-up on
  ``portal_outbox.device_id``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from mobile_jpki.clock import Clock
from mobile_jpki.store.db import Database

from .channels import SseHub
from .outbox import NOTIFY_CHANNEL, Dispatcher

log = logging.getLogger("mobile_jpki.push")

#: SQLite: seconds between two looks at the held devices' outbox rows.
POLL_INTERVAL = 0.2
#: PostgreSQL: seconds the listener waits for notifications before looking at ``stop``.
LISTEN_SLICE = 0.5
#: PostgreSQL: the longest wait before re-opening a lost listening connection.
RECONNECT_CAP = 30.0


class PushFollower:
    """Delivers a due message at once in the process holding its device's stream."""

    def __init__(
        self,
        db: Database,
        dispatcher: Dispatcher,
        streams: SseHub,
        clock: Clock,
        *,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._streams = streams
        self._clock = clock
        self._poll_interval = poll_interval
        #: Notifications received (PostgreSQL); for tests and diagnostics.
        self.heard = 0

    @property
    def mode(self) -> str:
        """``listen`` (PostgreSQL with psycopg 3) or ``poll``."""
        return "listen" if self._connect_args() is not None else "poll"

    def run(self, stop: threading.Event) -> None:
        """The follower's loop until ``stop`` is set."""
        connect = self._connect_args()
        if connect is None:
            self._poll(stop)
        else:
            self._listen(stop, connect)

    # --- SQLite (or a driver without LISTEN) -------------------------------------------------
    def _poll(self, stop: threading.Event) -> None:
        while not stop.wait(self._poll_interval):
            self._deliver_held()

    def _deliver_held(self, devices: frozenset[str] | None = None) -> None:
        held = self._streams.held()
        targets = held if devices is None else held & devices
        if not targets:
            return
        try:
            self._dispatcher.deliver_to(targets, now=self._clock.now())
        except Exception:  # the worker's pass retries; the follower must go on
            log.exception("push delivery to held streams failed")

    # --- PostgreSQL ----------------------------------------------------------------------------
    def _connect_args(self) -> Callable[[], Any] | None:
        """How to open the listening connection, or None when there is nothing to listen to."""
        engine = self._db.engine
        if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg":
            return None
        import psycopg

        args, kwargs = engine.dialect.create_connect_args(engine.url)

        def connect() -> psycopg.Connection[Any]:
            return psycopg.connect(*args, **{**kwargs, "autocommit": True})

        return connect

    def _listen(self, stop: threading.Event, connect: Callable[[], Any]) -> None:
        import psycopg

        delay = 0.5
        while not stop.is_set():
            try:
                with connect() as conn:
                    conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    delay = 0.5
                    # What was announced while nobody listened (start-up, reconnect).
                    self._deliver_held()
                    while not stop.is_set():
                        # psycopg >= 3.2: the generator ends after ``timeout`` seconds, so
                        # ``stop`` is looked at twice a second.
                        for note in conn.notifies(timeout=LISTEN_SLICE):
                            self.heard += 1
                            self._deliver_held(frozenset([note.payload]))
            except psycopg.Error as exc:
                if stop.is_set():
                    return
                log.warning(
                    "push listener lost its connection (%s); retrying in %.1f s", exc, delay
                )
                stop.wait(delay)
                delay = min(delay * 2, RECONNECT_CAP)
