"""The store: migrations match the models, SQLite pragmas, write-transaction behaviour."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from importlib import resources
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
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


def test_bad_url_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        Database("nosuchdialect://x")
