"""``mobile-jpki rp``: the relying parties registered with the デジタル認証アプリ twin
(issue 18 §2; docs/auth-app.md). A thin edge over ``service.authapp.clients.ClientRegistry``.

``rp register`` prints the new ``client_id`` alone as its last line, so a script can take it
with ``| tail -n1``. ``--generate-key OUT`` is for people without a key: it writes a fresh
private JWK (0600, never over an existing file) and registers its public part.

Exit codes (the scheme of docs/cli.md): 0 success; 2 usage (a JWKS file that is not JSON, holds
private key material or no usable key; a redirect URI the registry refuses; ``--generate-key``
onto an existing file); 3 ``rp remove`` of an unknown client; 5 data directory or database
problem.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from mobile_jpki.service.authapp.clients import (
    ClientError,
    ClientRegistry,
    RegisteredClient,
    generate_private_jwk,
    public_jwks,
)
from mobile_jpki.settings import Settings, SettingsError
from mobile_jpki.store.clock_offset import clock_for
from mobile_jpki.store.db import Database, StoreError

EXIT_USAGE, EXIT_NOT_FOUND, EXIT_SETUP = 2, 3, 5

# Members of a JWK that only a private (or symmetric) key has: RFC 7518 §6.2.2 (EC "d"),
# §6.3.2 (RSA "d", "p", "q", "dp", "dq", "qi", "oth"), §6.4.1 (oct "k"); RFC 8037 §2 (OKP "d").
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Data directory.", envvar="MOBILE_JPKI_DATA_DIR")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Database URL (default: SQLite in the data dir)."),
]

app = typer.Typer(
    help="Relying parties of the デジタル認証アプリ twin: register (with a public JWKS for "
    "private_key_jwt), list, remove.",
    no_args_is_help=True,
)


class UsageError(Exception):
    """A bad argument or input file: exit 2."""


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _database(data_dir: Path, database_url: str | None) -> Iterator[tuple[Settings, Database]]:
    """The data directory's database, migrated (a data directory made before the twin's
    tables, migration 0010, gets them here), with every failure as one line."""
    try:
        settings = Settings.load(data_dir, database_url=database_url)
        db = Database(settings.effective_database_url)
    except (SettingsError, StoreError) as exc:
        _fail(str(exc), EXIT_SETUP)
    try:
        db.migrate()
        yield settings, db
    except (UsageError, ClientError) as exc:
        _fail(str(exc), EXIT_USAGE)
    except StoreError as exc:
        _fail(str(exc), EXIT_SETUP)
    finally:
        db.dispose()


def read_public_jwks(path: Path) -> dict[str, Any]:
    """The JWK Set (RFC 7517 §5) in ``path``, or one JWK made a set of one. Refuses a file that
    is not JSON, a key with private members (the twin must never hold an RP's private key) and
    a set without keys; what each key is worth is the registry's to judge."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    except ValueError:
        raise UsageError(f"{path} is not JSON (a JWK Set is expected)") from None
    if isinstance(raw, dict) and "kty" in raw:
        raw = {"keys": [raw]}
    keys = raw.get("keys") if isinstance(raw, dict) else None
    if not isinstance(keys, list) or not all(isinstance(k, dict) for k in keys):
        raise UsageError(f'{path} is not a JWK Set: expected {{"keys": [...]}}')
    if not keys:
        raise UsageError(f"{path} holds no key")
    for key in keys:
        private = sorted(PRIVATE_MEMBERS & key.keys())
        if private:
            raise UsageError(
                f"{path} holds private key material ({', '.join(private)} of key "
                f"{key.get('kid', '?')}): give the public JWKS only"
            )
    return dict(raw)


def _write_new_private_file(path: Path, data: bytes) -> None:
    """Create ``path`` 0600 with ``data``; never over an existing file (O_EXCL)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} already exists: not overwriting a key") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _as_json(client: RegisteredClient) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "key_ids": list(client.key_ids()),
        "created_at": client.created_at.isoformat(),
    }


@app.command()
def register(
    data_dir: DataDir,
    name: Annotated[str, typer.Option("--name", help="The RP's name, shown to the person.")],
    redirect_uri: Annotated[
        list[str],
        typer.Option("--redirect-uri", help="An exact redirect URI (repeat for several)."),
    ],
    jwks: Annotated[
        Path | None,
        typer.Option("--jwks", help="The RP's public JWK Set (for private_key_jwt)."),
    ] = None,
    generate_key: Annotated[
        Path | None,
        typer.Option(
            "--generate-key",
            help="Write a fresh private JWK here (0600; never overwrites) and register its "
            "public part.",
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a relying party; prints its new client_id alone as the last line."""
    if (jwks is None) == (generate_key is None):
        _fail("give exactly one of --jwks FILE or --generate-key OUT", EXIT_USAGE)
    with _database(data_dir, database_url) as (settings, db):
        written: Path | None = None
        if jwks is not None:
            key_set = read_public_jwks(jwks)
        elif generate_key is not None:
            private = generate_private_jwk()
            key_set = public_jwks(private)
            text = json.dumps(private, indent=2) + "\n"
            _write_new_private_file(generate_key, text.encode("utf-8"))
            written = generate_key
        try:
            now = clock_for(settings, db).now()
            client = ClientRegistry(db).register(
                name=name, redirect_uris=redirect_uri, jwks=key_set, now=now
            )
        except BaseException:
            if written is not None:  # nothing registered: no key file left for it either
                with suppress(OSError):
                    written.unlink()
            raise
        if written is not None:
            typer.echo(f"private key written to {written} (keep it secret)")
        typer.echo(f"registered {client.name!r}")
        for uri in client.redirect_uris:
            typer.echo(f"  redirect URI {uri}")
        typer.echo(f"  key ids {', '.join(client.key_ids())}")
        typer.echo(client.client_id)


@app.command("list")
def list_(
    data_dir: DataDir,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The registered relying parties: client_id, name, redirect URIs, key ids."""
    with _database(data_dir, database_url) as (_, db):
        clients = ClientRegistry(db).list()
    if as_json:
        typer.echo(json.dumps([_as_json(c) for c in clients], indent=2, ensure_ascii=False))
        return
    if not clients:
        typer.echo("no relying party registered (mobile-jpki rp register)")
        return
    rows = [
        (c.client_id, c.name, " ".join(c.redirect_uris), ",".join(c.key_ids())) for c in clients
    ]
    header = ("client_id", "name", "redirect URIs", "key ids")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        padded = [v.ljust(w) for v, w in zip(row[:3], widths, strict=True)]
        typer.echo("  ".join([*padded, row[3]]))


@app.command()
def remove(
    client_id: Annotated[str, typer.Argument(help="The client_id to remove.")],
    data_dir: DataDir,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a relying party: its client_id no longer authenticates."""
    with _database(data_dir, database_url) as (_, db):
        removed = ClientRegistry(db).remove(client_id)
    if not removed:
        _fail(f"no relying party {client_id!r}", EXIT_NOT_FOUND)
    typer.echo(f"removed {client_id}")


@app.command("rotate-key")
def rotate_key(data_dir: DataDir, database_url: DatabaseUrl = None) -> None:
    """Retire the twin's ID-token signing key and make a new one (RS256). The retired key stays
    in the JWKS for a day, so tokens it signed still verify (OIDC Core §10.1.1); relying parties
    that cache the JWKS pick up the new key by its kid. Prints the new kid last."""
    from mobile_jpki.clock import SystemClock
    from mobile_jpki.service.authapp.keys import TwinKeys, passphrase_of

    with _database(data_dir, database_url) as (settings, db):
        keys = TwinKeys(db, passphrase_of(settings))
        now = SystemClock().now()
        kid = keys.rotate(now)
        published = [str(k["kid"]) for k in keys.jwks(now)["keys"]]
    typer.echo(f"published keys: {', '.join(published)}")
    typer.echo(kid)
