"""Revocation: revoke, hold, release, and revoke_many, each a transition of the revocation
state machine (docs/ca.md, "Revocation states") committed in ONE transaction with the
certificate row, its re-signed OCSP answer, the CRL change record and the audit record. The
OCSP fast path only ever serves the stored answer, so once a revocation commits no reader is
answered "good" for it again; before it commits, readers see the previous state, which is the
definition of the revocation time."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mobile_jpki.pki import crl as crlmod
from mobile_jpki.pki.model import CertKind, utc
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.service.audit import AuditEvent
from mobile_jpki.service.ca.context import CaContext
from mobile_jpki.service.ca.errors import InvalidRequest, InvalidTransition, NotFound
from mobile_jpki.service.ca.hierarchy import Hierarchies
from mobile_jpki.service.ca.responses import ResponseSigner
from mobile_jpki.service.ca.values import SYSTEM, CertificateInfo, info_of, iso, reason_of
from mobile_jpki.service.signing_pool import SignedWrites
from mobile_jpki.store import direct
from mobile_jpki.store.models import (
    Certificate,
    CertRecordStatus,
    CrlChange,
    CrlState,
    OcspResponse,
)
from mobile_jpki.store.models import serial_hex as _hex

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


# Built once (a statement's cache key is computed per construct).
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


def _check_revocation_reason(reason: Reason) -> None:
    if reason in (Reason.CERTIFICATE_HOLD, Reason.REMOVE_FROM_CRL):
        raise InvalidRequest(f"{reason.name} is not a revocation reason: use hold/release")


class Revocation:
    def __init__(self, ctx: CaContext, hierarchies: Hierarchies, signer: ResponseSigner) -> None:
        self._ctx = ctx
        self._hierarchies = hierarchies
        self._signer = signer
        upsert = sqlite_insert if ctx.db.is_sqlite else pg_insert
        # Built once: constructing ON CONFLICT ... excluded (an alias of the table) and its
        # cache key on every call cost more than executing it (measured in model changes).
        responses = upsert(cast(Table, OcspResponse.__table__))
        columns = ("der", "this_update", "next_update", "produced_at", "responder_id")
        self._responses_upsert = responses.on_conflict_do_update(
            index_elements=["serial"], set_={c: responses.excluded[c] for c in columns}
        )
        self._dirty_upsert = upsert(cast(Table, CrlState.__table__)).on_conflict_do_update(
            index_elements=["ca_id", "shard"], set_={"full_dirty": True, "delta_dirty": True}
        )

    def status(self, serial: int) -> CertificateInfo:
        with self._ctx.db.transaction(write=False) as s:
            row = s.get(Certificate, _hex(serial))
            if row is None:
                raise NotFound("certificate", _hex(serial))
            return info_of(row)

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
        _check_revocation_reason(reason)
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
        keys = [_hex(serial)]
        if session is not None:
            # Inside the caller's transaction: its session reads the row (no second
            # connection and transaction just to learn the ca_id). The caller made sure no
            # responder rollover is due (PortalService._ready_ca), so ensure_responder below
            # answers from memory and writes nothing.
            return self._change_many_in(session, keys, action, now, actor, reason, invalidity_date)[
                0
            ]
        # Keys and responder first, outside the write transaction: a responder rollover is a
        # write of its own and must not wait on the lock we are about to take.
        with self._ctx.db.transaction(write=False) as r:
            ca_id = r.scalar(select(Certificate.ca_id).where(Certificate.serial == keys[0]))
        if ca_id is None:
            raise NotFound("certificate", keys[0])
        self._hierarchies.identity(ca_id)
        self._hierarchies.ensure_responder(ca_id, now)
        with self._ctx.db.transaction() as s:
            return self._change_many_in(s, keys, action, now, actor, reason, invalidity_date)[0]

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
        answers and CRL changes, where a revocation per certificate pays each of those.
        With ``later`` (``signing_later``) the new answers are signed while the caller
        goes on and stored when it finishes, still in its transaction."""
        _check_revocation_reason(reason)
        keys = [_hex(x) for x in serials]
        return self._change_many_in(session, keys, "revoke", utc(now), actor, reason, None, later)

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
        hierarchies = self._hierarchies
        # Core, not the ORM (a model change revokes two certificates: loading them as
        # mapped objects and flushing their changes through the unit of work cost more than
        # the rest of the revocation). The caller's pending ORM changes are written first, so
        # the rows read here are current; on PostgreSQL they are locked FOR UPDATE in serial
        # order (concurrent multi-row lockers then cannot deadlock) and, under READ
        # COMMITTED, read as they are once locked. SQLite's BEGIN IMMEDIATE holds the lock.
        s.flush()
        conn = s.connection()
        lock = _LOCK_CERTIFICATES[self._ctx.db.is_sqlite]
        locked = direct.rows(conn, lock, {"serials": sorted(keys)})
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
            ca = hierarchies.identity(row.ca_id)
            rid, responder = hierarchies.ensure_responder(row.ca_id, now)
            current = CertRecordStatus(row.status)
            revoked_at: dt.datetime | None = row.revoked_at
            code: int | None = row.reason
            invalidity: dt.datetime | None = row.invalidity_date
            # RFC 5280 §5.3.1: only certificateHold is reversible; revoked is final.
            if current is CertRecordStatus.REVOKED:
                raise InvalidTransition(serial, current, action)
            if action == "hold":
                if current is not CertRecordStatus.GOOD:
                    raise InvalidTransition(serial, current, action)
                status, revoked_at, code, invalidity = CertRecordStatus.HELD, now, None, None
                entry = crlmod.encode_entry(serial, now, Reason.CERTIFICATE_HOLD)
            elif action == "release":
                if current is not CertRecordStatus.HELD:
                    raise InvalidTransition(serial, current, action)
                status, revoked_at, code = CertRecordStatus.GOOD, None, None
                entry = None  # off the next full CRL; the delta says removeFromCRL
            else:
                # A held certificate keeps its hold date as revocationDate: it has not been
                # relied on since then (conservative for signatures made while on hold).
                if current is CertRecordStatus.GOOD:
                    revoked_at = now
                status, code = CertRecordStatus.REVOKED, int(reason or 0)
                invalidity = utc(invalidity_date) if invalidity_date else None
                assert revoked_at is not None  # noqa: S101 - set above or by the hold
                # The full-CRL entry, encoded once here rather than at every publication; it
                # commits with the status it describes (docs/crl.md "Stored entries").
                entry = crlmod.encode_entry(serial, revoked_at, reason_of(code), invalidity)
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
                    reason=reason_of(code),
                    invalidity_date=invalidity,
                    der=row.der,
                )
            )
            signing.append(
                functools.partial(
                    self._signer.stored,
                    hierarchies.sha1_key(ca),
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
                payload["invalidity_date"] = iso(utc(invalidity_date))
            audits.append(AuditEvent(now, actor, f"certificate.{action}", row.serial, payload))
        # Every transition was checked above; now the new answers are signed, on the signing
        # pool but INSIDE this transaction, with the rows locked: the revocation and the
        # response that says so commit together, so no reader is answered "good" after the
        # commit, and no stale "good" can be stored over it (docs/ca.md, "Pre-signed OCSP").
        # With ``later`` they are stored by its finish(), which also runs before the commit.
        pending = self._ctx.signing.start(signing)
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
        self._ctx.audit.record_many(s, audits)
        return infos

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
