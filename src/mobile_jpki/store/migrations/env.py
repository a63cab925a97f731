"""Alembic environment: online migrations over the connection handed in by ``Database``."""

from __future__ import annotations

import importlib
import pkgutil

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

import mobile_jpki.store as store
from mobile_jpki.store.models import Base

# Every model module of ``store`` (the portal adds its own) so autogenerate sees all tables.
for _info in pkgutil.iter_modules(store.__path__):
    if _info.name not in ("migrations", "db"):
        importlib.import_module(f"mobile_jpki.store.{_info.name}")

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds tables (alembic "batch").
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)


if context.is_offline_mode():
    raise SystemExit("mobile-jpki migrations run online only (Database.migrate())")
run_migrations_online()
