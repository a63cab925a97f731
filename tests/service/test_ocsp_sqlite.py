"""service/ca/ocsp_sqlite.py reads stored OCSP answers on a private sqlite3 connection, beside
SQLAlchemy. These tests fail loudly when what it relies on changes under it (its module
docstring lists it): SQLAlchemy's storage of times on SQLite, the schema's names, and Python's
sqlite3 opening no transaction between statements."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.service.ca.ocsp_sqlite import SqliteFileResponses, stored_time
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import Certificate, OcspResponse, UtcDateTime, serial_hex

Order = Callable[..., IssueOrder]


@pytest.fixture
def file_ca(ca: CertificateAuthority) -> CertificateAuthority:
    if not ca.db.is_sqlite:
        pytest.skip("the private connection reads SQLite files only")
    return ca


def _path(ca: CertificateAuthority) -> str:
    path = ca.db.engine.url.database
    assert path is not None
    return path


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 1, 9, 0, 0, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 1, 9, 0, 0, 1, tzinfo=dt.UTC),
        dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 1, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=9))),
    ],
)
def test_sqlalchemy_stores_times_as_the_text_read_here(tmp_path: Path, value: dt.datetime) -> None:
    """What SQLAlchemy writes for a ``UtcDateTime`` on SQLite, read raw, is the same instant."""
    db = Database(f"sqlite:///{tmp_path / 'times.db'}")
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UtcDateTime)
    )
    table.create(db.engine)
    with db.transaction() as s:
        s.execute(insert(table).values(id=1, at=value))
    with db.engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT at FROM t").scalar_one()
    db.dispose()
    assert isinstance(raw, str), f"SQLAlchemy no longer stores DateTime as text: {raw!r}"
    assert stored_time(raw) == value
    assert stored_time(raw).tzinfo is dt.UTC


def test_a_read_is_what_sqlalchemy_reads(
    file_ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    """Every field: the SQL's table and column names, the join, the types."""
    info = file_ca.issue(order(clock.now()), clock.now())
    key = serial_hex(info.serial)
    with file_ca.db.transaction(write=False) as s:
        stored = s.get(OcspResponse, key)
        assert stored is not None
        expected = (
            stored.der,
            stored.this_update,
            stored.next_update,
            stored.produced_at,
            s.scalar(select(Certificate.ca_id).where(Certificate.serial == key)),
        )
    read = SqliteFileResponses(_path(file_ca)).read(key)
    assert read is not None
    assert tuple(read) == expected
    assert SqliteFileResponses(_path(file_ca)).read("abcdef") is None


def test_each_read_sees_the_latest_commit_and_holds_no_transaction(
    file_ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    """Autocommit: no read transaction is left open between reads (one would keep serving its
    snapshot, a revocation unseen), in every thread that reads."""
    info = file_ca.issue(order(clock.now()), clock.now())
    key = serial_hex(info.serial)
    reads = SqliteFileResponses(_path(file_ca))
    before = reads.read(key)
    assert before is not None
    assert not reads._connection().in_transaction
    clock.advance(dt.timedelta(seconds=1))
    file_ca.revoke(info.serial, Reason.KEY_COMPROMISE, clock.now())
    after = reads.read(key)
    assert after is not None and after.der != before.der
    assert after.this_update == clock.now()
    assert not reads._connection().in_transaction
    with ThreadPoolExecutor(1) as pool:  # sqlite3 connections stay in their thread
        other = pool.submit(reads.read, key).result()
        assert not pool.submit(lambda: reads._connection().in_transaction).result()
    assert other == after


def test_the_front_door_interface_only_where_reads_are_local(ca: CertificateAuthority) -> None:
    answers = ca.presigned_answers
    if ca.db.is_sqlite:
        assert answers is not None
    else:
        assert answers is None  # PostgreSQL: ocsp_answer in a thread
