"""The vpcd protocol against an in-test vpcd (no pcscd needed)."""

from __future__ import annotations

import socket
import threading

from mobile_jpki.protocol.constants import ATR, JPKI_AID
from mobile_jpki.reader.vpcd import VpcdBridge

from .reader_fakes import FakeApplet


class FakeVpcd:
    """Plays vpcd's side: listens, accepts the virtual card, sends length-prefixed messages."""

    def __init__(self, port: int = 0) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen(1)
        self.server.settimeout(10)
        self.port = int(self.server.getsockname()[1])
        self.conn: socket.socket | None = None

    def accept(self) -> None:
        self.conn, _ = self.server.accept()
        self.conn.settimeout(10)

    def send(self, payload: bytes) -> None:
        assert self.conn is not None
        self.conn.sendall(len(payload).to_bytes(2, "big") + payload)

    def recv(self) -> bytes:
        assert self.conn is not None
        head = self._exact(2)
        return self._exact(int.from_bytes(head, "big"))

    def _exact(self, n: int) -> bytes:
        assert self.conn is not None
        buf = b""
        while len(buf) < n:
            chunk = self.conn.recv(n - len(buf))
            assert chunk, "bridge closed"
            buf += chunk
        return buf

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.server.close()


def _applet() -> FakeApplet:
    return FakeApplet({0x0006: b"JPKIAPICCTOKEN2".ljust(32, b" ")})


def test_control_codes_and_apdus() -> None:
    vpcd = FakeVpcd()
    applet = _applet()
    bridge = VpcdBridge(applet, "127.0.0.1", vpcd.port)
    with bridge.running():
        vpcd.accept()
        vpcd.send(b"\x01")  # power on: no answer
        vpcd.send(b"\x04")  # get ATR
        assert vpcd.recv() == ATR
        vpcd.send(bytes.fromhex("00A4040C0A") + JPKI_AID)
        assert vpcd.recv() == b"\x90\x00"
        vpcd.send(bytes.fromhex("00A4020C020006"))
        assert vpcd.recv() == b"\x90\x00"
        vpcd.send(bytes.fromhex("00B0000020"))
        assert vpcd.recv() == b"JPKIAPICCTOKEN2".ljust(32, b" ") + b"\x90\x00"
        vpcd.send(b"\x02")  # reset: the applet loses its selection (RAM state)
        vpcd.send(bytes.fromhex("00B0000020"))
        assert vpcd.recv() == b"\x69\x86"
        vpcd.send(b"\x00")  # power off: no answer
        assert bridge.stats.apdus == 4
    vpcd.close()


def test_waits_for_vpcd_and_reconnects_after_it_goes_away() -> None:
    # Reserve a port, release it, start the bridge first: it must retry until vpcd listens.
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    connected = threading.Event()
    bridge = VpcdBridge(_applet(), "127.0.0.1", port, retry_max=0.2, on_connect=connected.set)
    with bridge.running():
        vpcd = FakeVpcd(port)
        vpcd.accept()
        vpcd.send(b"\x04")
        assert vpcd.recv() == ATR
        connected.clear()  # before closing: the bridge may be back before the next line
        vpcd.conn.close()  # type: ignore[union-attr]  # pcscd restarted
        vpcd.conn = None
        vpcd.accept()  # the bridge comes back by itself
        assert connected.wait(10)
        vpcd.send(b"\x04")
        assert vpcd.recv() == ATR
        vpcd.close()
    assert bridge.stats.connections >= 2  # may race a third connect while vpcd closes
