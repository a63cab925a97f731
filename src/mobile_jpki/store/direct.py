"""Prebuilt statements run straight on pysqlite: SQLAlchemy compiles them and supplies the
type conversions, once; each execution then costs what sqlite3 costs.

Why: a model change runs about 35 statements, and through ``Connection.execute`` each spent
~130 µs in SQLAlchemy's execution machinery (compiled-cache lookup, parameter construction,
type processing, event dispatch, result set-up), measured in the model-change benchmark
beside ~15-40 µs in sqlite3 itself: ~4 ms of Python per model change, the largest cost left
after the RSA signatures (docs/portal.md, "Figures"). The statements of the hot transactions
(application, issuance job, revocation, audit append) are prebuilt module constants with
fixed parameter names, so their SQL and conversions can be worked out once per set of
parameter names; SQLAlchemy has no public "prepared statement" API for this.

- :func:`write` runs an INSERT/UPDATE/DELETE (one parameter set or an executemany) and
  returns the rows matched;
- :func:`rows` runs a SELECT, or a write with RETURNING, and returns its rows as tuples,
  each value converted as SQLAlchemy converts it.

What is kept from SQLAlchemy: the SQL text (its compiler, for the engine's dialect), the
literal values a statement carries, each parameter's bind processor and each result column's
result processor (``TypeEngine.bind_processor``/``result_processor`` of the dialect's
implementation, so ``UtcDateTime``, SQLite's DATETIME strings and booleans are converted
exactly as ``Connection.execute`` converts them), and ``IN`` lists (a list parameter, or the
statement's own list, is expanded into one ``?`` per value; the SQL is kept per list length).

What is not: statement events and echo — so while the engine echoes or has a
``before_cursor_execute``/``after_cursor_execute`` listener (a tracer, a test counting
statements), every statement goes through ``Connection.execute`` and is seen — and column
defaults filled in at execution: a statement whose compiled form needs a parameter the caller
did not give is run by ``Connection.execute`` instead, as is an empty ``IN`` list (rendered
as an empty-set expression), a value rendered into the SQL at execution, and everything on
PostgreSQL.

The statements run on the session's own DBAPI connection, inside its transaction; their
errors are raised as the SQLAlchemy exceptions ``Connection.execute`` would raise.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase

Processor = Callable[[Any], Any]
#: What runs here: prebuilt Core statements.
Statement = Select[Any] | UpdateBase


# One ``?`` of the SQL: the caller's key (None: the statement's own literal), that literal, the
# element of a list value it takes (None: the value itself), its bind processor.
_Slot = tuple[str | None, Any, int | None, Processor | None]


@dataclass(frozen=True)
class _Prepared:
    sql: str
    slots: tuple[_Slot, ...]
    # Result processors, one per column (None: the value as sqlite3 returns it); empty for a
    # statement that returns no rows.
    columns: tuple[Processor | None, ...]

    def row(self, params: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for key, literal, element, process in self.slots:
            value = literal if key is None else params[key]
            if element is not None:
                value = value[element]
            out.append(value if process is None else process(value))
        return tuple(out)

    def convert(self, fetched: list[Any]) -> list[tuple[Any, ...]]:
        columns = self.columns
        if not any(columns):
            return fetched
        return [
            tuple(v if p is None else p(v) for p, v in zip(columns, r, strict=True))
            for r in fetched
        ]


@dataclass(frozen=True)
class _PerLength:
    """A statement given list parameters (``IN`` lists): one SQL per tuple of their lengths."""

    names: tuple[str, ...]
    by_length: dict[tuple[int, ...], _Prepared | None]


_Entry = _Prepared | _PerLength | None
_UNKNOWN = object()
# Per statement (held weakly: a CA's own upserts go with it), per tuple of parameter names.
_cache: weakref.WeakKeyDictionary[Statement, dict[tuple[str, ...], _Entry]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def write(
    conn: Connection, stmt: Statement, params: Mapping[str, Any] | Sequence[Mapping[str, Any]]
) -> int:
    """Execute ``stmt`` (no RETURNING) with one parameter set or several (executemany);
    returns the rows matched (``rowcount``, summed over an executemany)."""
    many = not isinstance(params, Mapping)
    sets: Sequence[Mapping[str, Any]] = params if many else [params]  # type: ignore[assignment,list-item]
    if not sets:
        return 0
    first = sets[0]
    prepared = _prepared(conn, stmt, first, many=many) if _direct(conn) else None
    if prepared is None or any(r.keys() != first.keys() for r in sets[1:]):
        return int(conn.execute(stmt, list(sets) if many else sets[0]).rowcount)
    raw = _raw(conn)
    try:
        if len(sets) == 1:
            return int(raw.execute(prepared.sql, prepared.row(sets[0])).rowcount)
        return int(raw.executemany(prepared.sql, [prepared.row(r) for r in sets]).rowcount)
    except sqlite3.Error as exc:
        raise _sqlalchemy_error(prepared, exc) from exc


def rows(conn: Connection, stmt: Statement, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Every row of ``stmt`` (a SELECT, or a write with RETURNING), as tuples of converted
    values in the statement's column order."""
    prepared = _prepared(conn, stmt, params) if _direct(conn) else None
    if prepared is None:
        return [tuple(r) for r in conn.execute(stmt, params)]
    try:
        fetched = _raw(conn).execute(prepared.sql, prepared.row(params)).fetchall()
    except sqlite3.Error as exc:
        raise _sqlalchemy_error(prepared, exc) from exc
    return prepared.convert(fetched)


