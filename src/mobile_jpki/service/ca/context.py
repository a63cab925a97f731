"""What every part of the CA shares (hierarchy, issuance, revocation, OCSP, CRLs): the store,
the settings, the keys, the audit log and the signing pool. Time is never in here: every use
case takes ``now``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from mobile_jpki.pki.model import PublicUrls
from mobile_jpki.service.audit import AuditLog
from mobile_jpki.service.keystore import KeyStore
from mobile_jpki.service.signing_pool import SigningPool
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database


@dataclass(frozen=True)
class CaContext:
    db: Database
    settings: Settings
    urls: PublicUrls
    audit: AuditLog
    keys: KeyStore
    # The RSA signatures of issuance, pre-signing and revocation (threads: cryptography
    # releases the GIL while signing; see service/signing_pool.py).
    signing: SigningPool
    # Serial numbers; called in the calling thread only (a seeded test source is not
    # thread-safe).
    randbytes: Callable[[int], bytes]
    # The database file when it is a SQLite file; None on PostgreSQL and in-memory SQLite.
    sqlite_file: str | None

    @contextmanager
    def transaction(self, session: Session | None) -> Iterator[Session]:
        """The caller's ``session`` as it is (its transaction, its commit), else a write
        transaction of our own."""
        if session is not None:
            yield session
            return
        with self.db.transaction() as s:
            yield s


def sqlite_file(db: Database) -> str | None:
    database = db.engine.url.database if db.is_sqlite else None
    return database if database and database != ":memory:" else None
