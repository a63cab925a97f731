"""files.atomic_write: the one durable write (temp file, fsync, rename, fsync of the directory)."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from mobile_jpki.files import atomic_write, ensure_private_dir


def test_writes_replaces_and_sets_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "f.der"
    with pytest.raises(FileNotFoundError):
        atomic_write(path, b"x")
    atomic_write(path, b"one", make_parents=True)
    assert path.read_bytes() == b"one"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    atomic_write(path, b"two", mode=0o644)
    assert path.read_bytes() == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.der"]


def test_a_refusal_before_the_rename_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "state"
    atomic_write(path, b"old")
    seen: list[int] = []

    @contextlib.contextmanager
    def refuse(written: os.stat_result) -> Iterator[None]:
        seen.append(written.st_size)
        raise RuntimeError("changed meanwhile")
        yield  # pragma: no cover

    with pytest.raises(RuntimeError):
        atomic_write(path, b"newer", before_replace=refuse)
    assert seen == [5]
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["state"]  # no temporary file left


def test_private_dir_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "devices"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    ensure_private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
