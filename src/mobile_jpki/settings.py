"""The data directory and every tunable or *uncertain* value of the running service.

Layout of a data directory (created by ``mobile-jpki ca init`` or ``mobile-jpki demo``)::

    DIR/settings.json            this model, as JSON (edit it, then restart ``serve``)
    DIR/mobile-jpki.db           the SQLite database (unless ``database_url`` points elsewhere)
    DIR/ca/passphrase            0600, the CA key passphrase (dev convenience, see docs/ca.md)
    DIR/ca/<ca_id>.key.pem       the root key, encrypted PKCS#8
    DIR/ca/<ca_id>.pem           the root certificate
    DIR/ca/<ca_id>-ocsp-<n>.key.pem / .pem   delegated OCSP responder key and certificate

Values that JPKI does not publish (OCSP validity, CRL cadence, shard count) are defaults here,
never constants in the code, and docs/ca.md says which are guesses.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from mobile_jpki.files import atomic_write, ensure_private_dir
from mobile_jpki.keys.source import SecretSource

PASSPHRASE_ENV = "MOBILE_JPKI_CA_PASSPHRASE"  # noqa: S105 (a variable name, not a secret)
DATABASE_PASSWORD_ENV = "MOBILE_JPKI_DATABASE_PASSWORD"  # noqa: S105 (a variable name)
SETTINGS_FILE = "settings.json"
DB_FILE = "mobile-jpki.db"


class SettingsError(Exception):
    """The data directory is missing, unreadable or inconsistent."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        super().__init__(message)
        self.path = path


