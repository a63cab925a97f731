"""Files and secrets at rest (issue 16 §4): the data directory 0700, the database, settings,
keys and passphrase 0600 whatever the umask; no database password in settings.json, the
password given at run time instead (environment, a 0600 file, or libpq's own PGPASSWORD)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from mobile_jpki.cli.main import app
from mobile_jpki.service.ca.bootstrap import init_data_dir
from mobile_jpki.settings import (
    DATABASE_PASSWORD_ENV,
    Settings,
    SettingsError,
    url_without_password,
)
from mobile_jpki.store.db import Database

NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o000])
def test_data_directory_is_private_whatever_the_umask(tmp_path: Path, mask: int) -> None:
    data_dir = tmp_path / "data"
    with _umask(mask):
        settings, _ = init_data_dir(data_dir, NOW)
        db = Database(settings.effective_database_url)  # a second opener: -wal and -shm exist
        with db.transaction(write=False) as session:
            session.execute(text("SELECT count(*) FROM alembic_version"))
            assert _mode(data_dir) == 0o700
            assert _mode(data_dir / "settings.json") == 0o600
            assert _mode(data_dir / "mobile-jpki.db") == 0o600
            companions = [data_dir / f"mobile-jpki.db{s}" for s in ("-wal", "-shm")]
            assert all(p.exists() for p in companions)
            assert all(_mode(p) == 0o600 for p in companions)
        db.dispose()
    assert _mode(data_dir / "ca") == 0o700
    assert _mode(data_dir / "ca" / "passphrase") == 0o600
    keys = list((data_dir / "ca").glob("*.key.pem"))
    assert keys and all(_mode(k) == 0o600 for k in keys)


def test_an_existing_wide_database_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    for suffix in ("", "-wal"):
        Path(f"{path}{suffix}").write_bytes(b"")
        os.chmod(f"{path}{suffix}", 0o644)
    Database(f"sqlite:///{path}").dispose()
    assert _mode(path) == 0o600 and _mode(Path(f"{path}-wal")) == 0o600


def test_ca_init_never_stores_the_database_password(tmp_path: Path) -> None:
    """The password given on the command line is used for this run and not written; the
    stored URL keeps everything else. (Nothing listens on port 1: init stops at the connect,
    which a new data directory now makes before writing anything — it must learn whether the
    database already holds a CA, docs/deploy.md — so the settings are checked as saved.)"""
    data_dir = tmp_path / "pg"
    url = "postgresql+psycopg://jpki:S3CRET-pw@127.0.0.1:1/jpki?connect_timeout=2"
    result = CliRunner().invoke(
        app, ["ca", "init", "--data-dir", str(data_dir), "--database-url", url]
    )
    assert result.exit_code == 5 and "Traceback" not in result.output
    assert "S3CRET" not in result.output
    assert not any(b"S3CRET" in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    Settings.model_validate({"data_dir": data_dir, "database_url": url}).save()
    text = (data_dir / "settings.json").read_text()
    assert "S3CRET" not in text
    assert json.loads(text)["database_url"] == (
        "postgresql+psycopg://jpki@127.0.0.1:1/jpki?connect_timeout=2"
    )


def test_url_without_password() -> None:
    assert (
        url_without_password("postgresql+psycopg://u:p%40ss@db.example:5433/x?sslmode=require")
        == "postgresql+psycopg://u@db.example:5433/x?sslmode=require"
    )
    assert url_without_password("postgresql://u@h/x") == "postgresql://u@h/x"
    assert url_without_password("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"


def _pg_settings(tmp_path: Path, url: str, **fields: object) -> Settings:
    return Settings.model_validate({"data_dir": tmp_path, "database_url": url, **fields})


def test_password_from_environment_or_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(DATABASE_PASSWORD_ENV, raising=False)
    url = "postgresql+psycopg://u@h/x"
    assert _pg_settings(tmp_path, url).effective_database_url == url  # left to libpq
    secret = tmp_path / "db-password"
    secret.write_text("p@ss:w/rd\n")
    secret.chmod(0o600)
    from_file = _pg_settings(tmp_path, url, database_password_file="db-password")
    assert from_file.effective_database_url == "postgresql+psycopg://u:p%40ss%3Aw%2Frd@h/x"
    monkeypatch.setenv(DATABASE_PASSWORD_ENV, "from-env")
    assert from_file.effective_database_url == "postgresql+psycopg://u:from-env@h/x"
    # A password in the URL given at run time (--database-url, $MOBILE_JPKI_DATABASE_URL) wins.
    given = "postgresql+psycopg://u:given@h/x"
    assert _pg_settings(tmp_path, given).effective_database_url == given
    monkeypatch.delenv(DATABASE_PASSWORD_ENV)
    secret.chmod(0o640)
    with pytest.raises(SettingsError, match="readable by others") as refused:
        _ = from_file.effective_database_url
    assert "\n" not in str(refused.value)


class FakePostgres:
    """Just enough of the PostgreSQL protocol (v3, "Message Flow: Start-up") to learn the
    password a client sends: decline SSL/GSS encryption, ask for a cleartext password
    (AuthenticationCleartextPassword), record it, answer FATAL 28P01."""

    def __init__(self) -> None:
        self.passwords: list[str] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(10)
        with contextlib.suppress(OSError), self.sock:
            conn, _ = self.sock.accept()
            with conn:
                while True:
                    (length,) = struct.unpack("!I", self._exact(conn, 4))
                    body = self._exact(conn, length - 4)
                    if struct.unpack("!I", body[:4])[0] in (80877103, 80877104):
                        conn.sendall(b"N")  # SSLRequest / GSSENCRequest: not here
                        continue
                    break  # the StartupMessage
                conn.sendall(b"R" + struct.pack("!II", 8, 3))
                kind = self._exact(conn, 1)
                (length,) = struct.unpack("!I", self._exact(conn, 4))
                password = self._exact(conn, length - 4)
                if kind == b"p":
                    self.passwords.append(password.rstrip(b"\0").decode())
                fields = b"SFATAL\0C28P01\0Mfake server\0\0"
                conn.sendall(b"E" + struct.pack("!I", 4 + len(fields)) + fields)

    @staticmethod
    def _exact(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise OSError("closed")
            data += chunk
        return data


@pytest.mark.parametrize("source", ["PGPASSWORD", DATABASE_PASSWORD_ENV, "file"])
def test_the_driver_receives_the_run_time_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    """With the stored, password-less URL, the password reaches the server from each source:
    libpq reads PGPASSWORD itself (psycopg passes no password), ours go into the URL."""
    pytest.importorskip("psycopg")
    for name in ("PGPASSWORD", DATABASE_PASSWORD_ENV, "PGSSLMODE", "PGGSSENCMODE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))
    server = FakePostgres()
    fields: dict[str, object] = {}
    if source == "file":
        (tmp_path / "pw").write_text("from-file\n")
        (tmp_path / "pw").chmod(0o600)
        fields["database_password_file"] = str(tmp_path / "pw")
    else:
        monkeypatch.setenv(source, f"from-{source}")
    url = f"postgresql+psycopg://jpki@127.0.0.1:{server.port}/jpki?connect_timeout=5"
    db = Database(_pg_settings(tmp_path, url, **fields).effective_database_url)
    with pytest.raises(OperationalError):
        db.engine.connect()
    db.dispose()
    server.thread.join(timeout=10)
    assert server.passwords == ["from-file" if source == "file" else f"from-{source}"]
