"""CRL publication: the full and delta CRL of each (CA, shard) and the root's CRL (ARL), with
one cRLNumber sequence per CA (docs/ca.md, "CRL numbering and caching"; docs/crl.md). A CRL is
published again only when its shard changed or it nears its nextUpdate; the published DER is
kept by ``crl_documents`` and served from there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobile_jpki.pki import crl as crlmod
from mobile_jpki.pki.model import CaIdentity, utc
from mobile_jpki.pki.revocation import Reason, RevokedEntry
from mobile_jpki.service.ca.context import CaContext
from mobile_jpki.service.ca.crl_documents import DELTA, FULL, CrlDocuments, documents_for
from mobile_jpki.service.ca.errors import NotFound
from mobile_jpki.service.ca.hierarchy import Hierarchies
from mobile_jpki.service.ca.values import reason_of
from mobile_jpki.store.models import (
    CaGeneration,
    Certificate,
    CertRecordStatus,
    CrlChange,
    CrlState,
)

ARL_SHARD = -1  # crl_state row of the root's CRL of CA certificates

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


class CrlPublisher:
    def __init__(self, ctx: CaContext, hierarchies: Hierarchies) -> None:
        self._ctx = ctx
        self._hierarchies = hierarchies
        # The DER of published CRLs (service/ca/crl_documents.py): files beside a SQLite file.
        self.documents: CrlDocuments = documents_for(ctx.sqlite_file, is_sqlite=ctx.db.is_sqlite)

    def crl(self, ca_id: str, shard: int, now: dt.datetime, *, delta: bool = False) -> bytes:
        """The current full or delta CRL of one shard, regenerated only when the shard changed
        or the cached one nears its nextUpdate."""
        try:
            return self._crl(ca_id, shard, utc(now), delta)
        except IntegrityError:
            # Two first publications of a shard raced to create its state row (PostgreSQL);
            # the row exists now and the retry locks it.
            return self._crl(ca_id, shard, utc(now), delta)

    def root_crl(self, ca_id: str, now: dt.datetime) -> bytes:
        """The root's CRL of CA certificates (ARL). A one-level hierarchy issues no CA
        certificates, so it lists none; responder certificates carry ocsp-nocheck and are
        short-lived instead of being revoked (RFC 6960 §4.2.2.2.1)."""
        now = utc(now)
        ca = self._hierarchies.identity(ca_id)
        with self._ctx.db.transaction() as s:
            state = self._state(s, ca_id, ARL_SHARD)
            kept = None if self._full_stale(state, now) else self._document(s, state, FULL)
            der = kept if kept is not None else self._publish_arl(s, ca, state, now)
        self.documents.prune(ca_id, ARL_SHARD, {FULL: state.full_number})
        return der

    def _crl(self, ca_id: str, shard: int, now: dt.datetime, delta: bool) -> bytes:
        ca = self._hierarchies.identity(ca_id)
        if not 0 <= shard < self._ctx.settings.shard_count:
            raise NotFound("CRL shard", f"{ca_id}/{shard}")
        with self._ctx.db.transaction() as s:
            state = self._state(s, ca_id, shard)
            der = self._current(s, ca, state, now, delta)
        # Committed: the files of earlier publications can go (crl_documents.FileDocuments).
        self.documents.prune(ca_id, shard, {FULL: state.full_number, DELTA: state.delta_number})
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
                full = self._document(s, state, FULL)
            return full if full is not None else self._publish_full(s, ca, state, now)
        if (
            state.delta_number is None
            or state.delta_dirty
            or state.delta_next_update is None
            or state.delta_next_update - now <= self._ctx.settings.delta_crl_validity / 2
        ):
            return self._publish_delta(s, ca, state, now)
        kept = self._document(s, state, DELTA)
        return kept if kept is not None else self._publish_delta(s, ca, state, now)

    def _state(self, s: Session, ca_id: str, shard: int) -> CrlState:
        state = s.execute(
            self._ctx.db.lock(
                select(CrlState).where(CrlState.ca_id == ca_id, CrlState.shard == shard)
            )
        ).scalar_one_or_none()
        if state is None:
            state = CrlState(ca_id=ca_id, shard=shard, full_dirty=True, delta_dirty=True)
            s.add(state)
            s.flush()
        return state

    def _document(self, s: Session, state: CrlState, kind: str) -> bytes | None:
        """The stored DER of the state's current full or delta CRL; ``None`` if the store no
        longer has it (the caller publishes again)."""
        number = state.full_number if kind == FULL else state.delta_number
        if number is None:
            return None
        return self.documents.get(s, state.ca_id, state.shard, kind, number)

    def _full_stale(
        self, state: CrlState, now: dt.datetime, *, changes_matter: bool = True
    ) -> bool:
        return (
            state.full_number is None
            or (changes_matter and state.full_dirty)
            or state.full_next_update is None
            or state.full_next_update - now <= self._ctx.settings.crl_refresh_before
        )

    def _next_number(self, s: Session, ca_id: str) -> int:
        row = s.execute(
            self._ctx.db.lock(select(CaGeneration).where(CaGeneration.ca_id == ca_id))
        ).scalar_one()
        row.last_crl_number += 1
        return row.last_crl_number

    def _publish_arl(self, s: Session, ca: CaIdentity, state: CrlState, now: dt.datetime) -> bytes:
        number = self._next_number(s, ca.ca_id)
        next_update = now + self._ctx.settings.crl_validity
        der = crlmod.build_crl(
            issuer=ca,
            urls=self._ctx.urls,
            entries=(),
            crl_number=number,
            this_update=now,
            next_update=next_update,
            scope=crlmod.CrlScope.arl(),
        )
        self.documents.put(s, ca.ca_id, state.shard, FULL, number, der)
        state.full_number, state.full_this_update, state.full_next_update = number, now, next_update
        state.full_dirty = False
        return der

    def _publish_full(self, s: Session, ca: CaIdentity, state: CrlState, now: dt.datetime) -> bytes:
        number = self._next_number(s, ca.ca_id)
        next_update = now + self._ctx.settings.crl_validity
        der = crlmod.build_crl(
            issuer=ca,
            urls=self._ctx.urls,
            encoded=self._stored_entries(s, ca.ca_id, state.shard, now),
            crl_number=number,
            this_update=now,
            next_update=next_update,
            scope=crlmod.CrlScope.full(state.shard),
        )
        self.documents.put(s, ca.ca_id, state.shard, FULL, number, der)
        state.full_number, state.full_this_update, state.full_next_update = number, now, next_update
        state.full_dirty = False
        # The new full CRL is the base of the next deltas: earlier changes are in it.
        s.execute(
            delete(CrlChange).where(CrlChange.ca_id == ca.ca_id, CrlChange.shard == state.shard)
        )
        self.documents.drop(s, ca.ca_id, state.shard, DELTA)
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
        A held or revoked row without an entry (none after migration 0003; kept as a guard) is
        encoded from its columns and appended at the end.
        """
        is_sqlite = self._ctx.db.is_sqlite
        conn = s.connection()
        dialect = conn.dialect
        to_db = Certificate.__table__.c.not_after.type.dialect_impl(dialect).bind_processor(dialect)
        params = {
            "ca_id": ca_id,
            "shard": shard,
            # RFC 5280 §5.3: entries may go once the certificate has expired.
            "now": to_db(now) if to_db else now,
        }
        sql = _STORED_ENTRIES_SQL if is_sqlite else _STORED_ENTRIES_SQL_PYFORMAT
        dbapi = conn.connection
        cursor = dbapi.cursor() if is_sqlite else dbapi.cursor(name="crl_entries")
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
            yield from _encode_missing(s, ca_id, shard, now)

    def _publish_delta(
        self, s: Session, ca: CaIdentity, state: CrlState, now: dt.datetime
    ) -> bytes:
        assert state.full_number is not None  # noqa: S101 - a full CRL exists
        number = self._next_number(s, ca.ca_id)
        next_update = now + self._ctx.settings.delta_crl_validity
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
            status = CertRecordStatus(r.status)
            if status is CertRecordStatus.GOOD:
                # A released hold: tell delta users to drop it (RFC 5280 §5.2.4, §5.3.1).
                entries.append(RevokedEntry(int(r.serial, 16), r.at, Reason.REMOVE_FROM_CRL))
            else:
                held = status is CertRecordStatus.HELD
                reason = Reason.CERTIFICATE_HOLD if held else reason_of(r.reason)
                entries.append(
                    RevokedEntry(int(r.serial, 16), r.revoked_at, reason, r.invalidity_date)
                )
        der = crlmod.build_crl(
            issuer=ca,
            urls=self._ctx.urls,
            entries=entries,
            crl_number=number,
            this_update=now,
            next_update=next_update,
            scope=crlmod.CrlScope.delta(state.shard, state.full_number),
        )
        self.documents.put(s, ca.ca_id, state.shard, DELTA, number, der)
        state.delta_number, state.delta_this_update, state.delta_next_update = (
            number,
            now,
            next_update,
        )
        state.delta_dirty = False
        return der


def _encode_missing(s: Session, ca_id: str, shard: int, now: dt.datetime) -> Iterator[bytes]:
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
            Certificate.status != CertRecordStatus.GOOD.value,
            Certificate.not_after > now,
            Certificate.crl_entry.is_(None),
        )
    )
    for r in rows:
        held = r.status == CertRecordStatus.HELD.value
        reason = Reason.CERTIFICATE_HOLD if held else reason_of(r.reason)
        yield crlmod.encode_entry(int(r.serial, 16), r.revoked_at, reason, r.invalidity_date)
