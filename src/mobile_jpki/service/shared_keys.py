"""Keys every host of one database must hold the same, made once and recorded in it (issue 19;
docs/deploy.md).

Hosts share the database, so whatever a phone or card received from one host must verify on
another: the portal's instruction key (the element checks deletion instructions with the public
key it was personalised with, docs/apdu.md), the municipal card-issuer key, the trusted
secure-element manufacturer roots (and the emulated manufacturer's key, so a simulator phone
made on any host enrols on every host) and the TSA. ``mobile-jpki ca init`` makes them and
records them in the ``shared_key`` table: the SHA-256 of the SubjectPublicKeyInfo (DER), the
certificate when there is one, and the private key *sealed*: encrypted PKCS#8 (RFC 5958
EncryptedPrivateKeyInfo, PBES2 of RFC 8018) under the CA passphrase, which every host has
anyway to unlock its CA keys. ``mobile-jpki ca join`` writes them into a new data directory
(:func:`fetch`), and every process compares its files with the records at start-up
(:func:`ensure`) and refuses to run on a difference: one line, never a silent split.

CA and OCSP-responder keys are not sealed here: they stay in the HSM or in one key directory
every host mounts (``ca_key_dir``); their public keys are already recorded in the database, in
the certificates of ``ca_generation`` and ``ocsp_responder`` (:func:`verify_ca_keys`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import (
    PrivateKeyTypes,
    PublicKeyTypes,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mobile_jpki.files import atomic_write, ensure_private_dir
from mobile_jpki.keys.errors import KeyStoreError
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import CaGeneration, OcspResponder, SharedKey

INSTRUCTION = "instruction"
CARD_ISSUER = "card-issuer"
MANUFACTURER = "manufacturer"
TSA = "tsa"
ROOT_PREFIX = "manufacturer-root:"  # + the first 16 hex digits of the root's SHA-256

JOIN_HINT = "join this host with `mobile-jpki ca join` (docs/deploy.md)"
CA_KEY_HINT = (
    "every host needs the same CA keys: the shared key directory (`ca join --key-dir DIR`) "
    "or the HSM (docs/deploy.md)"
)


class HostKeyError(KeyStoreError):
    """This data directory's keys are not the ones the database records (or are missing)."""


@dataclass(frozen=True)
class SharedItem:
    """One shared key: its file, its certificate file, and whether the file on disk is
    encrypted with the CA passphrase (the emulated manufacturer's is not: reader/emulated.py)."""

    name: str
    key_file: str
    cert_file: str | None
    encrypted: bool

    def key_path(self, settings: Settings) -> Path:
        return settings.data_dir / self.key_file

    def cert_path(self, settings: Settings) -> Path | None:
        return settings.data_dir / self.cert_file if self.cert_file else None


ITEMS = (
    SharedItem(INSTRUCTION, "portal/instruction-key.pem", None, True),
    SharedItem(CARD_ISSUER, "portal/card-issuer-key.pem", None, True),
    SharedItem(
        MANUFACTURER, "devices/manufacturer/key.pem", "devices/manufacturer/root.pem", False
    ),
    SharedItem(TSA, "ca/tsa.key.pem", "ca/tsa.pem", True),
)
MANUFACTURERS_DIR = "portal/manufacturers"


def spki_sha256(public_key: PublicKeyTypes) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), hex: the fingerprint
    hosts compare (the same one `openssl pkey -pubout -outform DER | sha256sum` prints)."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def recorded(db: Database) -> dict[str, SharedKey]:
    with db.transaction(write=False) as s:
        rows = list(s.scalars(select(SharedKey)))
        for row in rows:
            s.expunge(row)
    return {row.name: row for row in rows}


def trusted_roots(db: Database) -> list[x509.Certificate]:
    """The manufacturer roots the portal trusts: every root recorded in the database (the
    emulated manufacturer's and each imported from ``portal/manufacturers/*.pem``)."""
    roots = []
    for name, row in sorted(recorded(db).items()):
        if (name == MANUFACTURER or name.startswith(ROOT_PREFIX)) and row.certificate_der:
            roots.append(x509.load_der_x509_certificate(row.certificate_der))
    return roots


# -- the check every process runs ---------------------------------------------------------------
def ensure(
    settings: Settings,
    db: Database,
    now: dt.datetime,
    *,
    make: dict[str, Callable[[], None]] | None = None,
) -> list[str]:
    """Compare this data directory's shared keys with the database's records; raise
    :class:`HostKeyError` (one line) on any difference or missing file. A key the database does
    not record yet (a database older than migration 0009, or ``ca init`` itself) is made with
    ``make[name]`` when its file is missing, then recorded: the first host to record wins the
    primary key, and any other then fails this same check. Returns the names recorded now."""
    rows = recorded(db)
    added = []
    for item in ITEMS:
        row = rows.get(item.name)
        if row is None:
            if not item.key_path(settings).is_file() and make and item.name in make:
                make[item.name]()
            if not item.key_path(settings).is_file():
                continue  # not made here (e.g. no TSA yet): recorded once it exists
            if _record(db, settings, item, now):
                added.append(item.name)
                continue
            rows = recorded(db)  # another host recorded it first: compare with theirs
            row = rows[item.name]
        _compare(settings, item, row)
    added.extend(_import_roots(settings, db, now, rows))
    return added


