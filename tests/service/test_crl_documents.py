"""Where published CRLs are kept (service/ca/crl_documents.py): files beside a SQLite database,
written and renamed before the publishing transaction commits; the crl_document table on
PostgreSQL and in-memory SQLite. Whatever the store, a CRL number names one CRL: what was
published is what is served, and a lost document is published again under a new number."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.service.ca.crl_documents import FileDocuments, TableDocuments
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import CrlDocument, CrlState

Order = Callable[..., IssueOrder]
CA_ID = "auth-1"


class MemoryKeys:
    """Keys generated in memory (the CA's KeyStore interface)."""

    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPrivateKey] = {}

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        self._keys[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._keys[name], name

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        return self._keys[key_ref]


def crl_number(der: bytes) -> int:
    crl = x509.load_der_x509_crl(der)
    return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []


def test_the_store_follows_the_database(ca: CertificateAuthority, database: Database) -> None:
    if database.is_sqlite:
        assert isinstance(ca.crl_documents, FileDocuments)
        assert ca.crl_documents.directory == Path(f"{database.engine.url.database}-crl")
    else:
        assert isinstance(ca.crl_documents, TableDocuments)


def test_in_memory_sqlite_keeps_crls_in_the_table(tmp_path: Path, clock: FixedClock) -> None:
    db = Database("sqlite://")
    db.migrate()
    ca = CertificateAuthority(db, Settings(data_dir=tmp_path, shard_count=2), MemoryKeys())
    ca.init_hierarchies(clock.now())
    der = ca.crl(CA_ID, 0, clock.now())
    with db.transaction(write=False) as s:
        assert s.scalar(select(CrlDocument.der).where(CrlDocument.ca_id == CA_ID)) == der
    assert ca.crl(CA_ID, 0, clock.now()) == der
    db.dispose()


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_file_per_publication_and_the_older_ones_pruned(
    ca: CertificateAuthority, database: Database, clock: FixedClock, order: Order
) -> None:
    assert isinstance(ca.crl_documents, FileDocuments)
    directory = ca.crl_documents.directory
    info = ca.issue(order(clock.now()), clock.now())
    first = ca.crl(CA_ID, info.shard, clock.now())
    n1 = crl_number(first)
    assert files(directory) == [f"{CA_ID}.{info.shard}.full.{n1}.der"]
    assert (directory / f"{CA_ID}.{info.shard}.full.{n1}.der").read_bytes() == first
    with database.transaction(write=False) as s:  # not also in the table
        assert s.scalar(select(CrlDocument.ca_id)) is None

    delta = ca.crl(CA_ID, info.shard, clock.now(), delta=True)
    nd = crl_number(delta)
    assert files(directory) == sorted(
        [f"{CA_ID}.{info.shard}.full.{n1}.der", f"{CA_ID}.{info.shard}.delta.{nd}.der"]
    )
    ca.revoke(info.serial, Reason.KEY_COMPROMISE, clock.advance(dt.timedelta(minutes=1)))
    second = ca.crl(CA_ID, info.shard, clock.now())
    n2 = crl_number(second)
    assert n2 > nd > n1
    # The new base ends the old deltas; the old full CRL's file goes once the new one commits.
    assert files(directory) == [f"{CA_ID}.{info.shard}.full.{n2}.der"]
    assert ca.crl(CA_ID, info.shard, clock.now()) == second


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_lost_file_is_published_again_under_a_new_number(
    ca: CertificateAuthority, clock: FixedClock, order: Order
) -> None:
    assert isinstance(ca.crl_documents, FileDocuments)
    info = ca.issue(order(clock.now()), clock.now())
    ca.revoke(info.serial, Reason.SUPERSEDED, clock.now())
    first = ca.crl(CA_ID, info.shard, clock.now())
    delta = ca.crl(CA_ID, info.shard, clock.now(), delta=True)
    for path in ca.crl_documents.directory.iterdir():
        path.unlink()  # e.g. a backup that took only the database file
    again = ca.crl(CA_ID, info.shard, clock.now())
    assert crl_number(again) > crl_number(delta) > crl_number(first)
    assert x509.load_der_x509_crl(again).get_revoked_certificate_by_serial_number(info.serial)
    assert ca.crl(CA_ID, info.shard, clock.now()) == again
    # The delta of the old base went with it; a delta request gets one of the new base.
    new_delta = x509.load_der_x509_crl(ca.crl(CA_ID, info.shard, clock.now(), delta=True))
    base = new_delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value
    assert base.crl_number == crl_number(again)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_failed_publication_leaves_the_published_crl_served(
    ca: CertificateAuthority, clock: FixedClock, order: Order, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file of a publication whose transaction rolls back is never referenced: the
    committed state still names the previous CRL, whose file is still there."""
    info = ca.issue(order(clock.now()), clock.now())
    first = ca.crl(CA_ID, info.shard, clock.now())
    ca.revoke(info.serial, Reason.SUPERSEDED, clock.advance(dt.timedelta(minutes=1)))

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("crash after the file was written")

    monkeypatch.setattr(ca.crl_documents, "drop", fail)  # runs after put, before commit
    with pytest.raises(RuntimeError):
        ca.crl(CA_ID, info.shard, clock.now())
    monkeypatch.undo()
    with ca.db.transaction(write=False) as s:
        state = s.get(CrlState, (CA_ID, info.shard))
        assert state is not None and state.full_number == crl_number(first)
        assert ca.crl_documents.get(s, CA_ID, info.shard, "full", crl_number(first)) == first
    second = ca.crl(CA_ID, info.shard, clock.now())
    assert x509.load_der_x509_crl(second).get_revoked_certificate_by_serial_number(info.serial)
    # The rolled-back publication's number was never committed, so it is used again, and its
    # file is replaced, not duplicated.
    assert crl_number(second) == crl_number(first) + 1
    assert files(ca.crl_documents.directory) == [
        f"{CA_ID}.{info.shard}.full.{crl_number(second)}.der"
    ]


def test_prune_spares_newer_publications_and_fresh_temporary_files(tmp_path: Path) -> None:
    store = FileDocuments(tmp_path)
    names = [
        "sign-1.0.full.5.der",  # older than the committed full CRL: pruned
        "sign-1.0.full.7.der",  # the committed one
        "sign-1.0.full.9.der",  # a later publication (another process, not yet committed)
        "sign-1.0.delta.6.der",  # a delta of the old base: pruned
        "sign-1.0.delta.8.der",  # a delta of the new base, newer than the full CRL
        "sign-1.1.full.3.der",  # another shard
        "sign-10.0.full.1.der",  # another CA whose id starts alike
        ".sign-1.0.full.9.der.abc.tmp",  # being written right now
        ".sign-1.0.full.4.der.old.tmp",  # left by a crash long ago
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    hours_ago = time.time() - 7200
    os.utime(tmp_path / ".sign-1.0.full.4.der.old.tmp", (hours_ago, hours_ago))
    store.prune("sign-1", 0, {"full": 7, "delta": None})
    assert files(tmp_path) == sorted(
        [
            "sign-1.0.full.7.der",
            "sign-1.0.full.9.der",
            "sign-1.0.delta.8.der",
            "sign-1.1.full.3.der",
            "sign-10.0.full.1.der",
            ".sign-1.0.full.9.der.abc.tmp",
        ]
    )


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_crl_kept_in_the_table_by_an_earlier_version_is_dropped_on_republication(
    ca: CertificateAuthority, database: Database, settings: Settings, clock: FixedClock
) -> None:
    """Databases from before the file store kept the DER in crl_document: those rows are
    not read (the file is missing, so the CRL is published again) and the republication
    removes them."""
    table = TableDocuments(is_sqlite=True)
    with database.transaction() as s:
        state = CrlState(ca_id=CA_ID, shard=0, full_dirty=False, delta_dirty=True)
        s.add(state)
        s.flush()
        table.put(s, CA_ID, 0, "full", 1, b"legacy")
        state.full_number = 1
        state.full_this_update = clock.now()
        state.full_next_update = clock.now() + settings.crl_validity
    der = ca.crl(CA_ID, 0, clock.now())
    assert der != b"legacy"
    assert x509.load_der_x509_crl(der).issuer == ca.identity(CA_ID).certificate.subject
    with database.transaction(write=False) as s:
        assert s.scalar(select(CrlDocument.ca_id)) is None
