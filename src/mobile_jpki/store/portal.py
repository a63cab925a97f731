"""The portal service's schema: residents, cards, devices, applications, jobs, instructions,
the push outbox and operator API keys — on the same ``DeclarativeBase`` as the CA's tables.

Invariants held by the database itself (not only by the service code), so that a second
``serve`` process or a bug cannot break them (docs/portal.md "Invariants"):

- one device per person holds phone certificates: a partial unique index on
  ``portal_device(person_id) WHERE holder`` (SQLite and PostgreSQL both support partial indexes);
- one open application per person: a partial unique index on
  ``portal_application(person_id) WHERE status = 'accepted'`` — two concurrent model changes
  cannot both be accepted;
- a server nonce is used once: ``used_at`` is set in the same transaction that accepts the
  application, under the person's row lock, and a nonce row is never re-created (primary key).

Secrets (API keys, device credentials) are stored as SHA-256 of 256-bit random values: a slow
password hash buys nothing against values with that much entropy.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mobile_jpki.store.models import Base, UtcDateTime


class ApplicationStatus(StrEnum):
    ACCEPTED = "accepted"  # signed application checked; issuance job queued
    READY = "ready"  # certificates issued: 登録準備完了
    REGISTERED = "registered"  # every certificate installed in the element: 登録完了
    SUPERSEDED = "superseded"  # another device took over before registration finished
    FAILED = "failed"  # the issuance job refused it (card revoked meanwhile, …)


class ItemStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"  # 登録準備が完了しています
    INSTALLED = "installed"
    REVOKED = "revoked"


class JobStatus(StrEnum):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class CardStatus(StrEnum):
    ACTIVE = "active"
    REPLACED = "replaced"
    CANCELLED = "cancelled"  # personalisation failed; its certificates (if any) revoked


class Person(Base):
    """A resident. The basic four facts are personal data: they live here (needed to issue
    signing certificates) and nowhere else — never in logs or audit payloads."""

    __tablename__ = "portal_person"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    facts_json: Mapped[str] = mapped_column(Text)
    # Bumped on every 異動; the row is locked (FOR UPDATE) by every use case that changes
    # what the person holds, which serialises them per person on PostgreSQL.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Card(Base):
    """A My Number Card and the serials of its two certificates."""

    __tablename__ = "portal_card"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("portal_person.id"), index=True)
    applet_serial: Mapped[str] = mapped_column(String(32), unique=True)
    sign_serial: Mapped[str | None] = mapped_column(String(48), nullable=True, index=True)
    auth_serial: Mapped[str | None] = mapped_column(String(48), nullable=True, index=True)
    status: Mapped[str] = mapped_column(String(16), default=CardStatus.ACTIVE.value)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Device(Base):
    """A phone's secure element, enrolled with its factory attestation certificate."""

    __tablename__ = "portal_device"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # One device per element: enrolling it again finds this row (a flood of enrolments of
    # one certificate adds nothing). An attestation certificate is public, so a squatter
    # could enrol a copied one first: until the device has applied (the element's
    # attestation signatures over a server nonce: proof of possession) a re-enrolment
    # replaces its credential, so nobody can squat an element (docs/portal.md).
    element_serial: Mapped[str] = mapped_column(String(32), index=True, unique=True)
    attestation_der: Mapped[bytes] = mapped_column(LargeBinary)
    credential_hash: Mapped[str] = mapped_column(String(64))
    push_channel: Mapped[str] = mapped_column(String(16))
    push_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("portal_person.id"), nullable=True, index=True
    )
    # True while this device is the person's one phone (it may hold unrevoked phone
    # certificates). Unique per person where true: the database refuses a second holder.
    holder: Mapped[bool] = mapped_column(Boolean, default=False)
    # Unused since wrong secrets are counted per (client, device) in memory
    # (service/portal/limits.py); kept so that older code reading the table still works.
    failed_auth: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(
            "uq_portal_device_holder",
            "person_id",
            unique=True,
            sqlite_where=text("holder"),
            postgresql_where=text("holder"),
        ),
    )


