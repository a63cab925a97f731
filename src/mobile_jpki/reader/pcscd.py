"""A private pcscd with vpcd slots, for tests, benchmarks and a self-contained demo.

pcsc-lite 1.9's daemon has its socket and pid file compiled in (``/run/pcscd/pcscd.comm``) and
ignores ``PCSCLITE_CSOCK_NAME``; only the client library honours that variable. So that tests never
clash with a system pcscd (or with each other), the daemon runs in its own mount namespace
(``unshare -m``, root only) where a temporary directory is bind-mounted over ``/run/pcscd``;
clients in this process and child processes (OpenSC, pyscard) reach it through
``PCSCLITE_CSOCK_NAME``. vpcd gets free TCP ports through a private ``reader.conf.d``
(``pcscd -c DIR``): one port per slot, the first given by ``DEVICENAME /dev/null:0xPORT``.

Note: libpcsclite reads ``PCSCLITE_CSOCK_NAME`` once per process, at the first context; set it
(``apply_env``) before any PC/SC call in this process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from mobile_jpki.reader.errors import TransportError

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
PCSCD_RUN_DIR = Path("/run/pcscd")
VPCD_SLOTS = 2  # Debian's vsmartcard 3.3 vpcd opens two slots per configured reader


def unavailable_reason() -> str | None:
    """Why a private pcscd cannot be started here, or ``None`` if it can."""
    if shutil.which("pcscd") is None:
        return "pcscd is not installed (Debian: apt install pcscd)"
    if not VPCD_DRIVER.exists():
        return "vpcd is not installed (Debian: apt install vsmartcard-vpcd)"
    if shutil.which("unshare") is None:
        return "unshare(1) is missing (util-linux)"
    if os.geteuid() != 0:
        return "a private pcscd needs root (unshare -m and a bind mount over /run/pcscd)"
    return None


def _ports_free(base: int, count: int) -> bool:
    for port in range(base, base + count):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("0.0.0.0", port))  # noqa: S104 - vpcd itself listens on every address
            except OSError:
                return False
    return True


def free_port_pair(count: int = VPCD_SLOTS) -> int:
    """A base port such that ``base .. base+count-1`` are all free right now."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            base = int(s.getsockname()[1])
        if base + count < 65536 and _ports_free(base, count):
            return base
    raise TransportError("no free TCP ports for vpcd")


class PrivatePcscd:
    """pcscd + vpcd in a private mount namespace; use as a context manager."""

    def __init__(self, workdir: Path, *, port: int | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port_pair()
        self.run_dir = self.workdir / "run"
        self.conf_dir = self.workdir / "reader.conf.d"
        self.log_path = self.workdir / "pcscd.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "pcscd.comm"

    def env(self) -> dict[str, str]:
        """Environment for client processes (OpenSC tools, pyscard) to reach this pcscd."""
        return {**os.environ, "PCSCLITE_CSOCK_NAME": str(self.socket_path)}

    def apply_env(self) -> None:
        os.environ["PCSCLITE_CSOCK_NAME"] = str(self.socket_path)

    def vpcd_port(self, slot: int = 0) -> int:
        return self.port + slot

    @staticmethod
    def reader_name(slot: int = 0) -> str:
        return f"Virtual PCD 00 {slot:02d}"

    def start(self, timeout: float = 15.0) -> None:
        reason = unavailable_reason()
        if reason:
            raise TransportError(reason)
        for d in (self.run_dir, self.conf_dir):
            d.mkdir(parents=True, exist_ok=True)
        (self.conf_dir / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:0x{self.port:04X}\n"
            f"LIBPATH      {VPCD_DRIVER}\n"
            f"CHANNELID    0x{self.port:04X}\n"
        )
        PCSCD_RUN_DIR.mkdir(parents=True, exist_ok=True)
        script = 'mount --bind "$1" /run/pcscd && exec pcscd -f -c "$2"'
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell interpolation
                ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "pcscd",  # noqa: S607
                 str(self.run_dir), str(self.conf_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.socket_path.exists():
            if self._proc.poll() is not None:
                raise TransportError(f"pcscd exited early: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TransportError(f"pcscd did not come up: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> PrivatePcscd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_card(reader: str, timeout: float = 15.0) -> None:
    """Poll PC/SC until ``reader`` reports a card (the bridge attached and answered the ATR)."""
    from mobile_jpki.reader.pcsc import PcscConnection

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            PcscConnection(reader).close()
            return
        except TransportError as exc:
            last = exc
            time.sleep(0.1)
    raise TransportError(f"no card appeared in {reader!r}: {last}")


_shared: PrivatePcscd | None = None


def shared_pcscd() -> PrivatePcscd:
    """One private pcscd per process, started on first use and stopped at exit.

    One per process because libpcsclite caches ``PCSCLITE_CSOCK_NAME`` at the first context:
    a second daemon could not be reached from this process anyway.
    """
    global _shared
    if _shared is None:
        import atexit
        import tempfile

        workdir = Path(tempfile.mkdtemp(prefix="mobile-jpki-pcscd-"))
        daemon = PrivatePcscd(workdir)
        daemon.start()
        daemon.apply_env()
        # atexit runs last-registered first: stop the daemon, then remove its directory.
        atexit.register(shutil.rmtree, workdir, True)
        atexit.register(daemon.stop)
        _shared = daemon
    return _shared
