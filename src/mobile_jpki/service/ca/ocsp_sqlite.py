"""Stored OCSP answers read from a SQLite file on a private ``sqlite3`` connection per thread,
beside SQLAlchemy rather than through it: the responder's hot read.

Why: one primary-key read of committed state per request (never an in-process cache, so a
revocation committed by any process is served at once) costs 95 µs per cached answer this way
against 590 µs through SQLAlchemy's BEGIN/ROLLBACK round trip (docs/ca.md, "Pre-signed OCSP").
The connection is autocommit, so each SELECT is its own read transaction and sees the latest
commit (WAL), and ``PRAGMA query_only``; it is kept outside SQLAlchemy's pool, so long-lived
readers never starve the writers' pool. sqlite3 objects must stay in their thread, hence one
connection per thread (the event loop's, the thread pool's).

What this relies on that is not a public promise of its dependencies — each checked by
``tests/service/test_ocsp_sqlite.py``, which fails when any of it changes:

- SQLAlchemy's storage of ``DateTime`` on SQLite (``store.models.UtcDateTime``): naive UTC as
  ISO text, ``YYYY-MM-DD HH:MM:SS.ffffff``, parsed here with ``datetime.fromisoformat``;
- the names of the ``ocsp_response`` and ``certificate`` tables and columns, written here as
  SQL (``store/models.py`` and its migrations own them);
- Python's sqlite3 not opening a transaction implicitly: ``autocommit=True`` (3.12+; the
  default of ``autocommit`` is to change in a future Python, and an implicitly opened read
  transaction would keep serving the snapshot it started with — a revocation unseen) or
  ``isolation_level=None`` (3.11).

Upper version bound: checked with SQLAlchemy 2.1.9 and CPython 3.11.7 (SQLite 3.40.1). Treat
SQLAlchemy >= 2.2 or a Python whose sqlite3 transaction control changes as unverified until
that test passes on it; if it cannot be made to pass, :class:`~mobile_jpki.service.ca.ocsp.
EngineResponses` (through SQLAlchemy) is the drop-in replacement, at the cost above.
"""

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
import sys
import threading
from collections.abc import Callable

from mobile_jpki.service.ca.ocsp import StoredRow
from mobile_jpki.store.change_probe import change_probe

READ_SQL = (
    "SELECT r.der, r.this_update, r.next_update, r.produced_at, c.ca_id "
    "FROM ocsp_response r JOIN certificate c ON c.serial = r.serial WHERE r.serial = ?"
)


def connect_autocommit(path: str) -> sqlite3.Connection:
    """A read-only connection to ``path`` that never holds a transaction open between
    statements."""
    if sys.version_info >= (3, 12):
        conn = sqlite3.connect(path, timeout=30, autocommit=True)
    else:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    conn.execute("PRAGMA query_only=ON")
    return conn


class SqliteFileResponses:
    """:class:`~mobile_jpki.service.ca.ocsp.StoredResponses` of a SQLite database file."""

    local = True

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def read(self, serial: str) -> StoredRow | None:
        hit = self._connection().execute(READ_SQL, (serial,)).fetchone()
        if hit is None:
            return None
        der, this_update, next_update, produced_at, ca_id = hit
        return StoredRow(
            bytes(der),
            stored_time(this_update),
            stored_time(next_update),
            stored_time(produced_at),
            ca_id,
        )

    def version_probe(self) -> Callable[[], object] | None:
        return change_probe(self.path)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect_autocommit(self.path)
            self._local.conn = conn
        return conn


@functools.lru_cache(maxsize=4096)
def stored_time(value: str) -> dt.datetime:
    """A ``UtcDateTime`` column as SQLAlchemy stores it on SQLite (naive UTC text). The hot path
    reads the same few timestamps (a response's thisUpdate, nextUpdate, producedAt) over and
    over; parsing each once is a third of that path's work saved."""
    if not isinstance(value, str):
        raise TypeError(f"expected SQLAlchemy's SQLite DATETIME text, got {value!r}")
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
