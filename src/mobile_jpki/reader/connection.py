"""The one I/O edge to a card: raw APDUs in, raw response APDUs out.

Connections stay raw on purpose (no automatic GET RESPONSE, no retry): response chaining and
status-word interpretation are the client's job (:mod:`mobile_jpki.reader.commands`), so a test can
see exactly the bytes a real reader would carry and the same client runs over every transport.
"""

from __future__ import annotations

from typing import Protocol

from mobile_jpki.protocol.apdu import split_response
from mobile_jpki.reader.errors import TransportError


class CardConnection(Protocol):
    """A powered card in a reader (ISO 7816-3 cold reset = :meth:`reconnect`)."""

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        """Send one command APDU; return (response data, SW1SW2 as an int)."""
        ...

    def atr(self) -> bytes:
        """The answer to reset of the current power-up."""
        ...

    def reconnect(self) -> None:
        """Power-cycle the card: every RAM security state is lost (docs/apdu.md)."""
        ...

    def close(self) -> None: ...


class Applet(Protocol):
    """What :class:`InProcessConnection` needs from an applet (``mobile_jpki.applet``)."""

    def power_on(self) -> bytes: ...

    def process(self, apdu: bytes) -> bytes: ...


class InProcessConnection:
    """An applet object in this process, as if it sat in a reader."""

    def __init__(self, applet: Applet) -> None:
        self._applet = applet
        self._atr = applet.power_on()
        self._closed = False

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        if self._closed:
            raise TransportError("connection closed")
        response = self._applet.process(bytes(apdu))
        try:
            return split_response(response)
        except ValueError as exc:  # shorter than a status word
            raise TransportError(str(exc)) from exc

    def atr(self) -> bytes:
        return self._atr

    def reconnect(self) -> None:
        self._atr = self._applet.power_on()
        self._closed = False

    def close(self) -> None:
        self._closed = True

    def __enter__(self) -> InProcessConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TracingConnection:
    """Wraps a connection and records every exchange: for tests, debugging and ``--trace``."""

    def __init__(self, inner: CardConnection) -> None:
        self.inner = inner
        self.log: list[tuple[bytes, bytes, int]] = []

    def transmit(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw = self.inner.transmit(apdu)
        self.log.append((bytes(apdu), data, sw))
        return data, sw

    def atr(self) -> bytes:
        return self.inner.atr()

    def reconnect(self) -> None:
        self.inner.reconnect()

    def close(self) -> None:
        self.inner.close()