class Nonce(Base):
    """A single-use server nonce handed to a device for one signed request."""

    __tablename__ = "portal_nonce"

    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("portal_device.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Application(Base):
    """申請: a card-signed request for phone certificates (first, model change, re-issue)."""

    __tablename__ = "portal_application"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("portal_person.id"), index=True)
    card_id: Mapped[str] = mapped_column(ForeignKey("portal_card.id"))
    device_id: Mapped[str] = mapped_column(ForeignKey("portal_device.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    terms_version: Mapped[str] = mapped_column(String(32))
    revoke_other_consent: Mapped[bool] = mapped_column(Boolean)
    nonce: Mapped[str] = mapped_column(ForeignKey("portal_nonce.value"), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    failure_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The signed application as received: the evidence of consent.
    cms_der: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(
            "uq_portal_application_open",
            "person_id",
            unique=True,
            sqlite_where=text("status = 'accepted'"),
            postgresql_where=text("status = 'accepted'"),
        ),
    )


class ApplicationItem(Base):
    """One certificate of an application: the attested key, then the certificate."""

    __tablename__ = "portal_application_item"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    application_id: Mapped[str] = mapped_column(ForeignKey("portal_application.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # CertKind.PHONE_SIGN / PHONE_AUTH
    spki_der: Mapped[bytes] = mapped_column(LargeBinary)
    cert_serial: Mapped[str | None] = mapped_column(String(48), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    # Challenge the newly installed key signs to prove installation.
    install_challenge: Mapped[str] = mapped_column(String(64))
    installed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class Job(Base):
    """A unit of work for the worker loop (issuance of an accepted application)."""

    __tablename__ = "portal_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    application_id: Mapped[str] = mapped_column(ForeignKey("portal_application.id"))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_portal_job_due", "status", "run_after"),)


class DeviceInstruction(Base):
    """A management instruction for a device (docs/apdu.md): deletion after a model change or
    a revocation from my page, valid 48 hours; a password reset; a slot clearance.

    A queued deletion is not signed when queued: ``certificates`` names what it deletes and the
    service signs it for the element's challenge when the phone comes online
    (docs/security.md "Management instructions"); ``instruction`` is the last one signed for
    it, empty until then. ``cancelled_at``: the device became a holder again, so it is never
    handed out.
    """

    __tablename__ = "portal_instruction"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("portal_device.id"), index=True)
    actions: Mapped[int] = mapped_column(Integer)
    instruction: Mapped[bytes] = mapped_column(LargeBinary)
    not_after: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Hex serials of the certificates a queued deletion names, space-separated.
    certificates: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # The element refused it and the phone reported so (ISO 7816-4 status word, hex).
    refused_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    refused_sw: Mapped[str | None] = mapped_column(String(4), nullable=True)
    refused_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)


class OutboxMessage(Base):
    """A push notification written in the transaction of the change it announces
    (transactional outbox); delivered at least once, de-duplicated by ``id`` on the phone."""

    __tablename__ = "portal_outbox"

    # Monotonic: the SSE event id (Last-Event-ID resumes after it) and the phone's dedupe key.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("portal_device.id"), index=True)
    topic: Mapped[str] = mapped_column(String(32))
    payload: Mapped[str] = mapped_column(Text)  # JSON, no personal data
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_portal_outbox_due", "delivered_at", "next_attempt_at"),)


class ApiKey(Base):
    """An operator API key (municipal office terminal, hotline), SHA-256 at rest."""

    __tablename__ = "portal_api_key"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class RateCounter(Base):
    """A fixed-window counter (applications per card, secret attempts per device)."""

    __tablename__ = "portal_rate"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    count: Mapped[int] = mapped_column(Integer, default=0)
