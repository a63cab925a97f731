"""Durable file writes, written once: the emulated chips' state files, the phone app's profile,
CA and portal keys, certificates and the published CRLs all go through :func:`atomic_write`.

The classic POSIX sequence: write a temporary file in the same directory (so the rename stays
on one file system), ``fsync`` it, ``os.replace`` it over the old file (atomic, POSIX
``rename(2)``), then ``fsync`` the directory so the rename itself survives a power cut. A killed
process leaves the old content or the new one, never a mix, and at worst a temporary file named
``.<name>.<random>.tmp`` beside it. The file has its final mode from creation on.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

BeforeReplace = Callable[[os.stat_result], AbstractContextManager[object]]
"""Called with the written temporary file's ``fstat``; the rename happens inside the context it
returns (e.g. under a lock, after checking nobody else replaced the file meanwhile)."""


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) as 0700; tighten an existing one we own."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (a rename, a new file) durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: Path,
    data: bytes,
    *,
    mode: int = 0o600,
    make_parents: bool = False,
    before_replace: BeforeReplace | None = None,
) -> None:
    """Replace ``path`` with ``data`` atomically and durably, the file in ``mode`` (0600 unless
    said otherwise: most of what is written holds keys or credentials). ``make_parents``
    creates missing directories (with the default mode); OSError is left to the caller."""
    directory = path.parent
    if make_parents:
        directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            written = os.fstat(fh.fileno())
        with before_replace(written) if before_replace else contextlib.nullcontext():
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
