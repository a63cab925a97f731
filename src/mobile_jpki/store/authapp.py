"""The デジタル認証アプリ twin's schema (service/authapp, docs/auth-app.md): registered relying
parties, the twin's own signing keys and secrets, authorization requests (and the code each
approved one yields), tokens, used client-assertion ids and sign transactions — on the same
``DeclarativeBase`` as the CA's and the portal's tables, so every ``serve`` host shares them.

Invariants held by the database itself:

- a code is used once: ``code_hash`` is unique and ``code_used_at`` is set by one conditional
  UPDATE (``... WHERE code_used_at IS NULL``) whose row count decides;
- a client assertion's ``jti`` is used once per client: the primary key
  ``(client_id, jti)`` refuses the second insert (RFC 7523 §3 item 7);
- codes, access and refresh tokens are stored as SHA-256 of 256-bit random values (a slow hash
  buys nothing at that entropy), never in the clear.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import Boolean, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from mobile_jpki.store.models import Base, UtcDateTime


class RequestStatus(StrEnum):
    PENDING = "pending"  # the web step waits for the app
    APPROVED = "approved"  # the person approved and every check passed: a code exists
    DENIED = "denied"  # the person declined, or a check failed (error recorded)


class TransactionStatus(StrEnum):
    CREATED = "created"  # made by the RP (client credentials), not yet signed
    SIGNED = "signed"  # the person signed it; the result can be fetched


class AuthAppClient(Base):
    """A relying party registered with ``mobile-jpki rp register``."""

    __tablename__ = "authapp_client"

    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    redirect_uris: Mapped[str] = mapped_column(Text)  # JSON list of exact URIs
    jwks: Mapped[str] = mapped_column(Text)  # the RP's public JWK Set (RFC 7517 §5), JSON
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AuthAppKey(Base):
    """The twin's ID-token signing keys (RS256). The newest unretired one signs; retired keys
    stay published in the JWKS until ``retired_at`` + the grace period, so tokens signed
    before a rotation still verify."""

    __tablename__ = "authapp_key"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    # PKCS#8 PEM; encrypted with the CA passphrase when the data directory has one.
    private_pem: Mapped[bytes] = mapped_column(LargeBinary)
    sealed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuthAppSecret(Base):
    """Named random secrets every host shares (the pairwise ``sub`` key)."""

    __tablename__ = "authapp_secret"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class AuthAppRequest(Base):
    """One authorization request (the authorization endpoint's parameters, checked), what the
    app answered, and the code it yields."""

    __tablename__ = "authapp_request"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(255), index=True)
    redirect_uri: Mapped[str] = mapped_column(String(255))
    scope: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(255))
    nonce: Mapped[str] = mapped_column(String(255))
    code_challenge: Mapped[str] = mapped_column(String(128))
    acr_values: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sign_transaction_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The fresh challenge the user-auth key signs (signing.login.Challenge's nonce).
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    # SHA-256 of the cookie given to the browser that opened the web step: only that browser
    # is redirected with the code.
    browser_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.PENDING.value)
    error: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error_description: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # What approval established.
    person_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sub: Mapped[str | None] = mapped_column(String(64), nullable=True)
    auth_serial: Mapped[str | None] = mapped_column(String(48), nullable=True)
    sign_serial: Mapped[str | None] = mapped_column(String(48), nullable=True)
    # The basic four facts read from the signing certificate (JSON), only when a fact scope
    # was asked; dropped with the request by housekeeping.
    facts: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    code_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    code_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuthAppToken(Base):
    """An access or refresh token (opaque; stored as its SHA-256)."""

    __tablename__ = "authapp_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "access" | "refresh"
    client_id: Mapped[str] = mapped_column(String(255), index=True)
    # The authorization it came from; None for a client-credentials token.
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    scope: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class AuthAppJti(Base):
    """A client assertion's ``jti``, kept until the assertion would have expired."""

    __tablename__ = "authapp_jti"

    client_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class AuthAppSignTransaction(Base):
    """A sign transaction: the digest an RP wants signed and, once signed, the result."""

    __tablename__ = "authapp_sign_transaction"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # a UUID
    client_id: Mapped[str] = mapped_column(String(255), index=True)
    digest_type: Mapped[str] = mapped_column(String(16))  # "sha256" | "digestinfo"
    # What the signing key signs: the DigestInfo (RFC 8017 §9.2) DER either way.
    to_be_signed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default=TransactionStatus.CREATED.value)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    certificate_der: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
