"""Attach an emulated applet to ``vsmartcard-vpcd`` so every PC/SC program sees it in a reader.

vpcd is a pcscd reader driver (Debian ``vsmartcard-vpcd``, ``/etc/reader.conf.d/vpcd``): for each
of its slots it listens on TCP (port 0x8C7B = 35963 for the first slot, +1 for the next) and waits
for a virtual card to connect. We are that card: a TCP *client*. Every message, both ways, is a
2-byte big-endian length and a payload (the vsmartcard "vpcd/vpicc" protocol):

- a 1-byte payload from vpcd is a control code: ``00`` power off, ``01`` power on, ``02`` reset
  (no answer to any of these), ``04`` get ATR (answer: the ATR);
- any longer payload is a command APDU (answer: the response APDU, data + SW1SW2).

pcscd's T=1 framing happens inside vpcd: the applet sees exactly the APDUs the application sent
(extended lengths included), which is what makes OpenSC-through-vpcd a fidelity test.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType

from mobile_jpki.reader.connection import Applet
from mobile_jpki.reader.errors import TransportError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0x8C7B  # 35963, vpcd's first slot in Debian's /etc/reader.conf.d/vpcd

_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)  # Linux only

CTRL_POWER_OFF = 0x00
CTRL_POWER_ON = 0x01
CTRL_RESET = 0x02
CTRL_GET_ATR = 0x04


@dataclass(frozen=True)
class BridgeStats:
    connections: int
    apdus: int


class _Stopped(Exception):
    pass


class VpcdBridge:
    """Serve one applet to one vpcd slot until :meth:`stop`.

    Reconnects with exponential backoff (``retry_initial`` doubling up to ``retry_max``) while
    vpcd is not listening yet and after pcscd goes away, so ``mobile-jpki card vpcd`` can be
    started before or after pcscd. ``process`` is only ever called from the serving thread: the
    applet needs no locking.
    """

    def __init__(
        self,
        applet: Applet,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        retry_initial: float = 0.05,
        retry_max: float = 2.0,
        poll: float = 0.2,
        on_connect: Callable[[], None] | None = None,
    ) -> None:
        self.applet = applet
        self.host = host
        self.port = port
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.poll = poll
        self.on_connect = on_connect
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._connections = 0
        self._apdus = 0
        self._atr: bytes | None = None

    @property
    def stats(self) -> BridgeStats:
        return BridgeStats(self._connections, self._apdus)

    def stop(self) -> None:
        """Ask the serving loop to end (thread-safe, signal-safe); it closes its socket."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- serving -------------------------------------------------------------------------

    def serve_forever(self) -> None:
        delay = self.retry_initial
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.poll * 5)
            except OSError as exc:
                log.debug("vpcd at %s:%d not reachable (%s); retry in %.2fs",
                          self.host, self.port, exc, delay)  # fmt: skip
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.retry_max)
                continue
            delay = self.retry_initial
            self._connections += 1
            log.info("attached to vpcd at %s:%d", self.host, self.port)
            try:
                with sock:
                    sock.settimeout(self.poll)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    self.connected.set()
                    if self.on_connect is not None:
                        self.on_connect()
                    self._serve(sock)
            except _Stopped:
                break
            except (ConnectionError, OSError) as exc:
                log.info("vpcd connection lost (%s); reconnecting", exc)
            finally:
                self.connected.clear()
        log.info("vpcd bridge stopped")

    def _serve(self, sock: socket.socket) -> None:
        while True:
            payload = self._recv_message(sock)
            if len(payload) == 1:
                answer = self._control(payload[0])
                if answer is not None:
                    self._send_message(sock, answer)
                continue
            self._apdus += 1
            self._send_message(sock, self.applet.process(payload))

    def _control(self, code: int) -> bytes | None:
        if code in (CTRL_POWER_ON, CTRL_RESET):
            # A cold (or warm) reset: the applet drops every RAM security state.
            self._atr = self.applet.power_on()
            return None
        if code == CTRL_POWER_OFF:
            return None
        if code == CTRL_GET_ATR:
            if self._atr is None:
                self._atr = self.applet.power_on()
            return self._atr
        log.warning("unknown vpcd control code %02X ignored", code)
        return None

    def _recv_exact(self, sock: socket.socket, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            if self._stop.is_set():
                raise _Stopped
            try:
                chunk = sock.recv(n - len(buf))
            except TimeoutError:
                continue
            if _QUICKACK is not None:
                # vpcd writes the length and the payload in two send()s with Nagle on: the
                # second waits for our ACK of the first, which Linux delays by up to 40 ms.
                # Acknowledge at once (TCP_QUICKACK is one-shot, so re-arm after every recv).
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
            if not chunk:
                raise ConnectionError("vpcd closed the connection")
            buf += chunk
        return bytes(buf)

    def _recv_message(self, sock: socket.socket) -> bytes:
        length = int.from_bytes(self._recv_exact(sock, 2), "big")
        return self._recv_exact(sock, length)

    def _send_message(self, sock: socket.socket, payload: bytes) -> None:
        if len(payload) > 0xFFFF:
            raise TransportError("response longer than the vpcd protocol carries")
        sock.sendall(len(payload).to_bytes(2, "big") + payload)

    # -- conveniences ----------------------------------------------------------------------

    def start_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="vpcd-bridge", daemon=True)
        thread.start()
        return thread

    @contextlib.contextmanager
    def running(self) -> Iterator[VpcdBridge]:
        """Serve in a background thread for the duration of a ``with`` block."""
        thread = self.start_thread()
        try:
            yield self
        finally:
            self.stop()
            thread.join(timeout=10)


def serve_until_signalled(bridge: VpcdBridge) -> None:
    """Run ``bridge`` in the calling (main) thread; SIGINT/SIGTERM end it cleanly."""

    def _handler(signum: int, frame: FrameType | None) -> None:
        bridge.stop()

    previous = {s: signal.signal(s, _handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        bridge.serve_forever()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
