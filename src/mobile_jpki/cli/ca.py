"""``mobile-jpki ca``: operate the certificate authority of a data directory.

Exit codes: 0 success; 2 usage error; 3 not found (serial, CA, shard); 4 state transition
refused (e.g. the certificate is already revoked; `ca init` of a new data directory on a
database that already holds a CA, which is `ca join`'s job); 5 data directory, key or database
problem (this host's keys missing or not the ones the database records); 6 the audit chain is
broken; 1 any other refusal.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from mobile_jpki.clock import SystemClock
from mobile_jpki.keys.errors import KeyStoreError
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca import (
    CaServiceError,
    CertificateAuthority,
    CertificateInfo,
    InvalidTransition,
    NotFound,
)
from mobile_jpki.service.ca.bootstrap import JoinRequired, init_data_dir, join_data_dir, open_ca
from mobile_jpki.settings import (
    DATABASE_PASSWORD_ENV,
    Settings,
    SettingsError,
    url_without_password,
)
from mobile_jpki.store.db import StoreError

EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_CONFLICT, EXIT_SETUP, EXIT_AUDIT = 1, 3, 4, 5, 6

app = typer.Typer(help="Operate the certificate authority (revocation, CRLs, audit).")
T = TypeVar("T")

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Data directory.", envvar="MOBILE_JPKI_DATA_DIR")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Database URL (default: SQLite in the data dir)."),
]
KeyDir = Annotated[
    Path | None,
    typer.Option(
        "--key-dir",
        help="Directory of the CA and OCSP-responder key files, shared by every host "
        "(default: DIR/ca; docs/deploy.md).",
    ),
]
REASONS = {
    r.name.lower().replace("_", "-"): r
    for r in Reason
    if r not in (Reason.CERTIFICATE_HOLD, Reason.REMOVE_FROM_CRL)
}


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _errors() -> Iterator[None]:
    """One line per failure, never a traceback."""
    try:
        yield
    except NotFound as exc:
        _fail(str(exc), EXIT_NOT_FOUND)
    except (InvalidTransition, JoinRequired) as exc:
        _fail(str(exc), EXIT_CONFLICT)
    except CaServiceError as exc:
        _fail(str(exc), EXIT_FAILURE)
    except (SettingsError, StoreError, KeyStoreError) as exc:
        _fail(str(exc), EXIT_SETUP)
    except OSError as exc:
        _fail(f"{exc.filename or ''}: {exc.strerror}", EXIT_SETUP)


def _with_ca(
    data_dir: Path, database_url: str | None, fn: Callable[[CertificateAuthority], T]
) -> T:
    with _errors():
        ca = open_ca(Settings.load(data_dir, database_url=database_url))
        try:
            return fn(ca)
        finally:
            ca.db.dispose()
    raise AssertionError("unreachable")  # pragma: no cover


def _serial(text: str) -> int:
    """Serials are given in hex as openssl prints them (colons and 0x allowed)."""
    cleaned = text.strip().lower().removeprefix("0x").replace(":", "")
    try:
        value = int(cleaned, 16)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a hexadecimal serial number") from None
    if value <= 0:
        raise typer.BadParameter("serial numbers are positive")
    return value


def _date(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _show(info: CertificateInfo) -> None:
    line = f"{info.serial:x} {info.ca_id} shard={info.shard} {info.kind.value} {info.status.value}"
    if info.revoked_at:
        line += f" since={info.revoked_at.isoformat()}"
    if info.reason is not None:
        line += f" reason={info.reason.name.lower().replace('_', '-')}"
    typer.echo(line)


@app.command()
def init(
    data_dir: DataDir,
    base_url: Annotated[str | None, typer.Option(help="Public base URL for AIA/CDP.")] = None,
    database_url: DatabaseUrl = None,
    sandbox: Annotated[
        bool,
        typer.Option(
            "--sandbox",
            help="A test data directory whose clock `mobile-jpki clock advance` may move "
            "(only a new one; never for a real CA).",
        ),
    ] = False,
    key_dir: KeyDir = None,
) -> None:
    """Create the data directory, database, both root hierarchies and the keys every host
    shares (idempotent for the same data directory; a second host uses `ca join`)."""
    with _errors():
        settings, created = init_data_dir(
            data_dir,
            SystemClock().now(),
            base_url=base_url,
            database_url=database_url,
            sandbox=sandbox,
            key_dir=key_dir,
        )
        for ca_id in created:
            typer.echo(f"created {ca_id}: {settings.ca_cert_path(ca_id)}")
        if not created:
            typer.echo(f"{data_dir}: hierarchies already present")
        if database_url and url_without_password(database_url) != database_url:
            typer.echo(
                f"the database password is not stored in {settings.settings_path}: give it at "
                f"run time ({DATABASE_PASSWORD_ENV}, database_password_file or ~/.pgpass)"
            )


@app.command()
def join(
    data_dir: DataDir,
    database_url: Annotated[
        str, typer.Option("--database-url", help="The database the first host's `ca init` made.")
    ],
    key_dir: KeyDir = None,
    base_url: Annotated[str | None, typer.Option(help="Public base URL for AIA/CDP.")] = None,
) -> None:
    """Set up this data directory as another host of the CA in --database-url: the keys every
    host shares are fetched from the database, and this host's CA keys (--key-dir, or a PKCS#11
    token) are checked against the certificates recorded there (docs/deploy.md)."""
    with _errors():
        _, written = join_data_dir(
            data_dir,
            SystemClock().now(),
            database_url=database_url,
            base_url=base_url,
            key_dir=key_dir,
        )
        for name in written:
            typer.echo(f"fetched the {name} key from the database")
        typer.echo(f"{data_dir}: joined {url_without_password(database_url)}; keys checked")


@app.command()
def revoke(
    serial: Annotated[str, typer.Argument(help="Serial number in hex.")],
    data_dir: DataDir,
    reason: Annotated[str, typer.Option(help="One of: " + ", ".join(REASONS))] = "unspecified",
    invalidity_date: Annotated[str | None, typer.Option(help="ISO 8601 (RFC 5280 §5.3.2).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a certificate (final)."""
    value = _serial(serial)
    if reason not in REASONS:
        raise typer.BadParameter(f"unknown reason {reason!r}; use one of {', '.join(REASONS)}")
    when = _date(invalidity_date)
    now = SystemClock().now()
    _show(
        _with_ca(
            data_dir,
            database_url,
            lambda ca: ca.revoke(value, REASONS[reason], now, invalidity_date=when, actor="cli"),
        )
    )