class Settings(BaseModel):
    """Service settings, persisted as ``DIR/settings.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Field(exclude=True)
    base_url: str = "http://127.0.0.1:8000"
    # None means the embedded default: SQLite in the data directory. Never holds a password
    # (save() drops it): that comes at run time from $MOBILE_JPKI_DATABASE_PASSWORD, the 0600
    # file ``database_password_file`` (relative to the data directory), or libpq's own
    # PGPASSWORD / ~/.pgpass (docs/security.md "Files and secrets at rest").
    database_url: str | None = None
    database_password_file: Path | None = None
    # CRL shards per CA generation; a certificate's shard is fixed at issuance because its
    # CDP URL names it (Let's Encrypt does the same).
    shard_count: int = Field(default=16, ge=1, le=4096)
    # *Uncertain*: JPKI publishes no OCSP validity. RFC 5019 §6.2 wants nextUpdate set.
    ocsp_validity: dt.timedelta = dt.timedelta(days=1)
    # A pre-signed response with less than this left before nextUpdate is re-signed on demand.
    ocsp_refresh_before: dt.timedelta = dt.timedelta(hours=12)
    # Delegated responder certificate lifetime and when to roll it over (RFC 6960 §4.2.2.2).
    # Short, because id-pkix-ocsp-nocheck means nobody checks it for revocation (§4.2.2.2.1);
    # must exceed ocsp_validity + rollover so responses never outlive their signer.
    responder_validity: dt.timedelta = dt.timedelta(days=7)
    responder_rollover_before: dt.timedelta = dt.timedelta(days=2)
    # The real service publishes CRLs daily (JPKI-FACTS.md); nextUpdate leaves a margin.
    crl_validity: dt.timedelta = dt.timedelta(days=2)
    crl_refresh_before: dt.timedelta = dt.timedelta(days=1)
    delta_crl_validity: dt.timedelta = dt.timedelta(hours=6)
    # Root lifetime for `ca init` (the real roots run ~ 12 years; *uncertain*).
    root_validity: dt.timedelta = dt.timedelta(days=365 * 12)
    # Threads that sign the CA's certificates and OCSP responses, the calling one included
    # (service/signing_pool.py): cryptography releases the GIL while signing, so issuance
    # scales with the cores. None = one per core (os.cpu_count()), decided at start so a
    # copied settings.json never pins another machine's count; 1 = the calling thread only.
    signing_threads: int | None = Field(default=None, ge=1, le=256)
    # Where CA keys live: "file" (encrypted PKCS#8 in DIR/ca) or a PKCS#11 module (see docs).
    # A sandbox (`ca init --sandbox`, `mobile-jpki demo`): its clock may be moved forward with
    # `mobile-jpki clock advance` (the 48-hour rule on the real portal). False for a real CA,
    # whose clock is never movable: the offset is then neither read nor written.
    sandbox: bool = False
    key_backend: str = "file"
    # Where the "file" backend keeps CA and OCSP-responder keys: None = DIR/ca. Several hosts
    # on one database point this at one shared directory (`ca init/join --key-dir`,
    # docs/deploy.md): a responder rolled over by one host writes its key there for all.
    ca_key_dir: Path | None = None
    pkcs11_module: str | None = None
    pkcs11_token_label: str | None = None

    # --- paths -------------------------------------------------------------------------
    @property
    def settings_path(self) -> Path:
        return self.data_dir / SETTINGS_FILE

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE

    @property
    def ca_dir(self) -> Path:
        return self.data_dir / "ca"

    @property
    def key_dir(self) -> Path:
        """Where CA and responder key files live (``ca_key_dir``, relative to the data dir)."""
        if self.ca_key_dir is None:
            return self.ca_dir
        return self.ca_key_dir if self.ca_key_dir.is_absolute() else self.data_dir / self.ca_key_dir

    @property
    def passphrase_path(self) -> Path:
        return self.ca_dir / "passphrase"

    def ca_key_path(self, ca_id: str) -> Path:
        return self.key_dir / f"{_safe(ca_id)}.key.pem"

    def ca_cert_path(self, ca_id: str) -> Path:
        return self.ca_dir / f"{_safe(ca_id)}.pem"

    def responder_key_path(self, ca_id: str, n: int) -> Path:
        return self.key_dir / f"{_safe(ca_id)}-ocsp-{n}.key.pem"

    def responder_cert_path(self, ca_id: str, n: int) -> Path:
        return self.ca_dir / f"{_safe(ca_id)}-ocsp-{n}.pem"

    @property
    def effective_database_url(self) -> str:
        """The URL to connect with: the stored one, with the run-time password added when it
        names none (:meth:`database_password`)."""
        if not self.database_url:
            return f"sqlite:///{self.db_path}"
        password = self.database_password()
        if password is None:
            return self.database_url
        return _url_with_password(self.database_url, password)

    def database_password(self) -> str | None:
        """The database password from the environment or the password file, when the URL has
        none; None leaves it to the driver (libpq reads PGPASSWORD and ~/.pgpass itself).
        A password file readable by group or others is refused, as libpq refuses ~/.pgpass."""
        if not self.database_url or _url_password(self.database_url) is not None:
            return None
        env = os.environ.get(DATABASE_PASSWORD_ENV)
        if env:
            return env
        if self.database_password_file is None:
            return None
        path = self.database_password_file
        path = path if path.is_absolute() else self.data_dir / path
        try:
            mode = path.stat().st_mode
            if mode & 0o077:
                raise SettingsError(
                    f"database password file {path} is readable by others "
                    f"(mode {mode & 0o777:04o}); chmod 600 it",
                    path=path,
                )
            return path.read_text(encoding="utf-8").strip("\r\n")
        except OSError as exc:
            raise SettingsError(
                f"cannot read database password file {path}: {exc.strerror}", path=path
            ) from None

    # --- persistence -------------------------------------------------------------------
    @classmethod
    def load(cls, data_dir: Path, **overrides: object) -> Settings:
        """Read ``DIR/settings.json``; ``overrides`` (non-None) win over the file."""
        path = data_dir / SETTINGS_FILE
        if not path.is_file():
            raise SettingsError(
                f"{data_dir} is not a mobile-jpki data directory (no {SETTINGS_FILE}); "
                "run `mobile-jpki ca init --data-dir DIR` first",
                path=path,
            )
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"cannot read {path}: {exc}", path=path) from exc
        if not isinstance(raw, dict):
            raise SettingsError(f"{path} must hold a JSON object", path=path)
        raw.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate({**raw, "data_dir": data_dir})

    def save(self) -> None:
        # The directory holds personal data (the SQLite database) and keys: 0700, and the
        # settings 0600, whatever the umask (docs/security.md "Files and secrets at rest").
        ensure_private_dir(self.data_dir)
        fields = self.model_dump(mode="json")
        if self.database_url:  # never a password at rest
            fields["database_url"] = url_without_password(self.database_url)
        data = (json.dumps(fields, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        atomic_write(self.settings_path, data, mode=0o600)

    def ca_passphrase(self, *, create: bool = False) -> bytes:
        """The CA key passphrase: ``$MOBILE_JPKI_CA_PASSPHRASE`` or ``DIR/ca/passphrase``.

        The file is a development convenience so ``demo`` and ``serve`` start unattended; in
        production set the environment variable from a secret store, or use PKCS#11.
        """
        env = os.environ.get(PASSPHRASE_ENV)
        if env:
            return env.encode()
        path = self.passphrase_path
        if path.is_file():
            return path.read_bytes().strip()
        if not create:
            raise SettingsError(
                f"no CA passphrase: set {PASSPHRASE_ENV} or create {path}", path=path
            )
        ensure_private_dir(self.ca_dir)
        value = secrets.token_urlsafe(32).encode()
        # O_EXCL + 0600: never widen permissions of, or overwrite, an existing secret.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(value + b"\n")
        return value


def passphrase_source(settings: Settings) -> SecretSource:
    """Where the CA key passphrase is read from: the environment variable when set, else the
    0600 file in the data directory."""
    if os.environ.get(PASSPHRASE_ENV):
        return SecretSource("env", PASSPHRASE_ENV)
    return SecretSource("file", str(settings.passphrase_path))


def _url_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url  # on use: only a database URL needs SQLAlchemy

    try:
        return make_url(url).password
    except ValueError:  # not a URL; the store reports it when it opens
        return None


def url_without_password(url: str) -> str:
    """``url`` as stored: the same URL without its password (user, host, query kept)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ValueError:
        return url
    if parsed.password is None:
        return url
    # URL.set() leaves a field given as None unchanged: the NamedTuple's own replace.
    return str(parsed._replace(password=None).render_as_string(hide_password=False))


def _url_with_password(url: str, password: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except ValueError:
        return url
    return str(parsed.set(password=password).render_as_string(hide_password=False))


def _safe(ca_id: str) -> str:
    """ca_ids become file names: refuse anything that could leave DIR/ca."""
    if not ca_id or not all(c.isalnum() or c in "-_" for c in ca_id):
        raise SettingsError(f"invalid CA id {ca_id!r}")
    return ca_id
