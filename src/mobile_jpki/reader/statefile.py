"""The applet's EEPROM as a file: a crash-safe :class:`mobile_jpki.applet.state.StateStore`.

The applet saves before it answers (docs/apdu.md: a retry counter is stored before the secret is
compared), so a torn write would be worse than a lost one: it could resurrect tries or brick the
emulated card. Hence :func:`mobile_jpki.files.atomic_write` (temporary file, ``fsync``, atomic
rename, ``fsync`` of the directory): a killed process leaves either the old state or the new
one, never a mix. Files are 0600 and directories 0700: the state holds the device's private
keys.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from mobile_jpki.files import atomic_write, ensure_private_dir
from mobile_jpki.reader.errors import ReaderError


class StateFileError(ReaderError):
    """The state file cannot be read or written."""


class StaleState(StateFileError):
    """Another process (or another open of the same device) saved this state since we read it.

    Refused rather than overwritten: the lost update could be a retry counter's decrement,
    i.e. a free password try.
    """


_Identity = tuple[int, int, int, int]


def _identity(st: os.stat_result) -> _Identity:
    # inode alone can be reused after os.replace frees it; with mtime and size it cannot
    # plausibly collide.
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


@contextlib.contextmanager
def _dir_lock(directory: Path) -> Iterator[None]:
    """flock(2) on the directory: makes "check unchanged, then replace" atomic across processes."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


class StateFile:
    """A :class:`StateStore` backed by one file, replaced atomically on every save.

    Optimistic concurrency: a save is refused with :class:`StaleState` when the file changed
    since this object last loaded or saved it (e.g. ``mobile-jpki card vpcd`` and the service
    both holding the same emulated card).
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._seen: _Identity | None = None

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> bytes | None:
        try:
            with self.path.open("rb") as fh:
                self._seen = _identity(os.fstat(fh.fileno()))
                return fh.read()
        except FileNotFoundError:
            self._seen = None
            return None
        except OSError as exc:
            raise StateFileError(f"cannot read {self.path}: {exc.strerror}") from exc

    def _current(self) -> _Identity | None:
        try:
            return _identity(self.path.stat())
        except FileNotFoundError:
            return None

    def save(self, data: bytes) -> None:
        directory = self.path.parent
        try:
            ensure_private_dir(directory)
        except OSError as exc:
            raise StateFileError(f"cannot write in {directory}: {exc.strerror}") from exc
        try:
            atomic_write(self.path, data, mode=0o600, before_replace=self._unchanged)
        except OSError as exc:
            raise StateFileError(f"cannot write {self.path}: {exc.strerror}") from exc

    @contextlib.contextmanager
    def _unchanged(self, written: os.stat_result) -> Iterator[None]:
        """Around the rename: nobody replaced the file since we read it (checked and replaced
        under the directory's lock); afterwards the written file is the one we have seen."""
        with _dir_lock(self.path.parent):
            if self._current() != self._seen:
                raise StaleState(
                    f"{self.path} was changed by another process since it was read: "
                    "close the other user of this device and retry"
                )
            yield
        self._seen = _identity(written)
