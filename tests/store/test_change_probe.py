"""store.change_probe: a commit by any connection of any process changes the probe's value
before that commit returns; nothing else has to (a spurious change only costs a re-read)."""

from __future__ import annotations

import mmap
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from mobile_jpki.store.change_probe import _DataVersion, _WalIndex, change_probe


def _database(path: Path, mode: str = "wal") -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={mode}")
    conn.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)")
    return conn


def test_wal_databases_are_probed_through_the_wal_index(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    writer = _database(db)
    probe = change_probe(str(db))
    assert isinstance(probe, _WalIndex)
    first = probe()
    assert probe() == first  # nothing committed
    writer.execute("SELECT count(*) FROM t").fetchall()  # a read commits nothing
    assert probe() == first
    seen = [first]
    for i in range(200):  # every commit, each seen before the next one
        writer.execute("INSERT INTO t VALUES (?)", (i,))
        seen.append(probe())
        assert seen[-1] != seen[-2]
    writer.close()


def test_a_commit_by_another_process_is_seen(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    _database(db).close()
    probe = change_probe(str(db))
    before = probe()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " c.execute('INSERT INTO t VALUES (1)'); c.close()",
            str(db),
        ],
        check=True,
    )
    # The other process was the last other connection and closed: the probe's own connection
    # kept the wal-index in place, so the mapping still shows the commit.
    assert probe() != before
    after = probe()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
            " c.execute('UPDATE t SET x = 2'); c.close()",
            str(db),
        ],
        check=True,
    )
    assert probe() != after


def test_commits_after_a_checkpoint_restarts_the_wal_are_seen(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    writer = _database(db)
    probe = change_probe(str(db))
    writer.execute("INSERT INTO t VALUES (1)")
    one = probe()
    writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    writer.execute("INSERT INTO t VALUES (2)")  # the WAL starts again from its first frame
    two = probe()
    assert two != one
    writer.execute("INSERT INTO t VALUES (3)")
    assert probe() != two
    writer.close()


def test_other_journal_modes_fall_back_to_data_version(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    writer = _database(db, mode="delete")
    probe = change_probe(str(db))
    assert isinstance(probe, _DataVersion)
    before = probe()
    assert probe() == before
    writer.execute("INSERT INTO t VALUES (1)")
    assert probe() != before
    writer.close()


def test_a_header_being_written_is_never_a_value_to_keep(tmp_path: Path) -> None:
    """The two copies differ while a writer is between them: each call then returns a value
    never returned before, so nothing is kept under it."""
    shm = tmp_path / "fake-shm"
    copy = bytes(range(48))
    shm.write_bytes(copy + bytes(48))
    with shm.open("rb") as f:
        header = mmap.mmap(f.fileno(), 96, mmap.MAP_SHARED, mmap.PROT_READ)
    probe = _WalIndex(sqlite3.connect(":memory:"), header)
    values = {repr(probe()) for _ in range(5)}
    assert len(values) == 5
    shm.write_bytes(copy + copy)  # the writer finished: a stable value again
    assert probe() == probe() == copy + copy


@pytest.mark.parametrize("mode", ["wal", "delete"])
def test_the_probe_is_read_only(tmp_path: Path, mode: str) -> None:
    db = tmp_path / "a.db"
    _database(db, mode).close()
    probe = change_probe(str(db))
    probe()
    conn = probe._connection if isinstance(probe, _WalIndex) else probe._cursor.connection
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("INSERT INTO t VALUES (1)")
