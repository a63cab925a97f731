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


class PushNotHere(PushUndeliverable):
    """This process holds no stream of the device. Not a failed attempt: the process that
    holds one delivers the message, and with none anywhere the stream's replay on connect
    does (docs/portal.md "Push")."""


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
    """Connected SSE streams of THIS process, by device. A device with no stream here is
    :class:`PushNotHere`: another ``serve`` process may hold it (the outbox leaves the message
    to that one), and a stream replays the undelivered messages when it connects."""

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
            left = [(lp, q) for lp, q in self._queues[device_id] if q is not queue]
            if left:
                self._queues[device_id] = left
            else:
                del self._queues[device_id]

    def held(self) -> frozenset[str]:
        """The devices with an open stream in this process."""
        with self._lock:
            return frozenset(d for d, targets in self._queues.items() if targets)

    def send(self, message: PushMessage) -> None:
        with self._lock:
            targets = list(self._queues.get(message.device_id, []))
        if not targets:
            raise PushNotHere("no open event stream in this process")
        for loop, queue in targets:
            loop.call_soon_threadsafe(queue.put_nowait, message)
