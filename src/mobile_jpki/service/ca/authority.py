"""The certificate authority as use cases over the store.

Consistency rule: every status change (revoke, hold, release) commits in ONE transaction with
(a) the certificate row, (b) its re-signed pre-signed OCSP response, (c) the CRL change record
and (d) the audit record. The OCSP fast path only ever serves the stored response, so once a
revocation commits no reader can be answered "good" for it again; before it commits, readers
see the previous state, which is the definition of the revocation time.

Every public use case takes ``now`` and an optional ``session``: the portal service composes
them into its own transactions (e.g. issue the new phone's certificates and revoke the old
phone's in one commit).
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobile_jpki.pki import crl as crlmod
from mobile_jpki.pki import ocsp, ocsp_rfc5019
from mobile_jpki.pki.identity import BasicFourFacts, Locality
from mobile_jpki.pki.issuance import (
    IssuanceRequest,
    Issuer,
    build_root,
    new_serial,
    shard_of,
)
from mobile_jpki.pki.model import CaIdentity, CertKind, Hierarchy, PublicUrls, utc
from mobile_jpki.pki.revocation import Reason, RevokedEntry
from mobile_jpki.service.audit import AuditEvent, AuditLog
from mobile_jpki.service.ca.crl_documents import DELTA as _DELTA
from mobile_jpki.service.ca.crl_documents import FULL as _FULL
from mobile_jpki.service.ca.crl_documents import documents_for
from mobile_jpki.service.keystore import KeyStore
from mobile_jpki.service.signing_pool import Pending, SignedWrites, SigningPool
from mobile_jpki.settings import Settings
from mobile_jpki.store import direct
from mobile_jpki.store.change_probe import change_probe
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import (
    CaGeneration,
    Certificate,
    CertStatus,
    CrlChange,
    CrlState,
    OcspResponder,
    OcspResponse,
    serial_hex,
)

_CACHED_SQL = (
    "SELECT r.der, r.this_update, r.next_update, r.produced_at, c.ca_id "
    "FROM ocsp_response r JOIN certificate c ON c.serial = r.serial WHERE r.serial = "
)
_CACHED_SQL_QMARK = _CACHED_SQL + "?"  # sqlite3
_CACHED_SQL_FORMAT = _CACHED_SQL + "%s"  # psycopg

# A shard's stored full-CRL entries (``_stored_entries``), in the DBAPI's own parameter style.
# 'good' is a literal so that the planner can use the partial covering index
# ix_certificate_crl_entry (its WHERE must be implied by the query's, parameters cannot be).
_STORED_ENTRIES_SQL = (
    "SELECT crl_entry FROM certificate WHERE ca_id = :ca_id AND shard = :shard"
    " AND status != 'good' AND not_after > :now"
)
_STORED_ENTRIES_SQL_PYFORMAT = (
    _STORED_ENTRIES_SQL.replace(":ca_id", "%(ca_id)s")
    .replace(":shard", "%(shard)s")
    .replace(":now", "%(now)s")
)
_ENTRY_BATCH = 10_000  # rows per fetch: ~0.5 MB of entries, one join each

# Built once (a statement's cache key is computed per construct): the issuance inserts.
_INSERT_CERTIFICATE = insert(cast(Table, Certificate.__table__))
_INSERT_OCSP_RESPONSE = insert(cast(Table, OcspResponse.__table__))
# ... and the status changes (revoke, hold, release: _change_many_in).
_CERTIFICATE = cast(Table, Certificate.__table__)


class _Locked(NamedTuple):
    """A certificate row read (and locked) for a status change."""

    serial: str
    ca_id: str
    kind: str
    subject_id: str
    shard: int
    not_before: dt.datetime
    not_after: dt.datetime
    status: str
    revoked_at: dt.datetime | None
    reason: int | None
    invalidity_date: dt.datetime | None
    der: bytes


_READ_CERTIFICATES = (
    select(*(_CERTIFICATE.c[name] for name in _Locked._fields))
    .where(_CERTIFICATE.c.serial.in_(bindparam("serials", expanding=True)))
    .order_by(_CERTIFICATE.c.serial)
)
_LOCK_CERTIFICATES = {True: _READ_CERTIFICATES, False: _READ_CERTIFICATES.with_for_update()}
_UPDATE_CERTIFICATE_STATE = (
    update(_CERTIFICATE)
    .where(_CERTIFICATE.c.serial == bindparam("b_serial"))
    .values(
        status=bindparam("b_status"),
        revoked_at=bindparam("b_revoked_at"),
        reason=bindparam("b_reason"),
        invalidity_date=bindparam("b_invalidity_date"),
        crl_entry=bindparam("b_crl_entry"),
    )
)
_INSERT_CRL_CHANGE = insert(cast(Table, CrlChange.__table__))

ARL_SHARD = -1  # crl_state row of the root's CRL of CA certificates
SYSTEM = "system"


# --- errors -------------------------------------------------------------------------------


class CaServiceError(Exception):
    """Base of the CA service errors; ``api.problems`` maps each to an HTTP status."""

    status = 400
    title = "CA request refused"


class NotFound(CaServiceError):
    status = 404
    title = "Not found"

    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"no {what} {key}")
        self.what = what
        self.key = key


class InvalidTransition(CaServiceError):
    """A status change the revocation state machine forbids (revoked is final)."""

    status = 409
    title = "Invalid revocation state transition"

    def __init__(self, serial: int, status: CertStatus, action: str) -> None:
        super().__init__(f"certificate {serial:x} is {status.value}: cannot {action}")
        self.serial = serial
        self.current = status
        self.action = action


class AlreadyInitialised(CaServiceError):
    status = 409
    title = "CA already initialised"

    def __init__(self, ca_id: str) -> None:
        super().__init__(f"{ca_id} already exists")
        self.ca_id = ca_id


class InvalidRequest(CaServiceError):
    pass


# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueOrder:
    """What a caller asks the CA to issue; the CA picks serial, shard and generation."""

    kind: CertKind
    subject_public_key: rsa.RSAPublicKey
    subject_id: str
    not_before: dt.datetime
    not_after: dt.datetime
    facts: BasicFourFacts | None = None
    locality: Locality | None = None
    person_id: str | None = None
    card_id: str | None = None
    device_id: str | None = None


@dataclass(frozen=True)
class CertificateInfo:
    serial: int
    ca_id: str
    kind: CertKind
    subject_id: str
    shard: int
    not_before: dt.datetime
    not_after: dt.datetime
    status: CertStatus
    revoked_at: dt.datetime | None
    reason: Reason | None
    invalidity_date: dt.datetime | None
    der: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)


@dataclass(frozen=True)
class OcspAnswer:
    """An encoded OCSP response and what HTTP caching needs to know about it."""

    der: bytes
    status: ocsp.ResponseStatus
    produced_at: dt.datetime
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    # False for nonce answers and errors: unique to one request, never shared by caches.
    cacheable: bool = False
    # A stored pre-signed answer (ocsp_cached): the instant from which it is no longer served
    # as it is but re-signed (nextUpdate - ocsp_refresh_before). None for everything else.
    served_until: dt.datetime | None = None


@dataclass(frozen=True)
class _Plan:
    """One certificate of an issuance batch, before signing."""

    ca_id: str
    issuer: Issuer
    request: IssuanceRequest
    order: IssueOrder


# What an OCSP answer says about a certificate: status, revocation time, reason code.
_CertState = tuple[CertStatus, dt.datetime | None, int | None]
_GOOD: _CertState = (CertStatus.GOOD, None, None)


@dataclass(frozen=True)
class CaSummary:
    ca_id: str
    hierarchy: Hierarchy
    generation: int
    active: bool
    certificate: x509.Certificate


# --- the authority ------------------------------------------------------------------------


class CertificateAuthority:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        keys: KeyStore,
        *,
        randbytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.db = db
        self.settings = settings
        self.urls = PublicUrls(settings.base_url)
        self.audit = AuditLog(db)
        self._keys = keys
        self._randbytes = randbytes
        self._identities: dict[str, CaIdentity] = {}
        self._issuers: dict[str, Issuer] = {}
        self._responders: dict[int, tuple[str, ocsp.Responder]] = {}
        self._by_issuer: dict[tuple[ocsp.HashAlgorithm, bytes, bytes], str] = {}
        self._active: dict[Hierarchy, str] = {}
        # ca_id -> (responder row id, its not_after): avoids a read per signature.
        self._current_responder: dict[str, tuple[int, dt.datetime]] = {}
        database = db.engine.url.database if db.is_sqlite else None
        self._fast_path = database if database and database != ":memory:" else None
        # The DER of published CRLs (service/crl_documents.py): files beside a SQLite file.
        self.crl_documents = documents_for(self._fast_path, is_sqlite=db.is_sqlite)
        self._fast_local = threading.local()
        self._sha1_issuer_keys: dict[str, tuple[ocsp.HashAlgorithm, bytes, bytes]] = {}
        # The RSA signatures of issuance, pre-signing and revocation (threads: cryptography
        # releases the GIL while signing; see service/signing_pool.py).
        self._signing = SigningPool(settings.signing_threads)

    # -- session helper --------------------------------------------------------------------
    @contextmanager
    def _tx(self, session: Session | None) -> Iterator[Session]:
        if session is not None:
            yield session
            return
        with self.db.transaction() as s:
            yield s

    # -- hierarchy -------------------------------------------------------------------------
    def init_hierarchies(self, now: dt.datetime, *, actor: str = SYSTEM) -> list[str]:
        """Generation 1 of both hierarchies with their OCSP responders (idempotent: existing
        hierarchies are left alone). Returns the ca_ids created."""
        created = []
        for hierarchy in Hierarchy:
            with self.db.transaction(write=False) as s:
                exists = s.scalar(
                    select(func.count())
                    .select_from(CaGeneration)
                    .where(CaGeneration.hierarchy == hierarchy.value)
                )
            if not exists:
                created.append(self.add_generation(hierarchy, now, actor=actor))
        return created

    def add_generation(self, hierarchy: Hierarchy, now: dt.datetime, *, actor: str = SYSTEM) -> str:
        """A new root key generation (same DN, new key); it becomes the issuing one. Older
        generations keep answering OCSP and publishing CRLs for what they issued."""
        now = utc(now)
        with self.db.transaction(write=False) as s:
            last = s.scalar(
                select(func.max(CaGeneration.generation)).where(
                    CaGeneration.hierarchy == hierarchy.value
                )
            )
        generation = (last or 0) + 1
        ca_id = CaIdentity.make_id(hierarchy, generation)
        key, key_ref = self._keys.generate(ca_id)
        cert = build_root(
            hierarchy=hierarchy,
            generation=generation,
            key=key,
            not_before=now,
            not_after=now + self.settings.root_validity,
            urls=self.urls,
        )
        try:
            with self.db.transaction() as s:
                s.execute(
                    update(CaGeneration)
                    .where(CaGeneration.hierarchy == hierarchy.value)
                    .values(active=False)
                )
                s.add(
                    CaGeneration(
                        ca_id=ca_id,
                        hierarchy=hierarchy.value,
                        generation=generation,
                        certificate_der=cert.public_bytes(serialization.Encoding.DER),
                        key_ref=key_ref,
                        created_at=now,
                        active=True,
                        last_crl_number=0,
                    )
                )
                s.flush()
                self.audit.record(
                    s,
                    at=now,
                    actor=actor,
                    action="ca.generation.create",
                    obj=ca_id,
                    payload={"serial": serial_hex(cert.serial_number), "key_ref": key_ref},
                )
        except IntegrityError as exc:
            raise AlreadyInitialised(ca_id) from exc
        self._identities[ca_id] = CaIdentity(ca_id, hierarchy, generation, cert, key)
        self._by_issuer.clear()
        self._active.pop(hierarchy, None)
        self.ensure_responder(ca_id, now, actor=actor)
        return ca_id

    def cas(self) -> list[CaSummary]:
        with self.db.transaction(write=False) as s:
            rows = s.scalars(select(CaGeneration).order_by(CaGeneration.ca_id)).all()
            return [
                CaSummary(
                    r.ca_id,
                    Hierarchy(r.hierarchy),
                    r.generation,
                    r.active,
                    x509.load_der_x509_certificate(r.certificate_der),
                )
                for r in rows
            ]

    def identity(self, ca_id: str) -> CaIdentity:
        cached = self._identities.get(ca_id)
        if cached is not None:
            return cached
        with self.db.transaction(write=False) as s:
            row = s.get(CaGeneration, ca_id)
            if row is None:
                raise NotFound("CA", ca_id)
            der, key_ref, hierarchy, generation = (
                row.certificate_der,
                row.key_ref,
                row.hierarchy,
                row.generation,
            )
        identity = CaIdentity(
            ca_id,
            Hierarchy(hierarchy),
            generation,
            x509.load_der_x509_certificate(der),
            self._keys.load(key_ref),
        )
        self._identities[ca_id] = identity
        return identity

    def _issuer(self, ca_id: str) -> Issuer:
        issuer = self._issuers.get(ca_id)
        if issuer is None:
            issuer = Issuer(self.identity(ca_id), self.urls)
            self._issuers[ca_id] = issuer
        return issuer

    def _active_ca(self, hierarchy: Hierarchy) -> str:
        # Cached: a new generation is made by add_generation (which clears it) and picked up
        # by other processes at their restart.
        cached = self._active.get(hierarchy)
        if cached is not None:
            return cached
        with self.db.transaction(write=False) as s:
            ca_id = s.scalar(
                select(CaGeneration.ca_id).where(
                    CaGeneration.hierarchy == hierarchy.value, CaGeneration.active.is_(True)
                )
            )
        if ca_id is None:
            raise NotFound("active CA for hierarchy", hierarchy.value)
        self._active[hierarchy] = ca_id
        return ca_id

    def _issuer_index(self) -> dict[tuple[ocsp.HashAlgorithm, bytes, bytes], str]:
        if not self._by_issuer:
            index = {}
            for ca in self.cas():
                for alg in ocsp.HashAlgorithm:
                    index[ocsp.issuer_key(ca.certificate, alg)] = ca.ca_id
            self._by_issuer = index
        return self._by_issuer

    # -- OCSP responders -------------------------------------------------------------------
    def ensure_responder(
        self, ca_id: str, now: dt.datetime, *, actor: str = SYSTEM
    ) -> tuple[int, ocsp.Responder]:
        """The active responder of ``ca_id``, rolled over when it nears expiry."""
        now = utc(now)
        known = self._current_responder.get(ca_id)
        if known and known[1] - now > self.settings.responder_rollover_before:
            return known[0], self._responder(known[0])
        with self.db.transaction(write=False) as s:
            row = s.scalars(
                select(OcspResponder)
                .where(OcspResponder.ca_id == ca_id, OcspResponder.active.is_(True))
                .order_by(OcspResponder.id.desc())
            ).first()
            current = (row.id, row.not_after) if row else None
        if current and current[1] - now > self.settings.responder_rollover_before:
            self._current_responder[ca_id] = current
            return current[0], self._responder(current[0])
        return self._roll_responder(ca_id, now, actor)

    def _roll_responder(
        self, ca_id: str, now: dt.datetime, actor: str
    ) -> tuple[int, ocsp.Responder]:
        issuer = self._issuer(ca_id)
        with self.db.transaction(write=False) as s:
            count = s.scalar(
                select(func.count()).select_from(OcspResponder).where(OcspResponder.ca_id == ca_id)
            )
        key, key_ref = self._keys.generate(f"{ca_id}-ocsp-{(count or 0) + 1}")
        cert = issuer.ocsp_responder(
            key.public_key(),
            new_serial(self._randbytes),
            now,
            self.settings.responder_validity,
        )
        with self.db.transaction() as s:
            s.execute(
                update(OcspResponder).where(OcspResponder.ca_id == ca_id).values(active=False)
            )
            row = OcspResponder(
                ca_id=ca_id,
                serial=serial_hex(cert.serial_number),
                certificate_der=cert.public_bytes(serialization.Encoding.DER),
                key_ref=key_ref,
                not_before=cert.not_valid_before_utc,
                not_after=cert.not_valid_after_utc,
                active=True,
            )
            s.add(row)
            s.flush()
            rid = row.id
            self.audit.record(
                s,
                at=now,
                actor=actor,
                action="ocsp.responder.create",
                obj=ca_id,
                payload={"serial": row.serial, "not_after": _iso(row.not_after)},
            )
        responder = ocsp.Responder(cert, key)
        self._responders[rid] = (ca_id, responder)
        self._current_responder[ca_id] = (rid, cert.not_valid_after_utc)
        return rid, responder

    def _responder(self, rid: int) -> ocsp.Responder:
        cached = self._responders.get(rid)
        if cached is not None:
            return cached[1]
        with self.db.transaction(write=False) as s:
            row = s.get(OcspResponder, rid)
            if row is None:
                raise NotFound("OCSP responder", str(rid))
            der, key_ref, ca_id = row.certificate_der, row.key_ref, row.ca_id
        responder = ocsp.Responder(x509.load_der_x509_certificate(der), self._keys.load(key_ref))
        self._responders[rid] = (ca_id, responder)
        return responder

    # -- issuance --------------------------------------------------------------------------
    def issue(
        self,
        order: IssueOrder,
        now: dt.datetime,
        *,
        actor: str = SYSTEM,
        session: Session | None = None,
    ) -> CertificateInfo:
        """Issue, record, pre-sign its OCSP "good" response and audit. Both signatures are
        made before the write transaction: nobody can revoke a certificate that does not exist
        yet, so the pre-signed "good" cannot be stale, and the database lock is held only for
        the inserts."""
        return self.issue_many([order], now, actor=actor, session=session)[0]

    def issue_many(
        self,
        orders: Sequence[IssueOrder],
        now: dt.datetime,
        *,
        actor: str = SYSTEM,
        session: Session | None = None,
        presign: bool = True,
    ) -> list[CertificateInfo]:
        """Issue several certificates and commit them in ONE transaction (group commit: one
        fsync for the batch instead of one per certificate), one audit record each; all or
        none commit.

        ``presign=False`` leaves the OCSP response to be signed on the first request (under
        the certificate's row lock, then stored, as any stale response is) or by
        :meth:`presign_pending`: correct, because a certificate nobody has revoked is good,
        and halving the signatures per issuance. Revocations always re-sign in their own
        transaction, whatever was chosen here."""
        now = utc(now)
        plans = [self._plan(order) for order in orders]
        # Every signature of the batch on the signing pool, certificate and OCSP response
        # side by side (the CertID needs only the issuer's hashes and the serial), and all
        # BEFORE the write transaction: nobody can revoke a certificate that does not exist
        # yet, so the "good" cannot be stale, and the database lock is held for inserts only.
        signed = self._sign_issuance(plans, now, presign).results()
        with self._tx(session) as s:
            rows = self._insert_issued(s, plans, signed, now, actor)
        return [_new_info(row) for row in rows]

    def issue_later(
        self,
        orders: Sequence[IssueOrder],
        now: dt.datetime,
        *,
        session: Session,
        later: SignedWrites,
        actor: str = SYSTEM,
    ) -> list[int]:
        """:meth:`issue_many` (pre-signed) inside the caller's transaction, the signatures
        made while the caller goes on: the rows, their OCSP answers and audit records are
        written by ``later.finish()``, which the caller runs before it commits (see
        :meth:`signing_later`). Returns the serials, chosen now."""
        now = utc(now)
        plans = [self._plan(order) for order in orders]
        pending = self._sign_issuance(plans, now, presign=True)
        later.add(pending, lambda signed: self._insert_issued(session, plans, signed, now, actor))
        return [p.request.serial for p in plans]

    @contextmanager
    def signing_later(self) -> Iterator[SignedWrites]:
        """Signatures for :meth:`issue_later` and ``revoke_many(later=...)``, made while the
        block goes on and written when it ends (use it inside the transaction: the writes
        are part of it); dropped if the block raises."""
        later = SignedWrites()
        try:
            yield later
        except BaseException:
            later.cancel()
            raise
        later.finish()

    def _sign_issuance(
        self, plans: Sequence[_Plan], now: dt.datetime, presign: bool
    ) -> Pending[Any]:
        """Start the certificates' signatures and (``presign``) their OCSP "good" answers'
        on the signing pool; the results are the certificates, then the answers."""
        # Responders before signing: a rollover is a write transaction of its own.
        responders = (
            {ca_id: self.ensure_responder(ca_id, now) for ca_id in {p.ca_id for p in plans}}
            if presign
            else {}
        )
        tasks: list[Callable[[], Any]] = [
            functools.partial(p.issuer.issue, p.request) for p in plans
        ]
        if presign:
            tasks += [
                functools.partial(
                    self._signed_response,
                    self._sha1_key(p.issuer.ca),
                    p.request.serial,
                    *responders[p.ca_id],
                    now,
                    _GOOD,
                )
                for p in plans
            ]
        return self._signing.start(tasks)

    def _insert_issued(
        self,
        s: Session,
        plans: Sequence[_Plan],
        signed: Sequence[Any],
        now: dt.datetime,
        actor: str,
    ) -> list[dict[str, Any]]:
        """Record signed certificates (``signed``: the certificates, then any pre-signed
        answers) and audit them, in ``s``."""
        certs, responses = signed[: len(plans)], signed[len(plans) :]
        rows = [_row(p, cert, now) for p, cert in zip(plans, certs, strict=True)]
        # Core executemany inserts of plain dicts (one statement per table for the batch) on
        # the session's connection, not ORM objects and the unit of work: the rows are
        # write-once here, and building and flushing mapped objects (or the ORM's bulk path)
        # cost as much as the fsync. Flushed first: the rows may reference a person, card or
        # device the caller added to this session.
        s.flush()
        conn = s.connection()
        direct.write(conn, _INSERT_CERTIFICATE, rows)
        if responses:
            direct.write(conn, _INSERT_OCSP_RESPONSE, list(responses))
        self.audit.record_many(
            s,
            [
                AuditEvent(
                    now,
                    actor,
                    "certificate.issue",
                    row["serial"],
                    {
                        "ca_id": row["ca_id"],
                        "kind": row["kind"],
                        "subject_id": row["subject_id"],
                        "shard": row["shard"],
                        "not_after": _iso(row["not_after"]),
                    },
                )
                for row in rows
            ],
        )
        return rows

    def _plan(self, order: IssueOrder) -> _Plan:
        """What one certificate will be: CA, serial and shard are chosen here, in the calling
        thread (``randbytes`` may be a seeded test source, not thread-safe); the request is
        validated before anything is signed."""
        ca_id = self._active_ca(order.kind.hierarchy)
        serial = new_serial(self._randbytes)
        request = IssuanceRequest(
            kind=order.kind,
            subject_public_key=order.subject_public_key,
            serial=serial,
            subject_id=order.subject_id,
            not_before=order.not_before,
            not_after=order.not_after,
            shard=shard_of(serial, self.settings.shard_count),
            facts=order.facts,
            locality=order.locality,
        )
        return _Plan(ca_id, self._issuer(ca_id), request, order)

    def presign_pending(self, now: dt.datetime, *, limit: int = 1000) -> int:
        """Pre-sign "good" responses for certificates issued with ``presign=False`` that no
        request has asked about yet (a background pass). Signs outside the write lock, then
        stores only those still good and still without a response, re-checked under the lock
        (so a revocation that committed meanwhile is never overwritten). Returns how many
        were stored."""
        now = utc(now)
        missing = (
            select(Certificate)
            .outerjoin(OcspResponse, OcspResponse.serial == Certificate.serial)
            .where(
                OcspResponse.serial.is_(None),
                Certificate.status == CertStatus.GOOD.value,
                Certificate.not_after > now,
            )
            .limit(limit)
        )
        with self.db.transaction(write=False) as r:
            rows = list(r.scalars(missing).all())
        if not rows:
            return 0
        responders = {ca_id: self.ensure_responder(ca_id, now) for ca_id in {r.ca_id for r in rows}}
        fresh = self._signing.run(
            [
                functools.partial(
                    self._signed_response,
                    self._sha1_key(self.identity(row.ca_id)),
                    int(row.serial, 16),
                    *responders[row.ca_id],
                    now,
                    _GOOD,
                )
                for row in rows
            ]
        )
        signed = {values["serial"]: values for values in fresh}
        check = (
            select(Certificate.serial)
            .outerjoin(OcspResponse, OcspResponse.serial == Certificate.serial)
            .where(
                Certificate.serial.in_(list(signed)),
                Certificate.status == CertStatus.GOOD.value,
                OcspResponse.serial.is_(None),
            )
        )
        if not self.db.is_sqlite:
            # PostgreSQL refuses FOR UPDATE on the nullable side of an outer join: lock the
            # certificate rows, which is what revoke/hold lock too.
            check = check.with_for_update(of=Certificate)
        with self.db.transaction() as s:
            still = s.scalars(check).all()
            for serial in still:
                # merge: a first request may have stored a response since the check (a "good"
                # one: the row lock we hold keeps the status good), which ours replaces.
                s.merge(OcspResponse(**signed[serial]))
        return len(still)

    def _presign(
        self,
        row: Certificate,
        ca: CaIdentity,
        rid: int,
        responder: ocsp.Responder,
        now: dt.datetime,
    ) -> OcspResponse:
        """The RFC 5019 response for ``row``'s current state, signed in the calling thread."""
        values = self._signed_response(
            self._sha1_key(ca), int(row.serial, 16), rid, responder, now, _state(row)
        )
        return OcspResponse(**values)

    def _sha1_key(self, ca: CaIdentity) -> tuple[ocsp.HashAlgorithm, bytes, bytes]:
        # Looked up in the calling thread, before any task that needs it is queued.
        issuer_key = self._sha1_issuer_keys.get(ca.ca_id)
        if issuer_key is None:
            issuer_key = ocsp.issuer_key(ca.certificate, ocsp.HashAlgorithm.SHA1)
            self._sha1_issuer_keys[ca.ca_id] = issuer_key
        return issuer_key

    def _signed_response(
        self,
        issuer_key: tuple[ocsp.HashAlgorithm, bytes, bytes],
        serial: int,
        rid: int,
        responder: ocsp.Responder,
        now: dt.datetime,
        state: _CertState,
    ) -> dict[str, Any]:
        """The stored RFC 5019 response (SHA-1 CertID, no nonce) of a certificate in
        ``state``, as the column values of ``ocsp_response``. Pure (values in, values out):
        it runs on the signing pool."""
        alg, name_hash, key_hash = issuer_key
        answer = self._answer(ocsp.CertId(alg, name_hash, key_hash, serial), state, now, responder)
        der = ocsp.build_response(responder=responder, answers=[answer], produced_at=now)
        return {
            "serial": serial_hex(serial),
            "der": der,
            "this_update": answer.this_update,
            "next_update": answer.next_update,
            "produced_at": now,
            "responder_id": rid,
        }

    def _single(
        self,
        cert_id: ocsp.CertId,
        row: Certificate | None,
        now: dt.datetime,
        responder: ocsp.Responder,
    ) -> ocsp.SingleAnswer:
        return self._answer(cert_id, None if row is None else _state(row), now, responder)

    def _answer(
        self,
        cert_id: ocsp.CertId,
        state: _CertState | None,
        now: dt.datetime,
        responder: ocsp.Responder,
    ) -> ocsp.SingleAnswer:
        # nextUpdate never beyond the responder certificate (a response must stay verifiable
        # for its whole validity).
        next_update = min(
            now + self.settings.ocsp_validity, responder.certificate.not_valid_after_utc
        )
        if state is None:
            return ocsp.SingleAnswer(cert_id, ocsp.CertStatus.UNKNOWN, now, next_update)
        status, revoked_at, reason_code = state
        if status is CertStatus.GOOD:
            return ocsp.SingleAnswer(cert_id, ocsp.CertStatus.GOOD, now, next_update)
        reason = Reason.CERTIFICATE_HOLD if status is CertStatus.HELD else _reason(reason_code)
        return ocsp.SingleAnswer(
            cert_id,
            ocsp.CertStatus.REVOKED,
            now,
            next_update,
            revoked_at=revoked_at,
            reason=reason,
        )

    # -- revocation ------------------------------------------------------------------------
    def revoke(
        self,
        serial: int,
        reason: Reason,
        now: dt.datetime,
        *,
        invalidity_date: dt.datetime | None = None,
        actor: str = SYSTEM,
        session: Session | None = None,
    ) -> CertificateInfo:
        if reason in (Reason.CERTIFICATE_HOLD, Reason.REMOVE_FROM_CRL):
            raise InvalidRequest(f"{reason.name} is not a revocation reason: use hold/release")
        return self._change(
            serial, "revoke", now, actor, session, reason=reason, invalidity_date=invalidity_date
        )

    def hold(
        self, serial: int, now: dt.datetime, *, actor: str = SYSTEM, session: Session | None = None
    ) -> CertificateInfo:
        return self._change(serial, "hold", now, actor, session)

    def release_hold(
        self, serial: int, now: dt.datetime, *, actor: str = SYSTEM, session: Session | None = None
    ) -> CertificateInfo:
        return self._change(serial, "release", now, actor, session)

    def _change(
        self,
        serial: int,
        action: str,
        now: dt.datetime,
        actor: str,
        session: Session | None,
        *,
        reason: Reason | None = None,
        invalidity_date: dt.datetime | None = None,
    ) -> CertificateInfo:
        now = utc(now)
        key = serial_hex(serial)
        if session is not None:
            # Inside the caller's transaction: its session reads the row (no second
            # connection and transaction just to learn the ca_id). The caller made sure no
            # responder rollover is due (PortalService._ready_ca), so ensure_responder below
            # answers from memory and writes nothing.
            return self._change_in(session, key, action, now, actor, reason, invalidity_date)
        # Keys and responder first, outside the write transaction: a responder rollover is a
        # write of its own and must not wait on the lock we are about to take.
        with self.db.transaction(write=False) as r:
            ca_id = r.scalar(select(Certificate.ca_id).where(Certificate.serial == key))
        if ca_id is None:
            raise NotFound("certificate", key)
        self.identity(ca_id)
        self.ensure_responder(ca_id, now)
        with self.db.transaction() as s:
            return self._change_in(s, key, action, now, actor, reason, invalidity_date)

    def revoke_many(
        self,
        serials: Sequence[int],
        reason: Reason,
        now: dt.datetime,
        *,
        actor: str = SYSTEM,
        session: Session,
        later: SignedWrites | None = None,
    ) -> list[CertificateInfo]:
        """Revoke several certificates inside the caller's transaction, all or none: one
        locking read of the rows (PostgreSQL), one executemany each for their new OCSP
        answers and CRL changes, where :meth:`revoke` per certificate pays each of those.
        With ``later`` (:meth:`signing_later`) the new answers are signed while the caller
        goes on and stored when it finishes, still in its transaction."""
        if reason in (Reason.CERTIFICATE_HOLD, Reason.REMOVE_FROM_CRL):
            raise InvalidRequest(f"{reason.name} is not a revocation reason: use hold/release")
        keys = [serial_hex(x) for x in serials]
        return self._change_many_in(session, keys, "revoke", utc(now), actor, reason, None, later)

    def _change_in(
        self,
        s: Session,
        key: str,
        action: str,
        now: dt.datetime,
        actor: str,
        reason: Reason | None,
        invalidity_date: dt.datetime | None,
    ) -> CertificateInfo:
        return self._change_many_in(s, [key], action, now, actor, reason, invalidity_date)[0]

    def _change_many_in(
        self,
        s: Session,
        keys: Sequence[str],
        action: str,
        now: dt.datetime,
        actor: str,
        reason: Reason | None,
        invalidity_date: dt.datetime | None,
        later: SignedWrites | None = None,
    ) -> list[CertificateInfo]:
        if not keys:
            return []
        if len(set(keys)) != len(keys):
            raise InvalidRequest("a certificate is listed twice")
        # Core, not the ORM (a model change revokes two certificates: loading them as
        # mapped objects and flushing their changes through the unit of work cost more than
        # the rest of the revocation). The caller's pending ORM changes are written first, so
        # the rows read here are current; on PostgreSQL they are locked FOR UPDATE in serial
        # order (concurrent multi-row lockers then cannot deadlock) and, under READ
        # COMMITTED, read as they are once locked. SQLite's BEGIN IMMEDIATE holds the lock.
        s.flush()
        conn = s.connection()
        locked = direct.rows(conn, _LOCK_CERTIFICATES[self.db.is_sqlite], {"serials": sorted(keys)})
        found = {r.serial: r for r in map(_Locked._make, locked)}
        rows: list[_Locked] = []
        for key in keys:
            row = found.get(key)
            if row is None:
                raise NotFound("certificate", key)
            rows.append(row)
        changes: list[dict[str, Any]] = []
        infos: list[CertificateInfo] = []
        signing: list[Callable[[], dict[str, Any]]] = []
        audits: list[AuditEvent] = []
        for row in rows:
            serial = int(row.serial, 16)
            ca = self.identity(row.ca_id)
            rid, responder = self.ensure_responder(row.ca_id, now)
            current = CertStatus(row.status)
            revoked_at: dt.datetime | None = row.revoked_at
            code: int | None = row.reason
            invalidity: dt.datetime | None = row.invalidity_date
            # RFC 5280 §5.3.1: only certificateHold is reversible; revoked is final.
            if current is CertStatus.REVOKED:
                raise InvalidTransition(serial, current, action)
            if action == "hold":
                if current is not CertStatus.GOOD:
                    raise InvalidTransition(serial, current, action)
                status, revoked_at, code, invalidity = CertStatus.HELD, now, None, None
                entry = crlmod.encode_entry(serial, now, Reason.CERTIFICATE_HOLD)
            elif action == "release":
                if current is not CertStatus.HELD:
                    raise InvalidTransition(serial, current, action)
                status, revoked_at, code = CertStatus.GOOD, None, None
                entry = None  # off the next full CRL; the delta says removeFromCRL
            else:
                # A held certificate keeps its hold date as revocationDate: it has not been
                # relied on since then (conservative for signatures made while on hold).
                if current is CertStatus.GOOD:
                    revoked_at = now
                status, code = CertStatus.REVOKED, int(reason or 0)
                invalidity = utc(invalidity_date) if invalidity_date else None
                assert revoked_at is not None  # noqa: S101 - set above or by the hold
                # The full-CRL entry, encoded once here rather than at every publication; it
                # commits with the status it describes (docs/crl.md "Stored entries").
                entry = crlmod.encode_entry(serial, revoked_at, _reason(code), invalidity)
            changes.append(
                {
                    "b_serial": row.serial,
                    "b_status": status.value,
                    "b_revoked_at": revoked_at,
                    "b_reason": code,
                    "b_invalidity_date": invalidity,
                    "b_crl_entry": entry,
                }
            )
            infos.append(
                CertificateInfo(
                    serial=serial,
                    ca_id=row.ca_id,
                    kind=CertKind(row.kind),
                    subject_id=row.subject_id,
                    shard=row.shard,
                    not_before=row.not_before,
                    not_after=row.not_after,
                    status=status,
                    revoked_at=revoked_at,
                    reason=_reason(code),
                    invalidity_date=invalidity,
                    der=row.der,
                )
            )
            signing.append(
                functools.partial(
                    self._signed_response,
                    self._sha1_key(ca),
                    serial,
                    rid,
                    responder,
                    now,
                    (status, revoked_at, code),
                )
            )
            payload: dict[str, str | int | bool | None] = {
                "ca_id": row.ca_id,
                "from": current.value,
                "to": status.value,
            }
            if reason is not None:
                payload["reason"] = reason.name
            if invalidity_date is not None:
                payload["invalidity_date"] = _iso(utc(invalidity_date))
            audits.append(AuditEvent(now, actor, f"certificate.{action}", row.serial, payload))
        # Every transition was checked above; now the new answers are signed, on the signing
        # pool but INSIDE this transaction, with the rows locked: the revocation and the
        # response that says so commit together, so no reader is answered "good" after the
        # commit, and no stale "good" can be stored over it (docs/ca.md, "Pre-signed OCSP").
        # With ``later`` they are stored by its finish(), which also runs before the commit.
        pending = self._signing.start(signing)
        if later is None:
            responses: list[dict[str, Any]] | None = pending.results()
        else:
            responses = None
            later.add(pending, functools.partial(self._store_responses, s))
        # Status changes, the answers OCSP serves at once, the CRL bookkeeping and the audit
        # records: all in this transaction, so none commits without the others.
        direct.write(conn, _UPDATE_CERTIFICATE_STATE, changes)
        for key in keys:
            # A copy the caller loaded into this session must not be read (or flushed) stale.
            stale = s.identity_map.get(s.identity_key(Certificate, key))
            if stale is not None:
                s.expire(stale)
        if responses is not None:
            self._store_responses(s, responses)
        direct.write(
            conn,
            _INSERT_CRL_CHANGE,
            [{"ca_id": r.ca_id, "shard": r.shard, "serial": r.serial, "at": now} for r in rows],
        )
        self._mark_dirty(s, sorted({(r.ca_id, r.shard) for r in rows}))
        self.audit.record_many(s, audits)
        return infos

    def _upsert(self, table: Any) -> Any:
        return (sqlite_insert if self.db.is_sqlite else pg_insert)(table)

    @functools.cached_property
    def _responses_upsert(self) -> Any:
        # Built once: constructing ON CONFLICT ... excluded (an alias of the table) and its
        # cache key on every call cost more than executing it (measured in model changes).
        stmt = self._upsert(OcspResponse.__table__)
        columns = ("der", "this_update", "next_update", "produced_at", "responder_id")
        return stmt.on_conflict_do_update(
            index_elements=["serial"], set_={c: stmt.excluded[c] for c in columns}
        )

    @functools.cached_property
    def _dirty_upsert(self) -> Any:
        stmt = self._upsert(CrlState.__table__)
        return stmt.on_conflict_do_update(
            index_elements=["ca_id", "shard"], set_={"full_dirty": True, "delta_dirty": True}
        )

    def _store_responses(self, s: Session, fresh: Sequence[dict[str, Any]]) -> None:
        """Insert or replace the stored responses: one executemany upsert instead of merge()'s
        SELECT then INSERT/UPDATE per response, in Core on the session's connection (the ORM's
        bulk path added nothing here). The session is flushed first, so the status changes
        (and any pending "good" response of the same serial) are written before."""
        s.flush()
        direct.write(s.connection(), self._responses_upsert, list(fresh))
        for r in fresh:
            # A copy loaded into this session earlier must not be flushed back over the new one.
            stale = s.identity_map.get(s.identity_key(OcspResponse, r["serial"]))
            if stale is not None:
                s.expire(stale)

    def _mark_dirty(self, s: Session, shards: Sequence[tuple[str, int]]) -> None:
        # One upsert per batch (a shard's first change creates its row) instead of get +
        # update per certificate; in (ca_id, shard) order, the order every writer locks in.
        s.flush()
        direct.write(
            s.connection(),
            self._dirty_upsert,
            [
                {"ca_id": ca_id, "shard": shard, "full_dirty": True, "delta_dirty": True}
                for ca_id, shard in shards
            ],
        )
        for key in shards:
            state = s.identity_map.get(s.identity_key(CrlState, key))
            if state is not None:
                s.expire(state)

    def status(self, serial: int) -> CertificateInfo:
        with self.db.transaction(write=False) as s:
            row = s.get(Certificate, serial_hex(serial))
            if row is None:
                raise NotFound("certificate", serial_hex(serial))
            return _info(row)

    # -- OCSP ------------------------------------------------------------------------------
    def ocsp_answer(
        self, request_der: bytes, now: dt.datetime, *, hierarchy: Hierarchy | None = None
    ) -> OcspAnswer:
        """Answer one OCSP request. Never raises for bad input: errors become OCSP error
        responses (RFC 6960 §2.3)."""
        now = utc(now)
        try:
            request = ocsp.parse_request(request_der)
            ca_id = self._authoritative_ca(request, hierarchy)
        except ocsp.OcspError as exc:
            return OcspAnswer(ocsp.error_response(exc.status), exc.status, now)
        ids = request.cert_ids
        if (
            request.nonce is None
            and len(ids) == 1
            and ids[0].hash_algorithm is ocsp.HashAlgorithm.SHA1
        ):
            cached = self._cached(ids[0].serial, ca_id, now)
            if cached is not None:
                return cached
            return self._refresh(ids[0], ca_id, now)
        return self._fresh(request, ca_id, now)

    def ocsp_cached(
        self, request_der: bytes, now: dt.datetime, *, hierarchy: Hierarchy | None = None
    ) -> OcspAnswer | None:
        """The stored pre-signed answer for an RFC 5019 request (one certificate, SHA-1 CertID,
        no nonce) whose response is still fresh; ``None`` for everything else — malformed,
        unauthorised, nonce, several certificates, unknown, stale or not yet pre-signed —
        which the caller then passes to :meth:`ocsp_answer`. Never signs, never writes, never
        raises for bad input: the HTTP fast path calls it on the event loop.

        It reads committed state on every call (one primary-key read), never an in-process
        cache, so a revocation committed by any process is served at once."""
        # The byte-wise matcher first (the canonical DER every client sends, ~3 us); the parser
        # through cryptography (~8 us) for anything else it could still be.
        cert_id = ocsp_rfc5019.match(request_der) or ocsp.rfc5019_cert_id(request_der)
        if cert_id is None:
            return None
        ca_id = self._issuer_index().get(cert_id.issuer_key)
        if ca_id is None or (hierarchy is not None and not ca_id.startswith(f"{hierarchy.value}-")):
            return None
        return self._cached(cert_id.serial, ca_id, utc(now))

    @property
    def ocsp_cached_is_local(self) -> bool:
        """True when :meth:`ocsp_cached` reads a local file (SQLite: tens of microseconds, fine
        on an event loop); False for a network database, whose reads belong in a thread."""
        return self._fast_path is not None

    def version_probe(self) -> Callable[[], object] | None:
        """A function returning a value that changes whenever any connection of any process
        commits to the database (``store/change_probe.py``: SQLite's wal-index header, or
        ``PRAGMA data_version``), on a read-only connection of its own; ``None`` where there is
        none (PostgreSQL, in-memory SQLite).

        A caller may keep what it derived from :meth:`ocsp_cached` while the probe's value is
        unchanged, provided it reads the value BEFORE the answer it keeps (a commit landing in
        between then only makes the kept answer look older than it is). Values of different
        probes are not comparable, and a probe is used from the thread that made it."""
        if self._fast_path is None:
            return None
        return change_probe(self._fast_path)

    def _authoritative_ca(self, request: ocsp.OcspRequest, hierarchy: Hierarchy | None) -> str:
        index = self._issuer_index()
        found = {index.get(c.issuer_key) for c in request.cert_ids}
        if None in found:
            raise ocsp.Unauthorized("a certificate in the request is not from our CAs")
        if len(found) != 1:
            # One delegated responder speaks for one CA only (RFC 6960 §4.2.2.2).
            raise ocsp.Unauthorized("the request mixes issuers")
        ca_id = found.pop()
        assert ca_id is not None  # noqa: S101 - None was excluded above
        if hierarchy is not None and not ca_id.startswith(f"{hierarchy.value}-"):
            raise ocsp.Unauthorized(f"{ca_id} is not a {hierarchy.value} CA")
        return ca_id

    def _cached(self, serial: int, ca_id: str, now: dt.datetime) -> OcspAnswer | None:
        # The hot path of the responder: one indexed read of committed state, through the
        # driver directly (the ORM costs more than the query). Never an in-process cache: a
        # revocation committed by another process must be served at once.
        conn = self._fast_connection()
        if conn is not None:
            # Autocommit: each SELECT is its own read transaction and sees the latest commit
            # (SQLite WAL). SQLAlchemy's BEGIN/ROLLBACK round trip cost 10x the query.
            hit = conn.execute(_CACHED_SQL_QMARK, (serial_hex(serial),)).fetchone()
        else:
            with self.db.engine.connect() as sa_conn:
                hit = sa_conn.exec_driver_sql(self._cached_sql, (serial_hex(serial),)).first()
        if hit is None or hit[4] != ca_id:
            return None
        der, this_update, next_update, produced_at = (
            bytes(hit[0]),
            _from_db(hit[1]),
            _from_db(hit[2]),
            _from_db(hit[3]),
        )
        served_until = next_update - self.settings.ocsp_refresh_before
        if this_update > now or now >= served_until:
            return None
        return OcspAnswer(
            der,
            ocsp.ResponseStatus.SUCCESSFUL,
            produced_at,
            this_update,
            next_update,
            cacheable=True,
            served_until=served_until,
        )

    def _fast_connection(self) -> sqlite3.Connection | None:
        """A read-only autocommit SQLite connection of the calling thread (sqlite3 objects
        must stay in their thread), kept outside SQLAlchemy's pool so long-lived readers never
        starve the writers' pool; ``None`` on PostgreSQL or an in-memory database."""
        if self._fast_path is None:
            return None
        conn: sqlite3.Connection | None = getattr(self._fast_local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._fast_path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA query_only=ON")
            self._fast_local.conn = conn
        return conn

    @property
    def _cached_sql(self) -> str:
        qmark = self.db.engine.dialect.paramstyle == "qmark"
        return _CACHED_SQL_QMARK if qmark else _CACHED_SQL_FORMAT

    def _refresh(self, cert_id: ocsp.CertId, ca_id: str, now: dt.datetime) -> OcspAnswer:
        """Re-sign a stale pre-signed response under the write lock, so it cannot overwrite a
        revocation that commits meanwhile."""
        ca = self.identity(ca_id)
        rid, responder = self.ensure_responder(ca_id, now)
        key = serial_hex(cert_id.serial)
        with self.db.transaction() as s:
            row = s.execute(
                self.db.lock(select(Certificate).where(Certificate.serial == key))
            ).scalar_one_or_none()
            if row is None or row.ca_id != ca_id:
                answer = self._single(cert_id, None, now, responder)
                der = ocsp.build_response(responder=responder, answers=[answer], produced_at=now)
                return OcspAnswer(
                    der,
                    ocsp.ResponseStatus.SUCCESSFUL,
                    now,
                    answer.this_update,
                    answer.next_update,
                    cacheable=True,
                )
            fresh = self._presign(row, ca, rid, responder, now)
            s.merge(fresh)
        return OcspAnswer(
            fresh.der,
            ocsp.ResponseStatus.SUCCESSFUL,
            now,
            fresh.this_update,
            fresh.next_update,
            cacheable=True,
        )

    def _fresh(self, request: ocsp.OcspRequest, ca_id: str, now: dt.datetime) -> OcspAnswer:
        _, responder = self.ensure_responder(ca_id, now)
        keys = [serial_hex(c.serial) for c in request.cert_ids]
        with self.db.transaction(write=False) as s:
            rows = {
                r.serial: r
                for r in s.scalars(select(Certificate).where(Certificate.serial.in_(keys))).all()
            }
            answers = []
            for cert_id, key in zip(request.cert_ids, keys, strict=True):
                row = rows.get(key)
                if row is not None and row.ca_id != ca_id:
                    row = None
                answers.append(self._single(cert_id, row, now, responder))
        der = ocsp.build_response(
            responder=responder, answers=answers, produced_at=now, nonce=request.nonce
        )
        next_update = min(a.next_update for a in answers if a.next_update is not None)
        return OcspAnswer(
            der,
            ocsp.ResponseStatus.SUCCESSFUL,
            now,
            now,
            next_update,
            cacheable=request.nonce is None,
        )

    # -- CRLs ------------------------------------------------------------------------------
    def crl(self, ca_id: str, shard: int, now: dt.datetime, *, delta: bool = False) -> bytes:
        """The current full or delta CRL of one shard, regenerated only when the shard changed
        or the cached one nears its nextUpdate."""
        try:
            return self._crl(ca_id, shard, utc(now), delta)
        except IntegrityError:
            # Two first publications of a shard raced to create its state row (PostgreSQL);
            # the row exists now and the retry locks it.
            return self._crl(ca_id, shard, utc(now), delta)

    def _crl(self, ca_id: str, shard: int, now: dt.datetime, delta: bool) -> bytes:
        ca = self.identity(ca_id)
        if not 0 <= shard < self.settings.shard_count:
            raise NotFound("CRL shard", f"{ca_id}/{shard}")
        with self.db.transaction() as s:
            state = self._state(s, ca_id, shard)
            der = self._current(s, ca, state, now, delta)
        # Committed: the files of earlier publications can go (crl_documents.FileDocuments).
        self.crl_documents.prune(
            ca_id, shard, {_FULL: state.full_number, _DELTA: state.delta_number}
        )
        return der

    def _current(
        self, s: Session, ca: CaIdentity, state: CrlState, now: dt.datetime, delta: bool
    ) -> bytes:
        # A delta request does not republish the full CRL for mere changes (that would
        # empty the delta); only a missing or expiring base is replaced.
        full = None
        if self._full_stale(state, now, changes_matter=not delta):
            full = self._publish_full(s, ca, state, now)
        if not delta:
            if full is None:
                full = self._document(s, state, _FULL)
            return full if full is not None else self._publish_full(s, ca, state, now)
        if (
            state.delta_number is None
            or state.delta_dirty
            or state.delta_next_update is None
            or state.delta_next_update - now <= self.settings.delta_crl_validity / 2
        ):
            return self._publish_delta(s, ca, state, now)
        kept = self._document(s, state, _DELTA)
        return kept if kept is not None else self._publish_delta(s, ca, state, now)

    def root_crl(self, ca_id: str, now: dt.datetime) -> bytes:
        """The root's CRL of CA certificates (ARL). A one-level hierarchy issues no CA
        certificates, so it lists none; responder certificates carry ocsp-nocheck and are
        short-lived instead of being revoked (RFC 6960 §4.2.2.2.1)."""
        now = utc(now)
        ca = self.identity(ca_id)
        with self.db.transaction() as s:
            state = self._state(s, ca_id, ARL_SHARD)
            kept = None if self._full_stale(state, now) else self._document(s, state, _FULL)
            der = kept if kept is not None else self._publish_arl(s, ca, state, now)
        self.crl_documents.prune(ca_id, ARL_SHARD, {_FULL: state.full_number})
        return der

    def _publish_arl(self, s: Session, ca: CaIdentity, state: CrlState, now: dt.datetime) -> bytes:
        number = self._next_number(s, ca.ca_id)
        next_update = now + self.settings.crl_validity
        der = crlmod.build_crl(
            issuer=ca,
            urls=self.urls,
            entries=(),
            crl_number=number,
            this_update=now,
            next_update=next_update,
            scope=crlmod.CrlScope.arl(),
        )
        self.crl_documents.put(s, ca.ca_id, state.shard, _FULL, number, der)
        state.full_number, state.full_this_update, state.full_next_update = number, now, next_update
        state.full_dirty = False
        return der

    def _state(self, s: Session, ca_id: str, shard: int) -> CrlState:
        state = s.execute(
            self.db.lock(select(CrlState).where(CrlState.ca_id == ca_id, CrlState.shard == shard))
        ).scalar_one_or_none()
        if state is None:
            state = CrlState(ca_id=ca_id, shard=shard, full_dirty=True, delta_dirty=True)
            s.add(state)
            s.flush()
        return state

    def _document(self, s: Session, state: CrlState, kind: str) -> bytes | None:
        """The stored DER of the state's current full or delta CRL; ``None`` if the store no
        longer has it (the caller publishes again)."""
        number = state.full_number if kind == _FULL else state.delta_number
        if number is None:
            return None
        return self.crl_documents.get(s, state.ca_id, state.shard, kind, number)

    def _full_stale(
        self, state: CrlState, now: dt.datetime, *, changes_matter: bool = True
    ) -> bool:
        return (
            state.full_number is None
            or (changes_matter and state.full_dirty)
            or state.full_next_update is None
            or state.full_next_update - now <= self.settings.crl_refresh_before
        )

    def _next_number(self, s: Session, ca_id: str) -> int:
        row = s.execute(
            self.db.lock(select(CaGeneration).where(CaGeneration.ca_id == ca_id))
        ).scalar_one()
        row.last_crl_number += 1
        return row.last_crl_number

    def _publish_full(self, s: Session, ca: CaIdentity, state: CrlState, now: dt.datetime) -> bytes:
        number = self._next_number(s, ca.ca_id)
        next_update = now + self.settings.crl_validity
        der = crlmod.build_crl(
            issuer=ca,
            urls=self.urls,
            encoded=self._stored_entries(s, ca.ca_id, state.shard, now),
            crl_number=number,
            this_update=now,
            next_update=next_update,
            scope=crlmod.CrlScope.full(state.shard),
        )
        self.crl_documents.put(s, ca.ca_id, state.shard, _FULL, number, der)
        state.full_number, state.full_this_update, state.full_next_update = number, now, next_update
        state.full_dirty = False
        # The new full CRL is the base of the next deltas: earlier changes are in it.
        s.execute(
            delete(CrlChange).where(CrlChange.ca_id == ca.ca_id, CrlChange.shard == state.shard)
        )
        self.crl_documents.drop(s, ca.ca_id, state.shard, _DELTA)
        state.delta_number = None
        state.delta_this_update = state.delta_next_update = None
        state.delta_dirty = True
        return der

    def _stored_entries(
        self, s: Session, ca_id: str, shard: int, now: dt.datetime
    ) -> Iterator[bytes]:
        """The shard's full-CRL entries as stored with each certificate (``crl_entry``), one
        joined batch at a time: O(bytes), no per-entry encoding (docs/crl.md "Stored entries").

        One query on the DBAPI cursor of the session's connection (same transaction, so the
        entries are exactly the committed status changes): SQLAlchemy's Row layer costs ~1 s
        per million rows and gives nothing for one blob column. SQLite steps its cursor;
        PostgreSQL gets a server-side (named) cursor, so neither side holds the list. The order
        is the store's scan order (the covering index ix_certificate_crl_entry: by expiry,
        then entry), deterministic for the same revocations; RFC 5280 §5.1.2.6 imposes none.
        A held or revoked row
        without an entry (none after migration 0003; kept as a guard) is encoded from its
        columns and appended at the end.
        """
        conn = s.connection()
        dialect = conn.dialect
        to_db = Certificate.__table__.c.not_after.type.dialect_impl(dialect).bind_processor(dialect)
        params = {
            "ca_id": ca_id,
            "shard": shard,
            # RFC 5280 §5.3: entries may go once the certificate has expired.
            "now": to_db(now) if to_db else now,
        }
        sql = _STORED_ENTRIES_SQL if self.db.is_sqlite else _STORED_ENTRIES_SQL_PYFORMAT
        dbapi = conn.connection
        cursor = dbapi.cursor() if self.db.is_sqlite else dbapi.cursor(name="crl_entries")
        missing = False
        try:
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(_ENTRY_BATCH):
                blobs = [b for (b,) in batch]
                if None in blobs:
                    missing = True
                    blobs = [b for b in blobs if b is not None]
                yield b"".join(blobs)
        finally:
            cursor.close()
        if missing:
            yield from self._encode_missing(s, ca_id, shard, now)

    def _encode_missing(
        self, s: Session, ca_id: str, shard: int, now: dt.datetime
    ) -> Iterator[bytes]:
        rows = s.execute(
            select(
                Certificate.serial,
                Certificate.status,
                Certificate.revoked_at,
                Certificate.reason,
                Certificate.invalidity_date,
            ).where(
                Certificate.ca_id == ca_id,
                Certificate.shard == shard,
                Certificate.status != CertStatus.GOOD.value,
                Certificate.not_after > now,
                Certificate.crl_entry.is_(None),
            )
        )
        for r in rows:
            held = r.status == CertStatus.HELD.value
            reason = Reason.CERTIFICATE_HOLD if held else _reason(r.reason)
            yield crlmod.encode_entry(int(r.serial, 16), r.revoked_at, reason, r.invalidity_date)

    def _publish_delta(
        self, s: Session, ca: CaIdentity, state: CrlState, now: dt.datetime
    ) -> bytes:
        assert state.full_number is not None  # noqa: S101 - a full CRL exists
        number = self._next_number(s, ca.ca_id)
        next_update = now + self.settings.delta_crl_validity
        changed = (
            select(CrlChange.serial, func.max(CrlChange.at).label("at"))
            .where(CrlChange.ca_id == ca.ca_id, CrlChange.shard == state.shard)
            .group_by(CrlChange.serial)
            .subquery()
        )
        rows = s.execute(
            select(
                Certificate.serial,
                Certificate.status,
                Certificate.revoked_at,
                Certificate.reason,
                Certificate.invalidity_date,
                changed.c.at,
            )
            .join(changed, changed.c.serial == Certificate.serial)
            .order_by(Certificate.serial)
        ).all()
        entries = []
        for r in rows:
            status = CertStatus(r.status)
            if status is CertStatus.GOOD:
                # A released hold: tell delta users to drop it (RFC 5280 §5.2.4, §5.3.1).
                entries.append(RevokedEntry(int(r.serial, 16), r.at, Reason.REMOVE_FROM_CRL))
            else:
                reason = Reason.CERTIFICATE_HOLD if status is CertStatus.HELD else _reason(r.reason)
                entries.append(
                    RevokedEntry(int(r.serial, 16), r.revoked_at, reason, r.invalidity_date)
                )
        der = crlmod.build_crl(
            issuer=ca,
            urls=self.urls,
            entries=entries,
            crl_number=number,
            this_update=now,
            next_update=next_update,
            scope=crlmod.CrlScope.delta(state.shard, state.full_number),
        )
        self.crl_documents.put(s, ca.ca_id, state.shard, _DELTA, number, der)
        state.delta_number, state.delta_this_update, state.delta_next_update = (
            number,
            now,
            next_update,
        )
        state.delta_dirty = False
        return der


def _reason(code: int | None) -> Reason | None:
    if code is None:
        return None
    try:
        return Reason(code)
    except ValueError:
        return None


def _info(row: Certificate) -> CertificateInfo:
    return CertificateInfo(
        serial=int(row.serial, 16),
        ca_id=row.ca_id,
        kind=CertKind(row.kind),
        subject_id=row.subject_id,
        shard=row.shard,
        not_before=row.not_before,
        not_after=row.not_after,
        status=CertStatus(row.status),
        revoked_at=row.revoked_at,
        reason=_reason(row.reason),
        invalidity_date=row.invalidity_date,
        der=row.der,
    )


def _from_db(value: object) -> dt.datetime:
    """A naive-UTC column read through the driver (SQLite returns text, psycopg datetime)."""
    if isinstance(value, str):
        return _from_db_text(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a datetime: {value!r}")
    return value.replace(tzinfo=dt.UTC)


@functools.lru_cache(maxsize=4096)
def _from_db_text(value: str) -> dt.datetime:
    # The OCSP hot path reads the same few timestamps (a response's thisUpdate, nextUpdate,
    # producedAt) over and over; parsing each once is a third of that path's work saved.
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime) -> str:
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def _state(row: Certificate) -> _CertState:
    return CertStatus(row.status), row.revoked_at, row.reason


def _row(plan: _Plan, cert: x509.Certificate, now: dt.datetime) -> dict[str, Any]:
    """The ``certificate`` row of a just-signed certificate (validity as signed: X.509 times
    carry whole seconds)."""
    order = plan.order
    return {
        "serial": serial_hex(plan.request.serial),
        "ca_id": plan.ca_id,
        "kind": order.kind.value,
        "subject_id": order.subject_id,
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "shard": plan.request.shard,
        "der": cert.public_bytes(serialization.Encoding.DER),
        "status": CertStatus.GOOD.value,
        "revoked_at": None,
        "reason": None,
        "invalidity_date": None,
        "issued_at": now,
        "person_id": order.person_id,
        "card_id": order.card_id,
        "device_id": order.device_id,
    }


def _new_info(row: dict[str, Any]) -> CertificateInfo:
    return CertificateInfo(
        serial=int(row["serial"], 16),
        ca_id=row["ca_id"],
        kind=CertKind(row["kind"]),
        subject_id=row["subject_id"],
        shard=row["shard"],
        not_before=row["not_before"],
        not_after=row["not_after"],
        status=CertStatus.GOOD,
        revoked_at=None,
        reason=None,
        invalidity_date=None,
        der=row["der"],
    )
