"""Push channels: how an outbox message reaches a phone.

:class:`PushChannel` is the one interface; :class:`InProcessChannel` is the in-tree channel
(demo, tests: an inbox per device, with a switch to simulate an unreachable phone) and
:class:`SseHub` feeds the authenticated server-sent-events stream of each connected device.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .outbox import PushMessage


class PushUndeliverable(Exception):
    """The phone cannot be reached now; the outbox retries later."""


class PushChannel(Protocol):
    def send(self, message: PushMessage) -> None:
        """Deliver or raise :class:`PushUndeliverable`."""
        ...


class InProcessChannel:
    """Per-device inboxes in memory. ``offline`` devices raise :class:`PushUndeliverable`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inboxes: dict[str, list[PushMessage]] = defaultdict(list)
        self.offline: set[str] = set()

    def send(self, message: PushMessage) -> None:
        with self._lock:
            if message.device_id in self.offline:
                raise PushUndeliverable(f"device {message.device_id} offline")
            self._inboxes[message.device_id].append(message)

    def inbox(self, device_id: str) -> list[PushMessage]:
        with self._lock:
            return list(self._inboxes[device_id])

    def drain(self, device_id: str) -> list[PushMessage]:
        with self._lock:
            out = self._inboxes.pop(device_id, [])
        return out


class SseHub:
    """Connected SSE streams by device; a device with no open stream is undeliverable (the
    outbox retries, and the stream replays undelivered messages on connect anyway)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[
            str, list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[PushMessage]]]
        ] = defaultdict(list)

    def subscribe(self, device_id: str) -> asyncio.Queue[PushMessage]:
        queue: asyncio.Queue[PushMessage] = asyncio.Queue()
        with self._lock:
            self._queues[device_id].append((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, device_id: str, queue: asyncio.Queue[PushMessage]) -> None:
        with self._lock:
            self._queues[device_id] = [
                (lp, q) for lp, q in self._queues[device_id] if q is not queue
            ]

    def send(self, message: PushMessage) -> None:
        with self._lock:
            targets = list(self._queues.get(message.device_id, []))
        if not targets:
            raise PushUndeliverable("no open event stream")
        for loop, queue in targets:
            loop.call_soon_threadsafe(queue.put_nowait, message)
