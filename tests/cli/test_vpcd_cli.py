"""``mobile-jpki card vpcd`` / ``phone vpcd``: attach, serve, leave cleanly on SIGTERM."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mobile_jpki.clock import FixedClock
from mobile_jpki.protocol.constants import ATR
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.emulated import create_card, create_phone
from mobile_jpki.reader.pcsc import PcscConnection
from mobile_jpki.reader.pcscd import shared_pcscd, unavailable_reason, wait_for_card

CLOCK = FixedClock(dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mobile_jpki", *args],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_unknown_device_is_one_line_and_exit_3(tmp_path: Path) -> None:
    done = _cli("card", "vpcd", "--data-dir", str(tmp_path), "--card", "nope")
    assert done.returncode == 3
    assert done.stderr.startswith("error: no emulated card 'nope'")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


def test_path_tricks_are_refused_with_exit_2(tmp_path: Path) -> None:
    done = _cli("phone", "vpcd", "--data-dir", str(tmp_path), "--phone", "../../etc/passwd")
    assert done.returncode == 2
    assert "invalid device id" in done.stderr and "Traceback" not in done.stderr


def test_help_teaches() -> None:
    done = _cli("card", "vpcd", "--help")
    assert done.returncode == 0
    assert "pkcs15-tool" in done.stdout and "--vpcd-port" in done.stdout


@pytest.mark.pcsc
@pytest.mark.parametrize("kind", ["card", "phone"])
def test_vpcd_attaches_and_sigterm_removes_it(tmp_path: Path, kind: str) -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"pcscd/vpcd not usable here: {reason}")
    pcscd = shared_pcscd()
    if kind == "card":
        create_card(tmp_path, "dev", clock=CLOCK, kdf_iterations=10)
        label = "JPKIAPICCTOKEN2"
    else:
        create_phone(tmp_path, "dev", clock=CLOCK, kdf_iterations=10)
        label = "JPKIAPGPSETOKEN"
    slot = 1  # the reader tests use slot 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "mobile_jpki", kind, "vpcd", "--data-dir", str(tmp_path),
         f"--{kind}", "dev", "--vpcd-port", str(pcscd.vpcd_port(slot))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for_card(pcscd.reader_name(slot))
        with PcscConnection(pcscd.reader_name(slot)) as conn:
            assert conn.atr() == ATR
            assert JpkiClient(conn).token_label() == label
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "removed from the reader" in err
    assert "Traceback" not in err
