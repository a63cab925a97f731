"""The store: migrations match the models, SQLite pragmas, write-transaction behaviour."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
import threading
import time
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError

from mobile_jpki.store.db import Database, StoreError
from mobile_jpki.store.models import Base, CaGeneration, Certificate


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'x.db'}")
    database.migrate()
    return database


def _import_all_models() -> None:
    """Other parts (the portal) add model modules to ``store``: compare against all of them."""
    import mobile_jpki.store as store

    for info in pkgutil.iter_modules(store.__path__):
        if info.name not in ("migrations", "db"):
            importlib.import_module(f"mobile_jpki.store.{info.name}")


def test_migrations_match_models(db: Database) -> None:
    _import_all_models()
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_migrate_is_idempotent(db: Database) -> None:
    db.migrate()
    with db.transaction(write=False) as s:
        version = s.execute(text("SELECT version_num FROM alembic_version")).scalar()
    heads = ScriptDirectory(str(resources.files("mobile_jpki.store") / "migrations")).get_heads()
    assert [version] == heads


def test_sqlite_pragmas(db: Database) -> None:
    with db.transaction(write=False) as s:
        assert s.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_foreign_keys_are_enforced(db: Database) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with pytest.raises(IntegrityError), db.transaction() as s:
        s.add(
            Certificate(
                serial="1",
                ca_id="nope",
                kind="phone-auth",
                subject_id="x",
                not_before=now,
                not_after=now,
                shard=0,
                der=b"",
                issued_at=now,
            )
        )


def test_times_round_trip_as_utc(db: Database) -> None:
    jst = dt.timezone(dt.timedelta(hours=9))
    with db.transaction() as s:
        s.add(
            CaGeneration(
                ca_id="auth-1",
                hierarchy="auth",
                generation=1,
                certificate_der=b"",
                key_ref="k",
                created_at=dt.datetime(2026, 1, 1, 9, tzinfo=jst),
                active=True,
                last_crl_number=0,
            )
        )
    with db.transaction(write=False) as s:
        row = s.get(CaGeneration, "auth-1")
        assert row is not None
        assert row.created_at == dt.datetime(2026, 1, 1, 0, tzinfo=dt.UTC)
        assert row.created_at.tzinfo is dt.UTC


def test_write_transactions_begin_immediate(db: Database) -> None:
    """A second writer cannot start while the first holds the write lock (it would otherwise
    deadlock at its first write); readers still can (WAL)."""
    import sqlite3

    with db.transaction() as s:
        s.execute(text("SELECT 1"))  # the session begins lazily, at its first statement
        other = sqlite3.connect(db.engine.url.database or "", timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        assert other.execute("SELECT count(*) FROM certificate").fetchone() == (0,)
        other.close()


def test_writers_of_one_process_take_turns_without_the_busy_handler(db: Database) -> None:
    """Writer threads of one process queue on the process's writer lock, not in SQLite's busy
    handler (which sleeps up to 100 ms between tries): with the handler disabled
    (busy_timeout=0, so any meeting at the database lock is "database is locked" at once),
    two threads writing side by side still all commit."""

    @event.listens_for(db.engine, "connect")
    def _no_busy_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout=0")

    db.engine.dispose()  # the pool's connections are made again, with the handler off
    with db.transaction() as s:
        s.execute(text("CREATE TABLE counter (n INTEGER)"))
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(100):
                with db.transaction() as s:
                    s.execute(text("INSERT INTO counter VALUES (1)"))
                    time.sleep(0.0005)  # hold the lock while the other thread comes
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.transaction(write=False) as s:
        assert s.scalar(text("SELECT count(*) FROM counter")) == 200


def test_the_sessions_connection_follows_its_savepoints(db: Database) -> None:
    """``Session.connection()`` is looked up once per transaction, but a SAVEPOINT is a
    transaction of its own: a write made inside one on the connection handed out there is
    rolled back with it, and the writes around it are kept."""
    insert = text("INSERT INTO t VALUES (:v)")
    with db.transaction() as s:
        s.connection().execute(text("CREATE TABLE t (v TEXT)"))
        outer = s.connection()
        outer.execute(insert, {"v": "before"})
        assert s.connection() is outer
        with pytest.raises(RuntimeError), s.begin_nested():
            s.connection().execute(insert, {"v": "refused"})
            raise RuntimeError("refused inside the savepoint")
        with s.begin_nested():
            s.connection().execute(insert, {"v": "kept"})
        s.connection().execute(insert, {"v": "after"})
    with db.transaction(write=False) as s:
        assert [r[0] for r in s.execute(text("SELECT v FROM t ORDER BY rowid"))] == [
            "before",
            "kept",
            "after",
        ]


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        Database("nosuchdialect://x")


def _upgrade(database: Database, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("mobile_jpki.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database.url)
    with database.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def test_migration_0003_backfills_stored_crl_entries(tmp_path: Path) -> None:
    """Certificates revoked or held before 0003 get the entry the service would have stored."""
    from mobile_jpki.pki.crl import encode_entry
    from mobile_jpki.pki.revocation import Reason

    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    _upgrade(database, "0002")
    t = dt.datetime(2026, 3, 1, 12, 30, 5)
    rows = [  # serial, status, revoked_at, reason, invalidity_date
        ("1f", "revoked", t, 3, None),
        ("80", "revoked", t, 1, t - dt.timedelta(days=1)),
        ("2a", "revoked", t, 0, None),
        ("3b", "held", t, None, None),
        ("4c", "good", None, None, None),
    ]
    with database.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO ca_generation VALUES ('auth-1', 'auth', 1, x'', 'k', ?, 1, 0)", (t,)
        )
        for serial, status, at, reason, invalid in rows:
            conn.exec_driver_sql(
                "INSERT INTO certificate (serial, ca_id, kind, subject_id, not_before, not_after,"
                " shard, der, status, revoked_at, reason, invalidity_date, issued_at)"
                " VALUES (?, 'auth-1', 'phone-auth', 's', ?, ?, 0, x'', ?, ?, ?, ?, ?)",
                (serial, t, t, status, at, reason, invalid, t),
            )
    database.migrate()
    with database.engine.connect() as conn:
        stored = dict(conn.exec_driver_sql("SELECT serial, crl_entry FROM certificate").all())
    utc = dt.UTC
    aware = t.replace(tzinfo=utc)
    assert stored == {
        "1f": encode_entry(0x1F, aware, Reason.AFFILIATION_CHANGED),
        "80": encode_entry(0x80, aware, Reason.KEY_COMPROMISE, aware - dt.timedelta(days=1)),
        "2a": encode_entry(0x2A, aware, None),
        "3b": encode_entry(0x3B, aware, Reason.CERTIFICATE_HOLD),
        "4c": None,
    }
    database.dispose()


def test_migration_0004_moves_published_crls_out_of_the_state_row(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    _upgrade(database, "0003")
    t = dt.datetime(2026, 3, 1, 12, 30, 5)
    with database.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO ca_generation VALUES ('auth-1', 'auth', 1, x'', 'k', ?, 1, 0)", (t,)
        )
        conn.exec_driver_sql(
            "INSERT INTO crl_state (ca_id, shard, full_number, full_der, delta_number,"
            " delta_der, full_dirty, delta_dirty) VALUES"
            " ('auth-1', 0, 5, x'3001', 6, x'3002', 0, 0), ('auth-1', 1, 7, x'3003', NULL, NULL,"
            " 0, 1), ('auth-1', 2, NULL, NULL, NULL, NULL, 1, 1)"
        )
    database.migrate()
    with database.engine.connect() as conn:
        moved = conn.exec_driver_sql("SELECT shard, kind, der FROM crl_document").all()
        columns = [r[1] for r in conn.exec_driver_sql("PRAGMA table_info(crl_state)")]
    assert sorted(moved) == [
        (0, "delta", b"\x30\x02"),
        (0, "full", b"\x30\x01"),
        (1, "full", b"\x30\x03"),
    ]
    assert "full_der" not in columns and "delta_der" not in columns
    database.dispose()


def test_head_revision_constant_is_alembics_head() -> None:
    from mobile_jpki.store.migrations import HEAD_REVISION

    script = ScriptDirectory(str(resources.files("mobile_jpki.store") / "migrations"))
    assert script.get_heads() == [HEAD_REVISION]


def test_open_ca_migrates_only_a_database_behind_head(tmp_path: Path) -> None:
    from mobile_jpki.service.ca import bootstrap
    from mobile_jpki.settings import Settings

    settings = Settings(data_dir=tmp_path)
    settings.save()
    settings.ca_passphrase(create=True)
    old = Database(settings.effective_database_url)
    _upgrade(old, "0003")
    old.dispose()
    ca = bootstrap.open_ca(settings)  # behind: migrated
    assert bootstrap._schema_is_current(ca.db)
    with ca.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM crl_document").scalar() == 0
    ca.db.dispose()


def _old_devices(tmp_path: Path, rows: list[tuple[str, str, bool, int]]) -> Database:
    """A database at 0005 with devices (id, element serial, holder, seconds after t)."""
    database = Database(f"sqlite:///{tmp_path / 'old.db'}")
    _upgrade(database, "0005")
    t = dt.datetime(2026, 3, 1, 12, 30, 5)
    with database.engine.begin() as conn:
        for device_id, serial, holder, seconds in rows:
            conn.exec_driver_sql(
                "INSERT INTO portal_device (id, element_serial, attestation_der, credential_hash,"
                " push_channel, push_enabled, holder, failed_auth, created_at)"
                " VALUES (?, ?, x'', 'h', 'none', 0, ?, 0, ?)",
                (device_id, serial, holder, t + dt.timedelta(seconds=seconds)),
            )
        conn.exec_driver_sql(
            "INSERT INTO portal_nonce (value, device_id, purpose, created_at, expires_at)"
            " VALUES ('n1', 'a1', 'application', ?, ?)",
            (t, t),
        )
    return database


def test_migration_0006_folds_the_devices_of_one_element(tmp_path: Path) -> None:
    """The old enrolment made a row per call: unused duplicates go (with their nonces), the
    element keeps its holder or else its newest row, and the serial becomes unique."""
    database = _old_devices(
        tmp_path,
        [
            ("a1", "aa", False, 0),
            ("a2", "aa", False, 2),
            ("a3", "aa", False, 1),
            ("b1", "bb", False, 0),
            ("c1", "cc", True, 0),
            ("c2", "cc", False, 5),
        ],
    )
    database.migrate()
    with database.engine.begin() as conn:
        kept = sorted(conn.exec_driver_sql("SELECT id FROM portal_device").scalars())
        assert kept == ["a2", "b1", "c1"]
        assert conn.exec_driver_sql("SELECT COUNT(*) FROM portal_nonce").scalar() == 0
        with pytest.raises(IntegrityError):
            conn.exec_driver_sql(
                "INSERT INTO portal_device (id, element_serial, attestation_der, credential_hash,"
                " push_channel, push_enabled, holder, failed_auth, created_at)"
                " VALUES ('x', 'aa', x'', 'h', 'none', 0, 0, 0, '2026-03-01')"
            )
    database.dispose()


def test_migration_0006_stops_on_two_used_devices_of_one_element(tmp_path: Path) -> None:
    database = _old_devices(tmp_path, [("a1", "aa", True, 0), ("a2", "aa", True, 1)])
    with pytest.raises(Exception, match="element aa has several devices that applied"):
        database.migrate()
    database.dispose()
