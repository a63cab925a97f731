"""The database handle: engine, sessions, transactions, migrations.

SQLite (the embedded default) runs in WAL mode with ``foreign_keys=ON``; write transactions
start with ``BEGIN IMMEDIATE`` so two writers serialise on the database lock at BEGIN instead of
both reading under a shared lock and then deadlocking on upgrade (SQLITE_BUSY mid-transaction).
PostgreSQL runs READ COMMITTED; code that must serialise (audit chain, CRL numbers, a
certificate's status) takes row locks with ``SELECT … FOR UPDATE`` through :meth:`Database.lock`.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import CoreExecuteOptionsParameter
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from mobile_jpki.store import direct

SelectT = TypeVar("SelectT", bound=Select[Any])

_BEGIN_OPTION = "mobile_jpki_begin"
#: Seconds a SQLite writer waits for the database lock before "database is locked".
_SQLITE_BUSY_TIMEOUT = 30.0


class StoreError(Exception):
    """The database is unreachable, or its schema cannot be brought up to date."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class Database:
    """One database (SQLite file or PostgreSQL URL) and its session factories."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            _private_sqlite_file(parsed.database, uri=bool(parsed.query.get("uri")))
            # pysqlite's own timeout doubles as busy_timeout: a waiting writer blocks instead of
            # failing with "database is locked".
            kwargs["connect_args"] = {
                "timeout": _SQLITE_BUSY_TIMEOUT,
                "check_same_thread": False,
            }
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"cannot open database {parsed!r}: {exc}", url=url) from exc
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        self._write_lock = threading.Lock()  # SQLite: see _writer
        self._read = sessionmaker(self.engine, expire_on_commit=False, class_=_Session)
        self._write = sessionmaker(
            self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"}),
            expire_on_commit=False,
            class_=_Session,
        )

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed on normal exit, rolled back on error."""
        if write and self.is_sqlite:
            with self._writer():
                with self._write() as session, session.begin():
                    yield session
            return
        factory = self._write if write else self._read
        with factory() as session, session.begin():
            yield session

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """This process's turn to write (SQLite). SQLite lets one writer in at a time and
        makes the others poll in its busy handler, which sleeps 1, 2, 5, 10 … up to 100 ms
        between tries: a thread whose turn came could still be asleep for most of it. Writers
        of one process queue on this lock instead and are woken the moment it is released;
        other processes still meet in the busy handler. A thread that already writes and opens
        a second write transaction would wait for itself: after the busy timeout it goes on
        without the lock, so SQLite's own timeout ("database is locked") ends it as before."""
        acquired = self._write_lock.acquire(timeout=_SQLITE_BUSY_TIMEOUT)
        try:
            yield
        finally:
            if acquired:
                self._write_lock.release()

    def lock(self, stmt: SelectT) -> SelectT:
        """``stmt`` with ``FOR UPDATE`` where the database has row locks (SQLite's write
        transaction already holds the database lock from BEGIN IMMEDIATE)."""
        return stmt if self.is_sqlite else stmt.with_for_update()

    def migrate(self) -> None:
        """Bring the schema to the latest revision (``alembic upgrade head``)."""
        from alembic import command
        from alembic.config import Config

        script_location = str(resources.files("mobile_jpki.store") / "migrations")
        cfg = Config()
        cfg.set_main_option("script_location", script_location)
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot migrate the database: {exc}", url=self.url) from exc

    def dispose(self) -> None:
        self.engine.dispose()


class _Session(Session):
    """A Session whose ``connection()`` is looked up once per transaction.

    The hot transactions run Core statements on ``session.connection()``, a dozen times per
    model change; each call goes through the session's transaction state machine (~60 µs
    measured in the model-change benchmark). The connection is kept beside the session
    transaction it was asked for and handed out again while that transaction is the current
    one. A SAVEPOINT (``begin_nested``) is a new current transaction: the session emits it
    when the connection is first asked for inside it, so the first call there still goes to
    ``Session.connection``; so does the first after it ends."""

    _current: tuple[SessionTransaction, Connection] | None = None

    def connection(
        self,
        bind_arguments: dict[str, Any] | None = None,
        execution_options: CoreExecuteOptionsParameter | None = None,
    ) -> Connection:
        if bind_arguments is not None or execution_options is not None:
            return super().connection(bind_arguments, execution_options)
        transaction = self.get_nested_transaction() or self.get_transaction()
        current = self._current
        if current is not None and transaction is not None and current[0] is transaction:
            return current[1]
        conn = super().connection()
        # Looked up after the call: the call itself may have begun the transaction.
        transaction = self.get_nested_transaction() or self.get_transaction()
        if transaction is not None:
            self._current = (transaction, conn)
        return conn


# SQLite's companion files: it creates them with the database file's own permissions
# (os_unix.c findCreateFileMode), so a 0600 database gives 0600 ones; older ones are tightened.
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _private_sqlite_file(database: str | None, *, uri: bool) -> None:
    """Make the SQLite file 0600 before SQLite opens it: it holds names, addresses and birth
    dates. SQLite would create it 0644 (less the umask); created here with ``O_EXCL`` and mode
    0600 instead, independent of the umask's leniency, and an existing one (with its -wal and
    -shm) tightened when it is ours. In-memory and URI databases are left alone; a missing
    directory is left for SQLite to report."""
    if not database or database == ":memory:" or uri or database.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError, FileNotFoundError, NotADirectoryError):
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in _SQLITE_COMPANIONS:
        with contextlib.suppress(OSError):  # absent, or not ours to change
            path = database + suffix
            if os.stat(path).st_mode & 0o077:
                os.chmod(path, 0o600)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so BEGIN is ours (SQLAlchemy's
        # documented recipe for SERIALIZABLE / IMMEDIATE transactions on SQLite).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL, not NORMAL: with NORMAL a committed revocation can be lost on power failure
        # and the certificate answered good again; a CA cannot allow that.
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        direct.run(conn, f"BEGIN {mode}")

    direct.install_savepoints(engine)
