"""Prebuilt INSERT/UPDATE statements run straight on pysqlite: SQLAlchemy compiles them and
supplies the type conversions, once; each execution then costs what sqlite3 costs.

Why: a model change runs about 35 statements, and through ``Connection.execute`` each spent
~130 µs in SQLAlchemy's execution machinery (compiled-cache lookup, parameter construction,
type processing, event dispatch, result set-up), measured in the model-change benchmark
beside ~15-40 µs in sqlite3 itself: ~4 ms of Python per model change, the largest cost left
after the RSA signatures (docs/portal.md, "Figures"). The writes of the hot transactions
(application, issuance job, revocation, audit append) are prebuilt module constants with
fixed parameter names, so their SQL and conversions can be worked out once per set of
parameter names; SQLAlchemy has no public "prepared statement" API for this.

What is kept from SQLAlchemy: the SQL text (its compiler, for the engine's dialect), the
literal values a statement carries, and each
parameter's bind processor (``TypeEngine.bind_processor`` of the dialect's implementation,
so ``UtcDateTime`` and SQLite's DATETIME strings are converted exactly as
``Connection.execute`` converts them). What is not: statement events and echo — so while the engine
echoes or has a ``before_cursor_execute``/``after_cursor_execute`` listener (a tracer, a test
counting statements), every write goes through ``Connection.execute`` and is seen — and column
defaults filled in at execution: a statement whose compiled form needs a parameter the caller
did not give is run by
``Connection.execute`` instead, as is one with an ``IN`` list (expanded at execution) and
everything on PostgreSQL.

The writes run on the session's own DBAPI connection, inside its transaction.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase


@dataclass(frozen=True)
class _Prepared:
    sql: str
    # Per positional parameter: the caller's key (None: the statement's own literal), the
    # literal value, and the bind processor (None: the value goes as is).
    slots: tuple[tuple[str | None, Any, Callable[[Any], Any] | None], ...]

    def row(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for key, literal, process in self.slots:
            value = literal if key is None else params[key]
            out.append(value if process is None else process(value))
        return tuple(out)


# Per statement (held weakly: a CA's own upserts go with it), per tuple of parameter names.
_cache: weakref.WeakKeyDictionary[UpdateBase, dict[tuple[str, ...], _Prepared | None]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def write(
    conn: Connection, stmt: UpdateBase, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> int:
    """Execute ``stmt`` (no RETURNING) with one parameter set or several (executemany);
    returns the rows matched (``rowcount``, summed over an executemany)."""
    many = not isinstance(params, Mapping)
    rows: Sequence[Mapping[str, Any]] = params if many else [params]  # type: ignore[assignment,list-item]
    if not rows:
        return 0
    prepared = _prepared(conn, stmt, rows[0]) if _direct(conn) else None
    if prepared is None or any(r.keys() != rows[0].keys() for r in rows[1:]):
        return int(conn.execute(stmt, list(rows) if many else rows[0]).rowcount)
    raw = conn.connection.driver_connection
    if raw is None:  # pragma: no cover - a pooled connection always has one
        raise RuntimeError("the connection is closed")
    try:
        if len(rows) == 1:
            return int(raw.execute(prepared.sql, prepared.row(rows[0])).rowcount)
        return int(raw.executemany(prepared.sql, [prepared.row(r) for r in rows]).rowcount)
    except sqlite3.Error as exc:
        # The exception SQLAlchemy would have raised (callers catch its IntegrityError).
        raise DBAPIError.instance(prepared.sql, None, exc, sqlite3.Error) from exc


def _direct(conn: Connection) -> bool:
    """SQLite, and nobody watching the statements: with echo on or a statement listener (a
    tracer, a test counting statements) every write goes through ``Connection.execute``."""
    return (
        conn.dialect.name == "sqlite"
        and not conn.engine.echo
        and not conn.dispatch.before_cursor_execute
        and not conn.dispatch.after_cursor_execute
    )


def _prepared(conn: Connection, stmt: UpdateBase, first: Mapping[str, Any]) -> _Prepared | None:
    names = tuple(first)
    known = _cache.get(stmt)
    if known is not None and names in known:
        return known[names]
    prepared = _prepare(conn, stmt, first)
    with _lock:
        _cache.setdefault(stmt, {})[names] = prepared
    return prepared


def _prepare(conn: Connection, stmt: UpdateBase, first: Mapping[str, Any]) -> _Prepared | None:
    dialect = conn.dialect
    if getattr(stmt, "_returning", ()):
        return None
    compiled = stmt.compile(dialect=dialect, column_keys=list(first))
    names = compiled.positiontup
    if names is None or "POSTCOMPILE" in compiled.string:
        return None  # an IN list expanded at execution
    if compiled.insert_prefetch or compiled.update_prefetch:
        return None  # a column default or onupdate SQLAlchemy computes at execution
    given = set(first)
    slots = []
    for name in names:
        bind = compiled.binds.get(name)
        if bind is None:
            return None
        if name in given:
            source: str | None = name
        elif bind.callable is None and not bind.required:
            source = None  # the statement's own literal, e.g. values(status="revoked")
        else:
            return None  # a value computed at execution, or a missing parameter
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        slots.append((source, None if source else bind.value, process))
    return _Prepared(compiled.string, tuple(slots))