@app.command()
def hold(
    serial: Annotated[str, typer.Argument(help="Serial number in hex.")],
    data_dir: DataDir,
    database_url: DatabaseUrl = None,
) -> None:
    """Suspend a certificate (certificateHold, 一時利用停止)."""
    value, now = _serial(serial), SystemClock().now()
    _show(_with_ca(data_dir, database_url, lambda ca: ca.hold(value, now, actor="cli")))


@app.command()
def release(
    serial: Annotated[str, typer.Argument(help="Serial number in hex.")],
    data_dir: DataDir,
    database_url: DatabaseUrl = None,
) -> None:
    """Release a hold: the certificate is good again (removeFromCRL in the next delta)."""
    value, now = _serial(serial), SystemClock().now()
    _show(_with_ca(data_dir, database_url, lambda ca: ca.release_hold(value, now, actor="cli")))


@app.command()
def status(
    serial: Annotated[str, typer.Argument(help="Serial number in hex.")],
    data_dir: DataDir,
    database_url: DatabaseUrl = None,
) -> None:
    """Show a certificate's revocation state."""
    value = _serial(serial)
    _show(_with_ca(data_dir, database_url, lambda ca: ca.status(value)))


@app.command()
def crl(
    data_dir: DataDir,
    ca_id: Annotated[str, typer.Option("--ca", help="CA id, e.g. sign-1.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the DER CRL.")],
    shard: Annotated[int | None, typer.Option(help="Shard; omit for the root CRL.")] = None,
    delta: Annotated[bool, typer.Option("--delta", help="The delta CRL of the shard.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Write the current CRL of a shard (or the root CRL) to a file."""
    now = SystemClock().now()
    if shard is None and delta:
        raise typer.BadParameter("--delta needs --shard")

    def run(ca: CertificateAuthority) -> bytes:
        if shard is None:
            return ca.root_crl(ca_id, now)
        return ca.crl(ca_id, shard, now, delta=delta)

    der = _with_ca(data_dir, database_url, run)
    with _errors():
        out.write_bytes(der)
    typer.echo(f"wrote {out} ({len(der)} bytes)")


audit_app = typer.Typer(help="The hash-chained audit log.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(data_dir: DataDir, database_url: DatabaseUrl = None) -> None:
    """Check the whole chain; exit 6 and name the first broken record if tampered with."""
    verdict = _with_ca(data_dir, database_url, lambda ca: ca.audit.verify())
    if not verdict.ok:
        kind = verdict.kind.value if verdict.kind else "broken"
        _fail(
            f"audit chain broken at seq {verdict.broken_seq} ({kind}): {verdict.detail}", EXIT_AUDIT
        )
    typer.echo(f"audit chain intact: {verdict.checked} records")
