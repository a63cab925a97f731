"""Has anything been committed to this SQLite database since I last looked?

The OCSP front door (``api/ocsp_front.py``) keeps the answers it encoded for as long as
nothing at all was committed to the database by any connection of any process, and asks on
every request. ``PRAGMA data_version`` answers exactly that, but it is a read transaction:
two ``fcntl`` locks on the ``-shm`` file and an ``fstat`` of the database per call, 20 to 25 µs of
CPU per request under load on the benchmark machine — the largest single cost of an answer.

In WAL mode SQLite keeps the answer in shared memory. The wal-index header at the start of the
``<database>-shm`` file (https://www.sqlite.org/walformat.html, "The WAL-Index Header") holds
``iChange`` (incremented by every write transaction), ``mxFrame`` (the last committed frame),
the salts and checksums; a committing writer updates it after its frames are in the WAL and
before its commit returns, writing the second copy, a memory barrier, then the first copy; the
header is two identical 48-byte copies, and a reader that finds them different knows a write is
in progress (SQLite's own readers do the same). So :func:`change_probe` maps the header and
returns its 96 bytes when the copies agree, and a value never seen before when they do not
(the caller then drops what it kept and reads the store again): the same guarantee as
``PRAGMA data_version`` — a commit that has returned is seen by the next call — for the cost
of one 96-byte copy and no system call.

The mapping stays valid because the probe keeps a connection of its own open that has read the
database: that connection holds the shared "dead man switch" lock of the ``-shm`` file, and
SQLite truncates or deletes that file only under the exclusive one. Where there is no
wal-index (not WAL mode, in-memory databases, a ``-shm`` elsewhere) the probe falls back to
``PRAGMA data_version`` on its connection.
"""

from __future__ import annotations

import itertools
import mmap
import os
import sqlite3
import sys
from collections.abc import Callable

_HEADER = 48  # one copy of the wal-index header (WalIndexHdr)
_WAL_INDEX_VERSION = 3007000  # WalIndexHdr.iVersion written by every SQLite since 3.7.0
_fresh = itertools.count()


class _DataVersion:
    """``PRAGMA data_version`` on the probe's own connection."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def __call__(self) -> object:
        return self._cursor.execute("PRAGMA data_version").fetchone()[0]


class _WalIndex:
    """The two copies of the wal-index header, read from the mapped ``-shm`` file."""

    def __init__(self, connection: sqlite3.Connection, header: mmap.mmap) -> None:
        # Kept open for as long as the mapping is read (see the module docstring).
        self._connection = connection
        self._header = header

    def __call__(self) -> object:
        now = self._header[: 2 * _HEADER]
        if now[:_HEADER] != now[_HEADER:]:
            # A writer is between the two copies: changed, and not a value to keep under.
            return ("changing", next(_fresh))
        return now


def change_probe(path: str) -> Callable[[], object]:
    """A function whose value changes whenever any connection of any process commits to the
    SQLite database file ``path``. Values are only comparable with the same probe's; use it
    from the thread that made it."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA query_only=ON")
    cursor = conn.cursor()
    # A read opens the wal-index and takes its shared lock, which this connection then holds.
    cursor.execute("PRAGMA data_version").fetchone()
    mode = str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower()
    header = _map_header(f"{path}-shm") if mode == "wal" else None
    if header is None:
        return _DataVersion(cursor)
    return _WalIndex(conn, header)


def _map_header(shm_path: str) -> mmap.mmap | None:
    try:
        fd = os.open(shm_path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if os.fstat(fd).st_size < 2 * _HEADER:
            return None
        header = mmap.mmap(fd, 2 * _HEADER, mmap.MAP_SHARED, mmap.PROT_READ)
    except (OSError, ValueError):  # a file system that cannot map it: PRAGMA data_version
        return None
    finally:
        os.close(fd)
    # The wal-index is in the host's byte order (it never moves between machines).
    version = int.from_bytes(header[0:4], sys.byteorder)
    if version != _WAL_INDEX_VERSION or header[12] != 1:  # iVersion, isInit
        header.close()
        return None
    return header