def run(conn: Connection, sql: str) -> None:
    """A statement without parameters or rows (``BEGIN IMMEDIATE``, ``SAVEPOINT x``)."""
    if not _direct(conn):
        conn.exec_driver_sql(sql)
        return
    try:
        _raw(conn).execute(sql)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, None, exc, sqlite3.Error) from exc


def install_savepoints(engine: Engine) -> None:
    """``engine``'s SAVEPOINT, RELEASE SAVEPOINT and ROLLBACK TO SAVEPOINT (SQLite) through
    :func:`run`. SQLAlchemy's dialect hooks for them (``do_savepoint`` and its two siblings)
    run each through ``Connection.execute``: ~0.9 ms per application, whose checks run in a
    SAVEPOINT. The same SQL, the same names; SQLAlchemy's transaction bookkeeping and its
    savepoint events (``Connection._savepoint_impl``) are untouched."""
    dialect = engine.dialect
    quote = dialect.identifier_preparer.quote

    def savepoint(conn: Connection, name: str) -> None:
        run(conn, f"SAVEPOINT {quote(name)}")

    def release(conn: Connection, name: str) -> None:
        run(conn, f"RELEASE SAVEPOINT {quote(name)}")

    def rollback_to(conn: Connection, name: str) -> None:
        run(conn, f"ROLLBACK TO SAVEPOINT {quote(name)}")

    dialect.do_savepoint = savepoint  # type: ignore[method-assign,assignment]
    dialect.do_release_savepoint = release  # type: ignore[method-assign,assignment]
    dialect.do_rollback_to_savepoint = rollback_to  # type: ignore[method-assign,assignment]


def _raw(conn: Connection) -> sqlite3.Connection:
    raw = conn.connection.driver_connection
    if raw is None:  # pragma: no cover - a pooled connection always has one
        raise RuntimeError("the connection is closed")
    return raw  # type: ignore[no-any-return]


def _sqlalchemy_error(prepared: _Prepared, exc: sqlite3.Error) -> StatementError:
    # The exception SQLAlchemy would have raised (callers catch its IntegrityError).
    return DBAPIError.instance(prepared.sql, None, exc, sqlite3.Error)


def _direct(conn: Connection) -> bool:
    """SQLite, and nobody watching the statements: with echo on or a statement listener (a
    tracer, a test counting statements) every statement goes through ``Connection.execute``."""
    return (
        conn.dialect.name == "sqlite"
        and not conn.engine.echo
        and not conn.dispatch.before_cursor_execute
        and not conn.dispatch.after_cursor_execute
    )


def _prepared(
    conn: Connection, stmt: Statement, params: Mapping[str, Any], *, many: bool = False
) -> _Prepared | None:
    names = tuple(params)
    known = _cache.get(stmt)
    entry: Any = _UNKNOWN if known is None else known.get(names, _UNKNOWN)
    if entry is _UNKNOWN:
        entry = _entry(conn, stmt, params)
        with _lock:
            _cache.setdefault(stmt, {})[names] = entry
    if not isinstance(entry, _PerLength):
        return cast(_Prepared | None, entry)
    if many:
        return None  # list parameters in an executemany: each set could need its own SQL
    lengths = tuple(len(params[name]) for name in entry.names)
    prepared: Any = entry.by_length.get(lengths, _UNKNOWN)
    if prepared is _UNKNOWN:
        prepared = _prepare(conn, stmt, params)
        with _lock:
            entry.by_length[lengths] = prepared
    return cast(_Prepared | None, prepared)


def _entry(conn: Connection, stmt: Statement, params: Mapping[str, Any]) -> _Entry:
    """The statement prepared for these parameter names, or, when the caller gives list
    values (IN lists), the place for one preparation per tuple of their lengths."""
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(params))
    lists = tuple(
        name
        for name in compiled.positiontup or ()
        if name in params and getattr(compiled.binds.get(name), "expanding", False)
    )
    return _PerLength(lists, {}) if lists else _prepare(conn, stmt, params)


def _prepare(conn: Connection, stmt: Statement, first: Mapping[str, Any]) -> _Prepared | None:
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=list(first))
    names = compiled.positiontup
    if names is None:
        return None
    if compiled.insert_prefetch or compiled.update_prefetch:
        return None  # a column default or onupdate SQLAlchemy computes at execution
    sql = compiled.string
    slots: list[_Slot] = []
    for name in names:
        bind = compiled.binds.get(name)
        if bind is None or bind.literal_execute:
            return None  # a value SQLAlchemy renders into the SQL at execution
        if name in first:
            source: str | None = name
        elif bind.callable is None and not bind.required:
            source = None  # the statement's own literal, e.g. values(status="revoked")
        else:
            return None  # a value computed at execution, or a missing parameter
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if not bind.expanding:
            slots.append((source, None if source else bind.value, None, process))
            continue
        values = first[name] if source else bind.value
        token = f"__[POSTCOMPILE_{name}]"
        if not values or sql.count(token) != 1:
            return None  # an empty IN list: SQLAlchemy renders an empty-set expression
        sql = sql.replace(token, ", ".join("?" * len(values)))
        literal = None if source else bind.value
        slots.extend((source, literal, i, process) for i in range(len(values)))
    if "POSTCOMPILE" in sql:
        return None
    # A SELECT's columns, or a write's RETURNING columns (none: a write returning nothing).
    returned = list(getattr(stmt, "exported_columns", ()))
    if len(returned) != len(getattr(compiled, "_result_columns", ())):
        return None  # not a statement whose columns are its exported ones
    columns = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in returned)
    return _Prepared(sql, tuple(slots), columns)
