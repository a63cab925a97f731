"""store/direct.py: prebuilt statements run straight on pysqlite store and read exactly what
``Connection.execute`` stores and reads, report the same row counts and raise SQLAlchemy's
exceptions; whatever it cannot prepare, or while someone watches the statements, goes
through SQLAlchemy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from mobile_jpki.store import direct
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import UtcDateTime

_META = MetaData()
_T = Table(
    "t",
    _META,
    Column("id", String(32), primary_key=True),
    Column("n", Integer, nullable=False),
    Column("at", UtcDateTime, nullable=True),
    Column("blob", LargeBinary, nullable=True),
    Column("flag", Boolean, nullable=False),
    Column("note", String(32), nullable=True, default="made by default"),
)
_INSERT = insert(_T)
_UPSERT = sqlite_insert(_T)
_UPSERT = _UPSERT.on_conflict_do_update(
    index_elements=["id"], set_={"n": _UPSERT.excluded.n, "at": _UPSERT.excluded.at}
)
_BUMP = (
    update(_T)
    .where(_T.c.id == bindparam("key"), _T.c.flag.is_(False))
    .values(n=_T.c.n + 1, flag=True, at=bindparam("when"))
)
_BY_LIST = update(_T).where(_T.c.id.in_(["a", "b"])).values(note=bindparam("text"))
T0 = dt.datetime(2026, 11, 27, 3, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture
def twins(tmp_path: Path) -> Iterator[tuple[Database, Database]]:
    """Two identical databases: one written through store.direct, one by SQLAlchemy."""
    pair = (
        Database(f"sqlite:///{tmp_path / 'fast.db'}"),
        Database(f"sqlite:///{tmp_path / 'ref.db'}"),
    )
    for db in pair:
        _META.create_all(db.engine)
    yield pair
    for db in pair:
        db.dispose()


def _rows(db: Database) -> list[tuple[Any, ...]]:
    with db.transaction(write=False) as s:
        return [tuple(r) for r in s.execute(select(_T).order_by(_T.c.id))]


def _both(twins: tuple[Database, Database], stmt: Any, params: Any) -> tuple[int, int]:
    fast, ref = twins
    with fast.transaction() as s:
        counted = direct.write(s.connection(), stmt, params)
    with ref.transaction() as s:
        expected = s.connection().execute(stmt, params).rowcount
    return counted, expected


def test_writes_store_what_sqlalchemy_stores(twins: tuple[Database, Database]) -> None:
    rows = [
        {"id": "a", "n": 1, "at": T0, "blob": b"\x00\x01", "flag": False, "note": None},
        {"id": "b", "n": 2, "at": None, "blob": None, "flag": True, "note": "x"},
    ]
    assert _both(twins, _INSERT, rows) == (2, 2)  # executemany
    one = {
        "id": "c",
        "n": 3,
        "at": T0 + dt.timedelta(days=1),
        "blob": b"",
        "flag": False,
        "note": "y",
    }
    assert _both(twins, _INSERT, one) == (1, 1)
    # A statement's own literals (flag=True) and expressions (n + 1) beside given parameters;
    # the row count says how many matched (b is already flagged).
    assert _both(twins, _BUMP, [{"key": "a", "when": T0}, {"key": "b", "when": T0}]) == (1, 1)
    upsert = {"id": "a", "n": 9, "at": T0, "blob": None, "flag": True, "note": None}
    _both(twins, _UPSERT, upsert)
    fast, ref = twins
    assert _rows(fast) == _rows(ref)
    # ... and read back as SQLAlchemy wrote them: aware UTC datetimes, bytes, booleans.
    assert _rows(fast)[0][:5] == ("a", 9, T0, b"\x00\x01", True)


def test_what_it_cannot_prepare_goes_through_sqlalchemy(
    twins: tuple[Database, Database],
) -> None:
    # The column default ("made by default") is filled in at execution by SQLAlchemy.
    without_note = {"id": "d", "n": 4, "at": None, "blob": None, "flag": False}
    assert _both(twins, _INSERT, without_note) == (1, 1)
    assert _both(twins, _BY_LIST, {"text": "listed"}) == (0, 0)  # the statement's own IN list
    fast, ref = twins
    assert _rows(fast) == _rows(ref)
    assert _rows(fast)[0][5] == "made by default"


def test_a_constraint_violation_is_sqlalchemys_integrity_error(
    twins: tuple[Database, Database],
) -> None:
    fast, _ = twins
    row = {"id": "a", "n": 1, "at": None, "blob": None, "flag": False, "note": None}
    with fast.transaction() as s:
        direct.write(s.connection(), _INSERT, row)
    with pytest.raises(IntegrityError):
        with fast.transaction() as s:
            direct.write(s.connection(), _INSERT, row)


def test_a_rolled_back_transaction_takes_its_writes_along(
    twins: tuple[Database, Database],
) -> None:
    fast, _ = twins
    row = {"id": "a", "n": 1, "at": None, "blob": None, "flag": False, "note": None}
    with pytest.raises(RuntimeError):
        with fast.transaction() as s:
            direct.write(s.connection(), _INSERT, row)
            raise RuntimeError("after the write")
    assert _rows(fast) == []


def test_statement_listeners_still_see_every_write(twins: tuple[Database, Database]) -> None:
    fast, _ = twins
    seen: list[str] = []
    listener: Callable[..., None] = lambda _c, _cur, statement, *_r: seen.append(statement)  # noqa: E731
    event.listen(fast.engine, "before_cursor_execute", listener)
    try:
        with fast.transaction() as s:
            direct.write(
                s.connection(),
                _INSERT,
                {"id": "a", "n": 1, "at": None, "blob": None, "flag": False, "note": None},
            )
    finally:
        event.remove(fast.engine, "before_cursor_execute", listener)
    assert [x for x in seen if x.startswith("INSERT")] == [
        "INSERT INTO t (id, n, at, blob, flag, note) VALUES (?, ?, ?, ?, ?, ?)"
    ]


_SEED = [
    {"id": "a", "n": 1, "at": T0, "blob": b"\x00\x01", "flag": False, "note": None},
    {"id": "b", "n": 2, "at": None, "blob": None, "flag": True, "note": "x"},
    {"id": "c", "n": 3, "at": T0 + dt.timedelta(hours=1), "blob": b"", "flag": True, "note": "y"},
]
_BY_IDS = (
    select(_T.c.id, _T.c.at, _T.c.blob, _T.c.flag, _T.c.n + 1, _T.c.note)
    .where(_T.c.id.in_(bindparam("ids", expanding=True)), _T.c.n.in_([1, 2, 3]))
    .order_by(_T.c.id)
    .limit(bindparam("size"))
)
_FLAG_RETURNING = (
    update(_T)
    .where(_T.c.flag.is_(True), _T.c.n >= bindparam("least"))
    .values(flag=False, at=bindparam("when"))
    .returning(_T.c.id, _T.c.at, _T.c.flag)
)


def test_reads_return_what_sqlalchemy_returns(twins: tuple[Database, Database]) -> None:
    fast, _ = twins
    with fast.transaction() as s:
        s.connection().execute(_INSERT, _SEED)
    with fast.transaction(write=False) as s:
        conn = s.connection()
        # IN lists of several lengths (one SQL each), the statement's own list and literals.
        for ids, size in ((["a"], 5), (["a", "c"], 5), (["c", "b", "a", "z"], 2)):
            params = {"ids": ids, "size": size}
            got = direct.rows(conn, _BY_IDS, params)
            assert got == [tuple(r) for r in conn.execute(_BY_IDS, params)]
            assert len(got) == min(len(set(ids) - {"z"}), size)
        # Converted as SQLAlchemy converts them: an aware datetime, bytes, a boolean.
        assert direct.rows(conn, _BY_IDS, {"ids": ["a"], "size": 1}) == [
            ("a", T0, b"\x00\x01", False, 2, None)
        ]


def test_a_write_returning_rows_returns_and_stores_what_sqlalchemy_does(
    twins: tuple[Database, Database],
) -> None:
    returned = []
    for db, run in zip(
        twins,
        (
            lambda c, p: direct.rows(c, _FLAG_RETURNING, p),
            lambda c, p: [tuple(r) for r in c.execute(_FLAG_RETURNING, p)],
        ),
        strict=True,
    ):
        with db.transaction() as s:
            s.connection().execute(_INSERT, _SEED)
        with db.transaction() as s:
            returned.append(sorted(run(s.connection(), {"least": 2, "when": T0})))
    assert returned[0] == returned[1] == [("b", T0, False), ("c", T0, False)]
    assert _rows(twins[0]) == _rows(twins[1])


def test_prepared_statements_do_not_go_through_sqlalchemy_but_an_empty_list_does(
    twins: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _ = twins
    with fast.transaction() as s:
        s.connection().execute(_INSERT, _SEED)
    through: list[object] = []
    execute = Connection.execute

    def watched(self: Connection, stmt: Any, *args: Any, **kwargs: Any) -> Any:
        through.append(stmt)
        return execute(self, stmt, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", watched)
    with fast.transaction() as s:
        conn = s.connection()
        assert [r[0] for r in direct.rows(conn, _BY_IDS, {"ids": ["b", "c"], "size": 9})] == [
            "b",
            "c",
        ]
        assert direct.write(conn, _BY_LIST, {"text": "listed"}) == 2
        assert through == []
        # SQLAlchemy renders an empty IN list as an empty-set expression: its job.
        assert direct.rows(conn, _BY_IDS, {"ids": [], "size": 9}) == []
        assert through == [_BY_IDS]
