"""The certificate authority as use cases over the store: one class that callers hold,
delegating to the parts of this package, which share a :class:`CaContext`:

- ``hierarchy``: root generations, identities, issuers, OCSP responders and their rollover;
- ``issuance``: issue, issue_many, issue_later, presign_pending;
- ``revocation``: revoke, hold, release_hold, revoke_many, status;
- ``ocsp``: answers (stored, re-signed, freshly signed) and the stored-answer reads
  (``ocsp_sqlite`` for a SQLite file);
- ``crl``: full, delta and root CRL publication.

Consistency rule: every status change (revoke, hold, release) commits in ONE transaction with
(a) the certificate row, (b) its re-signed pre-signed OCSP response, (c) the CRL change record
and (d) the audit record (``revocation``).

Every public use case takes ``now`` and an optional ``session``: the portal service composes
them into its own transactions (e.g. issue the new phone's certificates and revoke the old
phone's in one commit).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from sqlalchemy.orm import Session

from mobile_jpki.pki import ocsp
from mobile_jpki.pki.model import CaIdentity, Hierarchy, PublicUrls
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.audit import AuditLog
from mobile_jpki.service.ca.context import CaContext, sqlite_file
from mobile_jpki.service.ca.crl import CrlPublisher
from mobile_jpki.service.ca.crl_documents import CrlDocuments
from mobile_jpki.service.ca.errors import NotFound
from mobile_jpki.service.ca.hierarchy import Hierarchies
from mobile_jpki.service.ca.issuance import Issuance, signing_later
from mobile_jpki.service.ca.ocsp import EngineResponses, OcspAnswers, PresignedAnswers
from mobile_jpki.service.ca.ocsp_sqlite import SqliteFileResponses
from mobile_jpki.service.ca.responses import ResponseSigner
from mobile_jpki.service.ca.revocation import Revocation
from mobile_jpki.service.ca.values import (
    SYSTEM,
    CaSummary,
    CertificateInfo,
    IssueOrder,
    OcspAnswer,
)
from mobile_jpki.service.keystore import KeyStore
from mobile_jpki.service.signing_pool import SignedWrites, SigningPool
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database


class CertificateAuthority:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        keys: KeyStore,
        *,
        randbytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        ctx = CaContext(
            db=db,
            settings=settings,
            urls=PublicUrls(settings.base_url),
            audit=AuditLog(db),
            keys=keys,
            signing=SigningPool(settings.signing_threads),
            randbytes=randbytes,
            sqlite_file=sqlite_file(db),
        )
        self._ctx = ctx
        self._hierarchies = Hierarchies(ctx)
        signer = ResponseSigner(settings)
        self._issuance = Issuance(ctx, self._hierarchies, signer)
        self._revocation = Revocation(ctx, self._hierarchies, signer)
        stored = (
            SqliteFileResponses(ctx.sqlite_file)
            if ctx.sqlite_file is not None
            else EngineResponses(db.engine)
        )
        self._ocsp = OcspAnswers(ctx, self._hierarchies, signer, stored)
        self._crl = CrlPublisher(ctx, self._hierarchies)

    # -- what the parts share ----------------------------------------------------------------
    @property
    def db(self) -> Database:
        return self._ctx.db

    @property
    def settings(self) -> Settings:
        return self._ctx.settings

    @property
    def urls(self) -> PublicUrls:
        return self._ctx.urls

    @property
    def audit(self) -> AuditLog:
        return self._ctx.audit

    @property
    def keys(self) -> KeyStore:
        return self._ctx.keys

    @property
    def crl_documents(self) -> CrlDocuments:
        """Where published CRLs are kept (``crl_documents``)."""
        return self._crl.documents

    # -- hierarchy ---------------------------------------------------------------------------
    def init_hierarchies(self, now: dt.datetime, *, actor: str = SYSTEM) -> list[str]:
        """Generation 1 of both hierarchies with their OCSP responders (idempotent: existing
        hierarchies are left alone). Returns the ca_ids created."""
        return self._hierarchies.init_hierarchies(now, actor=actor)

    def add_generation(self, hierarchy: Hierarchy, now: dt.datetime, *, actor: str = SYSTEM) -> str:
        """A new root key generation (same DN, new key); it becomes the issuing one."""
        return self._hierarchies.add_generation(hierarchy, now, actor=actor)

    def cas(self) -> list[CaSummary]:
        return self._hierarchies.cas()

    def identity(self, ca_id: str) -> CaIdentity:
        return self._hierarchies.identity(ca_id)

    def ensure_responder(
        self, ca_id: str, now: dt.datetime, *, actor: str = SYSTEM
    ) -> tuple[int, ocsp.Responder]:
        """The active responder of ``ca_id``, rolled over when it nears expiry."""
        return self._hierarchies.ensure_responder(ca_id, now, actor=actor)

    # -- issuance ----------------------------------------------------------------------------
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
        return self._issuance.issue_many([order], now, actor=actor, session=session)[0]

    def issue_many(
        self,
        orders: Sequence[IssueOrder],
        now: dt.datetime,
        *,
        actor: str = SYSTEM,
        session: Session | None = None,
        presign: bool = True,
    ) -> list[CertificateInfo]:
        """Several certificates in ONE transaction, all or none (``Issuance.issue_many``)."""
        return self._issuance.issue_many(orders, now, actor=actor, session=session, presign=presign)

    def issue_later(
        self,
        orders: Sequence[IssueOrder],
        now: dt.datetime,
        *,
        session: Session,
        later: SignedWrites,
        actor: str = SYSTEM,
    ) -> list[int]:
        """:meth:`issue_many` inside the caller's transaction, signed while it goes on and
        written by ``later.finish()`` (``Issuance.issue_later``). Returns the serials."""
        return self._issuance.issue_later(orders, now, session=session, later=later, actor=actor)

    def signing_later(self) -> AbstractContextManager[SignedWrites]:
        """Signatures for :meth:`issue_later` and ``revoke_many(later=...)``, made while the
        block goes on and written when it ends (use it inside the transaction: the writes
        are part of it); dropped if the block raises."""
        return signing_later()

    def presign_pending(self, now: dt.datetime, *, limit: int = 1000) -> int:
        """Pre-sign "good" responses for certificates issued with ``presign=False``
        (``Issuance.presign_pending``). Returns how many were stored."""
        return self._issuance.presign_pending(now, limit=limit)

    # -- revocation --------------------------------------------------------------------------
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
        return self._revocation.revoke(
            serial, reason, now, invalidity_date=invalidity_date, actor=actor, session=session
        )

    def hold(
        self, serial: int, now: dt.datetime, *, actor: str = SYSTEM, session: Session | None = None
    ) -> CertificateInfo:
        return self._revocation.hold(serial, now, actor=actor, session=session)

    def release_hold(
        self, serial: int, now: dt.datetime, *, actor: str = SYSTEM, session: Session | None = None
    ) -> CertificateInfo:
        return self._revocation.release_hold(serial, now, actor=actor, session=session)

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
        """Revoke several certificates inside the caller's transaction, all or none
        (``Revocation.revoke_many``)."""
        return self._revocation.revoke_many(
            serials, reason, now, actor=actor, session=session, later=later
        )

    def status(self, serial: int) -> CertificateInfo:
        return self._revocation.status(serial)

    # -- OCSP --------------------------------------------------------------------------------
    def ocsp_answer(
        self, request_der: bytes, now: dt.datetime, *, hierarchy: Hierarchy | None = None
    ) -> OcspAnswer:
        """Answer one OCSP request (``OcspAnswers.answer``). Never raises for bad input:
        errors become OCSP error responses (RFC 6960 §2.3)."""
        return self._ocsp.answer(request_der, now, hierarchy=hierarchy)

    def ocsp_cached(
        self, request_der: bytes, now: dt.datetime, *, hierarchy: Hierarchy | None = None
    ) -> OcspAnswer | None:
        """The stored pre-signed answer of an RFC 5019 request while it is fresh, else ``None``
        (``OcspAnswers.cached``): the first step of :meth:`ocsp_answer` alone."""
        return self._ocsp.cached(request_der, now, hierarchy=hierarchy)

    def add_service_certificate(self, certificate: x509.Certificate) -> str:
        """Have the OCSP responder answer "good" for ``certificate``, which one of our roots
        issued to a service of the CA (the TSA), instead of "unknown"
        (``OcspAnswers.add_service_certificate``). Returns the issuing ca_id; raises
        :class:`NotFound` when none of our roots signed it."""
        for ca in self.cas():
            if ca.certificate.subject != certificate.issuer:
                continue
            try:
                certificate.verify_directly_issued_by(ca.certificate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            self._ocsp.add_service_certificate(ca.ca_id, certificate.serial_number)
            return ca.ca_id
        raise NotFound("issuing CA of service certificate", f"{certificate.serial_number:x}")

    @property
    def presigned_answers(self) -> PresignedAnswers | None:
        """What the HTTP edge may call on its event loop (the front door, the ASGI fast path):
        present where stored answers are read from a local SQLite file; ``None`` for a network
        database, whose reads belong in a thread (:meth:`ocsp_answer`)."""
        return self._ocsp if self._ocsp.local else None

    # -- CRLs --------------------------------------------------------------------------------
    def crl(self, ca_id: str, shard: int, now: dt.datetime, *, delta: bool = False) -> bytes:
        """The current full or delta CRL of one shard, regenerated only when the shard changed
        or the cached one nears its nextUpdate."""
        return self._crl.crl(ca_id, shard, now, delta=delta)

    def root_crl(self, ca_id: str, now: dt.datetime) -> bytes:
        """The root's CRL of CA certificates (ARL); it lists none."""
        return self._crl.root_crl(ca_id, now)
