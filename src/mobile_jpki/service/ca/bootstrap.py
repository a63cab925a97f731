"""Wiring a data directory into a running :class:`CertificateAuthority` (used by the CLI,
``serve`` and, later, the portal), and making one: the first host (:func:`init_data_dir`) or
another host on the same database (:func:`join_data_dir`, docs/deploy.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from mobile_jpki.files import atomic_write
from mobile_jpki.service import shared_keys
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.service.ca.errors import CaServiceError
from mobile_jpki.service.keystore import FileKeyStore, load_or_create_ec_key
from mobile_jpki.settings import Settings, SettingsError, passphrase_source, url_without_password
from mobile_jpki.store.db import Database
from mobile_jpki.store.migrations import HEAD_REVISION
from mobile_jpki.store.models import CaGeneration


class JoinRequired(CaServiceError):
    """``ca init`` for a new data directory on a database that already holds a CA: this is a
    second host, which ``ca join`` sets up (``ca init`` would make a second, different CA)."""


def open_ca(
    settings: Settings, *, migrate: bool = True, verify_keys: bool = True
) -> CertificateAuthority:
    """The CA of ``settings``: database opened (and migrated), file keys unlocked, and (unless
    ``verify_keys`` is off) every active CA and responder key checked against the certificate
    the database records for it (:func:`shared_keys.verify_ca_keys`): a host that lacks the
    keys, or holds another CA's, stops here with one line."""
    db = Database(settings.effective_database_url)
    if migrate and not _schema_is_current(db):
        db.migrate()
    settings.ca_passphrase()  # a clear error now rather than at the first signature
    keys = FileKeyStore(settings.key_dir, passphrase_source(settings))
    if verify_keys:
        try:
            shared_keys.verify_ca_keys(db, keys.public_key)
        except BaseException:
            db.dispose()
            raise
    return CertificateAuthority(db, settings, keys)


def check_host(settings: Settings, ca: CertificateAuthority, now: dt.datetime) -> list[str]:
    """The start-up check of every process (``serve``, ``open_system``): this data directory's
    shared keys are the ones the database records (:func:`shared_keys.ensure`); a key not yet
    recorded (a database older than this check) is made here and recorded. CA keys were checked
    by :func:`open_ca`. Raises :class:`shared_keys.HostKeyError` (one line)."""
    return shared_keys.ensure(settings, ca.db, now, make=_makers(settings, ca, now))


def _makers(
    settings: Settings, ca: CertificateAuthority, now: dt.datetime
) -> dict[str, Callable[[], None]]:
    # Imported here: the emulated manufacturer lives with the emulated readers, and the TSA
    # module imports this one's CertificateAuthority wiring.
    from mobile_jpki.reader.emulated import load_or_create_manufacturer
    from mobile_jpki.service.ca.timestamping import load_or_create_tsa

    items = {item.name: item for item in shared_keys.ITEMS}

    def ec_key(name: str) -> Callable[[], None]:
        def make() -> None:
            load_or_create_ec_key(items[name].key_path(settings), settings.ca_passphrase())

        return make

    def manufacturer() -> None:
        load_or_create_manufacturer(settings.data_dir, now=now)

    def tsa() -> None:
        load_or_create_tsa(settings, ca, now)

    return {
        shared_keys.INSTRUCTION: ec_key(shared_keys.INSTRUCTION),
        shared_keys.CARD_ISSUER: ec_key(shared_keys.CARD_ISSUER),
        shared_keys.MANUFACTURER: manufacturer,
        shared_keys.TSA: tsa,
    }


def _schema_is_current(db: Database) -> bool:
    """The database is at the packaged head revision: one query, where ``migrate`` imports
    Alembic and loads every revision script to find that out (0.3-0.5 s per CLI command)."""
    try:
        with db.engine.connect() as conn:
            versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except SQLAlchemyError:
        return False  # no alembic_version yet: a new database, migrate() creates it
    return [v for (v,) in versions] == [HEAD_REVISION]


def _hierarchy_count(settings: Settings) -> int:
    db = Database(settings.effective_database_url)
    try:
        if not _schema_is_current(db):
            db.migrate()
        with db.transaction(write=False) as s:
            return s.scalar(select(func.count()).select_from(CaGeneration)) or 0
    finally:
        db.dispose()


