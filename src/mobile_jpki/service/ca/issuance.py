"""Issuance: plans (CA, serial, shard), the signatures of certificates and their pre-signed
OCSP "good" answers on the signing pool, and the inserts of a batch in one transaction
(docs/ca.md, "Pre-signed OCSP"); and the background pass that pre-signs what was issued
without."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from mobile_jpki.pki.issuance import IssuanceRequest, Issuer, new_serial, shard_of
from mobile_jpki.pki.model import CertKind, utc
from mobile_jpki.service.audit import AuditEvent
from mobile_jpki.service.ca.context import CaContext
from mobile_jpki.service.ca.hierarchy import Hierarchies
from mobile_jpki.service.ca.responses import GOOD, ResponseSigner
from mobile_jpki.service.ca.values import SYSTEM, CertificateInfo, IssueOrder, iso
from mobile_jpki.service.signing_pool import Pending, SignedWrites
from mobile_jpki.store import direct
from mobile_jpki.store.models import Certificate, CertRecordStatus, OcspResponse, serial_hex

# Built once (a statement's cache key is computed per construct).
_INSERT_CERTIFICATE = insert(cast(Table, Certificate.__table__))
_INSERT_OCSP_RESPONSE = insert(cast(Table, OcspResponse.__table__))


@dataclass(frozen=True)
class _Plan:
    """One certificate of an issuance batch, before signing."""

    ca_id: str
    issuer: Issuer
    request: IssuanceRequest
    order: IssueOrder


@contextmanager
def signing_later() -> Iterator[SignedWrites]:
    """Signatures for ``issue_later`` and ``revoke_many(later=...)``, made while the block goes
    on and written when it ends (use it inside the transaction: the writes are part of it);
    dropped if the block raises."""
    later = SignedWrites()
    try:
        yield later
    except BaseException:
        later.cancel()
        raise
    later.finish()


class Issuance:
    def __init__(self, ctx: CaContext, hierarchies: Hierarchies, signer: ResponseSigner) -> None:
        self._ctx = ctx
        self._hierarchies = hierarchies
        self._signer = signer

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
        signed = self._sign(plans, now, presign).results()
        with self._ctx.transaction(session) as s:
            rows = self._insert(s, plans, signed, now, actor)
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
        :func:`signing_later`). Returns the serials, chosen now."""
        now = utc(now)
        plans = [self._plan(order) for order in orders]
        pending = self._sign(plans, now, presign=True)
        later.add(pending, lambda signed: self._insert(session, plans, signed, now, actor))
        return [p.request.serial for p in plans]

    def presign_pending(self, now: dt.datetime, *, limit: int = 1000) -> int:
        """Pre-sign "good" responses for certificates issued with ``presign=False`` that no
        request has asked about yet (a background pass). Signs outside the write lock, then
        stores only those still good and still without a response, re-checked under the lock
        (so a revocation that committed meanwhile is never overwritten). Returns how many
        were stored."""
        ctx, hierarchies = self._ctx, self._hierarchies
        now = utc(now)
        missing = (
            select(Certificate)
            .outerjoin(OcspResponse, OcspResponse.serial == Certificate.serial)
            .where(
                OcspResponse.serial.is_(None),
                Certificate.status == CertRecordStatus.GOOD.value,
                Certificate.not_after > now,
            )
            .limit(limit)
        )
        with ctx.db.transaction(write=False) as r:
            rows = list(r.scalars(missing).all())
        if not rows:
            return 0
        responders = {
            ca_id: hierarchies.ensure_responder(ca_id, now) for ca_id in {r.ca_id for r in rows}
        }
        fresh = ctx.signing.run(
            [
                functools.partial(
                    self._signer.stored,
                    hierarchies.sha1_key(hierarchies.identity(row.ca_id)),
                    int(row.serial, 16),
                    *responders[row.ca_id],
                    now,
                    GOOD,
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
                Certificate.status == CertRecordStatus.GOOD.value,
                OcspResponse.serial.is_(None),
            )
        )
        if not ctx.db.is_sqlite:
            # PostgreSQL refuses FOR UPDATE on the nullable side of an outer join: lock the
            # certificate rows, which is what revoke/hold lock too.
            check = check.with_for_update(of=Certificate)
        with ctx.db.transaction() as s:
            still = s.scalars(check).all()
            for serial in still:
                # merge: a first request may have stored a response since the check (a "good"
                # one: the row lock we hold keeps the status good), which ours replaces.
                s.merge(OcspResponse(**signed[serial]))
        return len(still)

    def _sign(self, plans: Sequence[_Plan], now: dt.datetime, presign: bool) -> Pending[Any]:
        """Start the certificates' signatures and (``presign``) their OCSP "good" answers'
        on the signing pool; the results are the certificates, then the answers."""
        hierarchies = self._hierarchies
        # Responders before signing: a rollover is a write transaction of its own.
        responders = (
            {ca_id: hierarchies.ensure_responder(ca_id, now) for ca_id in {p.ca_id for p in plans}}
            if presign
            else {}
        )
        tasks: list[Callable[[], Any]] = [
            functools.partial(p.issuer.issue, p.request) for p in plans
        ]
        if presign:
            tasks += [
                functools.partial(
                    self._signer.stored,
                    hierarchies.sha1_key(p.issuer.ca),
                    p.request.serial,
                    *responders[p.ca_id],
                    now,
                    GOOD,
                )
                for p in plans
            ]
        return self._ctx.signing.start(tasks)

    def _insert(
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
        self._ctx.audit.record_many(
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
                        "not_after": iso(row["not_after"]),
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
        ca_id = self._hierarchies.active_ca(order.kind.hierarchy)
        serial = new_serial(self._ctx.randbytes)
        request = IssuanceRequest(
            kind=order.kind,
            subject_public_key=order.subject_public_key,
            serial=serial,
            subject_id=order.subject_id,
            not_before=order.not_before,
            not_after=order.not_after,
            shard=shard_of(serial, self._ctx.settings.shard_count),
            facts=order.facts,
            locality=order.locality,
        )
        return _Plan(ca_id, self._hierarchies.issuer(ca_id), request, order)


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
        "status": CertRecordStatus.GOOD.value,
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
        status=CertRecordStatus.GOOD,
        revoked_at=None,
        reason=None,
        invalidity_date=None,
        der=row["der"],
    )
