"""Wrong device secrets, counted per (client network, device) — never per device alone.

A device credential is ``<device_id>.<secret>`` with a 256-bit random secret: guessing it
online is hopeless at any rate, so the lock that follows ``credential_failures`` wrong secrets
only slows down noise. Counted per device, it was a weapon instead: anyone who learnt a device
id (it is no secret: it is in every signed document) could send ten wrong secrets and lock the
owner out for ``credential_window``. Counted per (client, device), a stranger locks out only
their own address. Proof of possession before the secret is checked was the other choice; the
element offers no way to give it per request (docs/portal.md "Abuse limits").

The counters live in memory, bounded (LRU): a lost counter (a restart, an eviction) gives a
guesser ten more tries at a 2^256 space. With ``serve --workers N`` each process counts for
itself. The client is the peer address of the connection (uvicorn takes it from
``X-Forwarded-For`` only from a trusted proxy: ``--forwarded-allow-ips``); an IPv6 client is
its /64, the block one subscriber gets (RFC 6177 §2), so cycling addresses inside it does not
reset the count.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import threading
from collections import OrderedDict
from dataclasses import dataclass


def client_key(host: str | None) -> str:
    """The network a counter is kept for: an IPv4 address, an IPv6 /64, else the name."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is an IPv4 client
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class _Counter:
    failures: int = 0
    locked_until: dt.datetime | None = None


class CredentialFailures:
    """Failure counters per ``(client, device_id)``; at most ``size`` of them (LRU)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()  # uvicorn's thread pool authenticates side by side
        self._counters: OrderedDict[tuple[str, str], _Counter] = OrderedDict()

    def locked_until(self, key: tuple[str, str], now: dt.datetime) -> dt.datetime | None:
        """When this client's lock on this device ends, None if it is not locked now."""
        with self._lock:
            counter = self._counters.get(key)
            if counter is None or counter.locked_until is None:
                return None
            if counter.locked_until <= now:
                del self._counters[key]  # the lock ran out: the count starts afresh
                return None
            return counter.locked_until

    def succeeded(self, key: tuple[str, str]) -> None:
        """A right secret resets this client's count (as a PIN counter does)."""
        with self._lock:
            self._counters.pop(key, None)

    def failed(
        self, key: tuple[str, str], *, now: dt.datetime, limit: int, window: dt.timedelta
    ) -> bool:
        """Count a wrong secret; True when it is the one that locks (``limit`` reached)."""
        with self._lock:
            counter = self._counters.get(key)
            if counter is None:
                counter = self._counters[key] = _Counter()
                while len(self._counters) > self._size:
                    self._counters.popitem(last=False)
            self._counters.move_to_end(key)
            counter.failures += 1
            if counter.failures < limit:
                return False
            counter.failures = 0
            counter.locked_until = now + window
            return True