def _new_settings(data_dir: Path, fields: dict[str, object]) -> Settings:
    return Settings.model_validate(
        {"data_dir": data_dir, **{k: v for k, v in fields.items() if v is not None}}
    )


def init_data_dir(
    data_dir: Path,
    now: dt.datetime,
    *,
    base_url: str | None = None,
    database_url: str | None = None,
    sandbox: bool = False,
    key_dir: Path | None = None,
) -> tuple[Settings, list[str]]:
    """Create (or complete) a data directory: settings, passphrase, schema, both hierarchies,
    and the keys every host shares (:mod:`mobile_jpki.service.shared_keys`), recorded in the
    database. Idempotent for the same data directory: an existing hierarchy is kept. Returns the
    settings and the ca_ids created.

    A *new* data directory on a database that already holds a CA is refused with
    :class:`JoinRequired`: that is a second host, for :func:`join_data_dir`.

    ``sandbox``: a data directory whose clock may be moved (docs/cli.md "mobile-jpki clock");
    only a new one becomes a sandbox, so a real CA is never turned into one by a re-run."""
    if (data_dir / "settings.json").is_file():
        settings = Settings.load(
            data_dir, base_url=base_url, database_url=database_url, ca_key_dir=key_dir
        )
        if sandbox and not settings.sandbox:
            raise SettingsError(
                f"{data_dir} already exists and is not a sandbox: only a new data directory "
                "becomes one",
                path=settings.settings_path,
            )
    else:
        settings = _new_settings(
            data_dir,
            {
                "database_url": database_url,
                "sandbox": sandbox,
                "base_url": base_url or None,
                "ca_key_dir": key_dir,
            },
        )
        # Only a database given by URL can already hold a CA: the embedded SQLite file of a
        # new data directory does not exist yet.
        if database_url and _hierarchy_count(settings):
            raise JoinRequired(
                f"{url_without_password(database_url)} already holds a CA: this is another "
                f"host; run `mobile-jpki ca join --data-dir {data_dir} --database-url URL` "
                "(docs/deploy.md)"
            )
    settings.save()
    settings.ca_passphrase(create=True)
    ca = open_ca(settings)
    try:
        created = ca.init_hierarchies(now, actor="cli")
        _write_ca_certificates(settings, ca)
        # Made now, not at the first `serve`: a data directory copied between the two would
        # otherwise make keys of its own (issue 19).
        check_host(settings, ca, now)
    finally:
        ca.db.dispose()
    return settings, created


def join_data_dir(
    data_dir: Path,
    now: dt.datetime,
    *,
    database_url: str,
    base_url: str | None = None,
    key_dir: Path | None = None,
) -> tuple[Settings, list[str]]:
    """Set up ``data_dir`` as one more host of the CA in ``database_url`` (docs/deploy.md):
    settings pointing at that database and at the shared CA key directory ``key_dir``; the
    shared keys fetched from the database (:func:`shared_keys.fetch`); then the same check
    ``serve`` runs. The CA passphrase must be the first host's ($MOBILE_JPKI_CA_PASSPHRASE or
    ``DIR/ca/passphrase``): it is never made up here. Idempotent. Returns the settings and the
    names of the keys written."""
    if (data_dir / "settings.json").is_file():
        settings = Settings.load(
            data_dir, base_url=base_url, database_url=database_url, ca_key_dir=key_dir
        )
    else:
        settings = _new_settings(
            data_dir,
            {"database_url": database_url, "base_url": base_url or None, "ca_key_dir": key_dir},
        )
    settings.ca_passphrase()  # SettingsError: the shared passphrase is not given
    if not _hierarchy_count(settings):
        raise SettingsError(
            f"{url_without_password(database_url)} holds no CA yet: the first host runs "
            "`mobile-jpki ca init`"
        )
    settings.save()
    ca = open_ca(settings)
    try:
        written = shared_keys.fetch(settings, ca.db)
        _write_ca_certificates(settings, ca)
        check_host(settings, ca, now)
    finally:
        ca.db.dispose()
    return settings, written


def _write_ca_certificates(settings: Settings, ca: CertificateAuthority) -> None:
    for summary in ca.cas():
        pem = summary.certificate.public_bytes(Encoding.PEM)
        atomic_write(settings.ca_cert_path(summary.ca_id), pem, mode=0o644, make_parents=True)
