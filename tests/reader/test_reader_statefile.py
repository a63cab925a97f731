from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mobile_jpki.reader.statefile import StaleState, StateFile, StateFileError


def test_round_trip_and_modes(tmp_path: Path) -> None:
    store = StateFile(tmp_path / "devices" / "cards" / "c.state")
    assert store.load() is None
    store.save(b"one")
    store.save(b"two")
    assert store.load() == b"two"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700
    assert [p.name for p in store.path.parent.iterdir()] == ["c.state"]  # no temp left


def test_failed_replace_keeps_old_state_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = StateFile(tmp_path / "s.state")
    store.save(b"old")

    def boom(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(StateFileError, match="No space left"):
        store.save(b"new")
    assert store.load() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.state"]


_WRITER = """
import sys
from mobile_jpki.reader.statefile import StateFile
store = StateFile(sys.argv[1])
i = 0
print("ready", flush=True)
while True:
    i += 1
    store.save(bytes([i % 251]) * 200_000)
"""


def test_killed_writer_never_leaves_a_torn_file(tmp_path: Path) -> None:
    path = tmp_path / "s.state"
    StateFile(path).save(b"\x00" * 200_000)
    for delay in (0.05, 0.11, 0.23):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)  # let it be somewhere inside a save; not a timing assertion
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        data = StateFile(path).load()
        assert data is not None
        assert len(data) == 200_000
        assert data == bytes([data[0]]) * 200_000


def test_a_stale_writer_is_refused_not_silently_overwriting(tmp_path: Path) -> None:
    path = tmp_path / "card.state"
    StateFile(path).save(b"v1")
    a, b = StateFile(path), StateFile(path)
    assert a.load() == b.load() == b"v1"
    b.save(b"v2-counter-decremented")
    with pytest.raises(StaleState):
        a.save(b"v2-from-stale-copy")  # would resurrect a spent try
    assert StateFile(path).load() == b"v2-counter-decremented"
    b.save(b"v3")  # the up-to-date writer carries on
    assert a.load() == b"v3"
    a.save(b"v4")  # and a writer that re-read is fine again
    assert StateFile(path).load() == b"v4"


def test_creating_over_a_file_made_meanwhile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.state"
    late = StateFile(path)
    assert late.load() is None
    StateFile(path).save(b"someone else's device")
    with pytest.raises(StaleState):
        late.save(b"mine")