def _compare(settings: Settings, item: SharedItem, row: SharedKey) -> None:
    path = item.key_path(settings)
    if not path.is_file():
        raise HostKeyError(
            f"{path} is missing but the database records the {item.name} key "
            f"(sha256 {row.spki_sha256[:16]}…): {JOIN_HINT}"
        )
    found = spki_sha256(_load(settings, item, path.read_bytes()).public_key())
    if found != row.spki_sha256:
        raise HostKeyError(
            f"{path} is not the {item.name} key the database records (sha256 {found[:16]}… "
            f"here, {row.spki_sha256[:16]}… recorded): this host would sign what the others "
            f"cannot verify; move it aside and run `mobile-jpki ca join` (docs/deploy.md)"
        )


def _load(settings: Settings, item: SharedItem, pem: bytes) -> PrivateKeyTypes:
    password = settings.ca_passphrase() if item.encrypted else None
    try:
        # Only the public half is compared or re-sealed here; the key that signs is loaded,
        # and checked, where it is used.
        return serialization.load_pem_private_key(
            pem, password, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError):
        raise HostKeyError(
            f"{item.key_path(settings)}: cannot be read with the CA passphrase "
            "(every host needs the same one, docs/deploy.md)"
        ) from None


def _record(db: Database, settings: Settings, item: SharedItem, now: dt.datetime) -> bool:
    key = _load(settings, item, item.key_path(settings).read_bytes())
    sealed = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(settings.ca_passphrase()),
    )
    cert_path = item.cert_path(settings)
    cert_der = None
    if cert_path is not None and cert_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        cert_der = cert.public_bytes(serialization.Encoding.DER)
    row = SharedKey(
        name=item.name,
        spki_sha256=spki_sha256(key.public_key()),
        certificate_der=cert_der,
        sealed=sealed,
        created_at=now,
    )
    return _insert(db, row)


def _insert(db: Database, row: SharedKey) -> bool:
    try:
        with db.transaction() as s:
            s.add(row)
    except IntegrityError:
        return False
    return True


def _import_roots(
    settings: Settings, db: Database, now: dt.datetime, rows: dict[str, SharedKey]
) -> list[str]:
    """Roots an operator put in ``portal/manufacturers/*.pem`` join the recorded set, which
    every host trusts (so adding one on any host adds it for all at their next start)."""
    folder = settings.data_dir / MANUFACTURERS_DIR
    added = []
    for path in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        for cert in x509.load_pem_x509_certificates(path.read_bytes()):
            der = cert.public_bytes(serialization.Encoding.DER)
            name = ROOT_PREFIX + hashlib.sha256(der).hexdigest()[:16]
            if name in rows:
                continue
            row = SharedKey(
                name=name,
                spki_sha256=spki_sha256(cert.public_key()),
                certificate_der=der,
                sealed=None,
                created_at=now,
            )
            if _insert(db, row):
                added.append(name)
    return added


# -- joining -----------------------------------------------------------------------------------
def fetch(settings: Settings, db: Database) -> list[str]:
    """Write the database's shared keys (and certificates) into this data directory: what
    ``mobile-jpki ca join`` does. A file already there must be the recorded key (else
    :class:`HostKeyError`); nothing is overwritten. Returns the names written."""
    written = []
    rows = recorded(db)
    for item in ITEMS:
        row = rows.get(item.name)
        if row is None or row.sealed is None:
            continue
        path = item.key_path(settings)
        if path.is_file():
            _compare(settings, item, row)
            continue
        try:
            key = serialization.load_pem_private_key(row.sealed, settings.ca_passphrase())
        except (ValueError, TypeError):
            raise HostKeyError(
                f"the {item.name} key sealed in the database does not open with this host's CA "
                "passphrase: every host needs the same one (docs/deploy.md)"
            ) from None
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(settings.ca_passphrase())
            if item.encrypted
            else serialization.NoEncryption()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        ensure_private_dir(path.parent)
        cert_path = item.cert_path(settings)
        if cert_path is not None and row.certificate_der is not None:
            cert = x509.load_der_x509_certificate(row.certificate_der)
            atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        atomic_write(path, pem, mode=0o600)
        written.append(item.name)
    return written


# -- CA keys -----------------------------------------------------------------------------------
def verify_ca_keys(
    db: Database,
    public_key: Callable[[str], PublicKeyTypes],
    *,
    ca_ids: Iterable[str] | None = None,
) -> None:
    """Every active CA generation's and OCSP responder's key opens and is the key of the
    certificate the database records for it; :class:`HostKeyError` (one line) otherwise. The
    store (files or PKCS#11) is whatever ``public_key`` reads: only public keys are
    compared."""
    with db.transaction(write=False) as s:
        cas = [
            (r.ca_id, r.key_ref, r.certificate_der)
            for r in s.scalars(select(CaGeneration).where(CaGeneration.active.is_(True)))
            if ca_ids is None or r.ca_id in set(ca_ids)
        ]
        responders = [
            (f"{r.ca_id} OCSP responder {r.serial}", r.key_ref, r.certificate_der)
            for r in s.scalars(select(OcspResponder).where(OcspResponder.active.is_(True)))
        ]
    for what, key_ref, cert_der in [*cas, *responders]:
        try:
            found = public_key(key_ref)
        except KeyStoreError as exc:
            raise HostKeyError(
                f"the key of {what} ({key_ref}) cannot be opened: {exc}; {CA_KEY_HINT}"
            ) from None
        cert = x509.load_der_x509_certificate(cert_der)
        if spki_sha256(found) != spki_sha256(cert.public_key()):
            raise HostKeyError(
                f"the key of {what} ({key_ref}) is not the one its certificate in the database "
                f"names: this host holds another CA's keys; {CA_KEY_HINT}"
            )
