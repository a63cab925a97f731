"""The schema of the CA (and, later, the portal) as SQLAlchemy 2 typed ORM classes.

Every change goes through an Alembic migration in ``store/migrations/versions``; the models here
must match the latest revision (a test compares them).

Serial numbers are up to 20 octets (RFC 5280 §4.1.2.2), beyond any SQL integer type, so they are
stored as lower-case hex strings without leading zeros (``serial_hex``); times are stored as
naive UTC (SQLite has no time zones) and converted at the edge by :class:`UtcDateTime`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in Python, naive UTC in the database (portable to SQLite)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if not isinstance(value, dt.datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value)!r}")
        return value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


def serial_hex(serial: int) -> str:
    return format(serial, "x")


class CertRecordStatus(StrEnum):
    """A certificate's status as the CA records it (not OCSP's ``CertStatus``, which also says
    ``unknown`` and folds a hold into ``revoked``)."""

    GOOD = "good"
    HELD = "held"  # certificateHold (一時利用停止): may return to good or become revoked
    REVOKED = "revoked"  # final (RFC 5280 §5.3.1: only a hold may be undone)


class CaGeneration(Base):
    """One generation of one hierarchy's root (CaIdentity.ca_id, e.g. ``sign-1``)."""

    __tablename__ = "ca_generation"

    ca_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    hierarchy: Mapped[str] = mapped_column(String(16), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    # Where the key lives: a file path (encrypted PKCS#8) or a ``pkcs11:`` reference.
    key_ref: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # The generation that issues new certificates of its hierarchy; older ones keep answering.
    active: Mapped[bool] = mapped_column(default=True)
    # One monotonic cRLNumber sequence per CA, shared by full and delta CRLs of every shard
    # (RFC 5280 §5.2.3, §5.2.4: complete and delta CRLs share one numbering sequence).
    last_crl_number: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (UniqueConstraint("hierarchy", "generation"),)


class OcspResponder(Base):
    """A delegated OCSP responder certificate of one CA (RFC 6960 §4.2.2.2)."""

    __tablename__ = "ocsp_responder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ca_id: Mapped[str] = mapped_column(ForeignKey("ca_generation.ca_id"), index=True)
    serial: Mapped[str] = mapped_column(String(48))
    certificate_der: Mapped[bytes] = mapped_column(LargeBinary)
    key_ref: Mapped[str] = mapped_column(Text)
    not_before: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    active: Mapped[bool] = mapped_column(default=True)


class Certificate(Base):
    """An end-entity certificate and its revocation state."""

    __tablename__ = "certificate"

    serial: Mapped[str] = mapped_column(String(48), primary_key=True)
    ca_id: Mapped[str] = mapped_column(ForeignKey("ca_generation.ca_id"))
    kind: Mapped[str] = mapped_column(String(16))
    # Opaque identifier of the subject (the CN), never personal data.
    subject_id: Mapped[str] = mapped_column(String(128), index=True)
    not_before: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    shard: Mapped[int] = mapped_column(Integer)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(8), default=CertRecordStatus.GOOD.value)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    reason: Mapped[int | None] = mapped_column(Integer, nullable=True)
    invalidity_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # This certificate's entry of its shard's full CRL, as DER (RFC 5280 §5.1 revokedCertificates
    # element, ``pki.crl.encode_entry``), written with every status change and NULL while good:
    # a full CRL is then these blobs concatenated, not millions of entries encoded (docs/crl.md).
    crl_entry: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # Owners, filled in by the portal service later (no foreign keys yet: its tables come
    # with its own migration, which may add them).
    person_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    card_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    device_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)

    __table_args__ = (
        CheckConstraint("status in ('good', 'held', 'revoked')", name="ck_certificate_status"),
        Index("ix_certificate_crl", "ca_id", "shard", "status"),
        # Covers the full-CRL query (service/ca/crl.py) so that publishing reads only
        # this index, in key order: not one table lookup per entry among rows that also carry
        # the whole certificate. Partial: good certificates, the great majority, are not in it.
        Index(
            "ix_certificate_crl_entry",
            "ca_id",
            "shard",
            "not_after",
            "crl_entry",
            sqlite_where=text("status != 'good'"),
            postgresql_where=text("status != 'good'"),
        ),
    )


class OcspResponse(Base):
    """The pre-signed OCSP response of one certificate (SHA-1 CertID, no nonce: RFC 5019)."""

    __tablename__ = "ocsp_response"

    serial: Mapped[str] = mapped_column(
        ForeignKey("certificate.serial", ondelete="CASCADE"), primary_key=True
    )
    der: Mapped[bytes] = mapped_column(LargeBinary)
    this_update: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    next_update: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    produced_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    responder_id: Mapped[int] = mapped_column(ForeignKey("ocsp_responder.id"))


class CrlState(Base):
    """The latest CRLs of one (CA, shard); ``shard`` -1 is the root's own CRL (ARL). Their DER is
    in :class:`CrlDocument`, not here: every status change sets the dirty flags of this row."""

    __tablename__ = "crl_state"

    ca_id: Mapped[str] = mapped_column(ForeignKey("ca_generation.ca_id"), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    full_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    full_this_update: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    full_next_update: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    delta_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delta_this_update: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    delta_next_update: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Set by every status change of the shard; cleared when a CRL covering it is published.
    full_dirty: Mapped[bool] = mapped_column(default=True)
    delta_dirty: Mapped[bool] = mapped_column(default=True)


class CrlDocument(Base):
    """The DER of the latest full (``kind`` 'full') or delta ('delta') CRL of a (CA, shard).

    Apart from :class:`CrlState` on purpose: SQLite rewrites a whole record on any UPDATE, and
    every status change sets its shard's dirty flags, so a 49 MB CRL kept in the state row was
    read and written again by each revocation (measured: 0.16 CPU s, 0.5 s wall each); locking
    the state row also loaded it. Written once per publication, read when served.
    """

    __tablename__ = "crl_document"

    ca_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    der: Mapped[bytes] = mapped_column(LargeBinary)

    __table_args__ = (
        ForeignKeyConstraint(["ca_id", "shard"], ["crl_state.ca_id", "crl_state.shard"]),
        CheckConstraint("kind in ('full', 'delta')", name="ck_crl_document_kind"),
    )


class CrlChange(Base):
    """A status change since the last full CRL of its shard: the content of delta CRLs."""

    __tablename__ = "crl_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ca_id: Mapped[str] = mapped_column(ForeignKey("ca_generation.ca_id"))
    shard: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(48))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_crl_change_shard", "ca_id", "shard"),)


class AuditRecord(Base):
    """One link of the hash-chained audit log (see service/audit.py)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    object: Mapped[str] = mapped_column(String(256))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON, no personal data
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single chain-head row: locked (FOR UPDATE) to serialise appends on PostgreSQL, and
    kept so a truncated tail is detected (the last record must match it)."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class SandboxClockOffset(Base):
    """How far a sandbox data directory's clock runs ahead of the wall clock (one row, id 1;
    ``store.clock_offset``). Read only when settings.json says ``"sandbox": true``: a real
    CA's clock is never moved."""

    __tablename__ = "sandbox_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset_seconds: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class SharedKey(Base):
    """A key or root every host of this database must hold the same (migration 0009;
    service/shared_keys.py): its public key's SHA-256, its certificate if any, and the private
    key sealed with the CA passphrase (encrypted PKCS#8) for ``mobile-jpki ca join``."""

    __tablename__ = "shared_key"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    spki_sha256: Mapped[str] = mapped_column(String(64))
    certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
