"""The twin's repository: every SQL statement of ``service/authapp``, each a named function
over the caller's session (the use cases hold the transaction; tests/test_layering.py keeps
statements out of them, as for the portal). The conditional UPDATEs return whether they won:
that is how "a code is used once" and "a request is answered once" hold across hosts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mobile_jpki.store.authapp import (
    AuthAppClient,
    AuthAppJti,
    AuthAppKey,
    AuthAppRequest,
    AuthAppSignTransaction,
    AuthAppToken,
    RequestStatus,
    TransactionStatus,
)
from mobile_jpki.store.db import Database
from mobile_jpki.store.models import Certificate, serial_hex

CLIENT_TABLES = (AuthAppRequest, AuthAppToken, AuthAppJti, AuthAppSignTransaction)


def _won(result: Any) -> bool:
    return int(result.rowcount) == 1


# -- the CA's table --------------------------------------------------------------------------
def certificate_holder(db: Database, serial: int) -> str | None:
    """The portal's person id recorded with the certificate at issuance, else ``None``."""
    with db.transaction(write=False) as s:
        return s.scalar(
            select(Certificate.person_id).where(Certificate.serial == serial_hex(serial))
        )


# -- relying parties -------------------------------------------------------------------------
def clients(s: Session) -> Sequence[AuthAppClient]:
    return s.scalars(select(AuthAppClient).order_by(AuthAppClient.created_at)).all()


def delete_client_data(s: Session, client_id: str) -> None:
    """Everything a client holds: requests and their codes, tokens, jti, transactions."""
    for table in CLIENT_TABLES:
        s.execute(delete(table).where(table.client_id == client_id))


# -- the twin's keys -------------------------------------------------------------------------
def keys(s: Session) -> list[AuthAppKey]:
    return list(s.scalars(select(AuthAppKey).order_by(AuthAppKey.created_at)).all())


def retire_live_keys(s: Session, now: dt.datetime) -> None:
    s.execute(update(AuthAppKey).where(AuthAppKey.retired_at.is_(None)).values(retired_at=now))


# -- requests and codes ----------------------------------------------------------------------
def finish_pending(s: Session, request_id: str, **values: Any) -> bool:
    """Answer a pending request (approved or denied) — once."""
    return _won(
        s.execute(
            update(AuthAppRequest)
            .where(AuthAppRequest.id == request_id, AuthAppRequest.status == RequestStatus.PENDING)
            .values(**values)
        )
    )


def replace_code_for_browser(
    s: Session, request_id: str, browser_hash: str, code_hash: str, expires_at: dt.datetime
) -> bool:
    """The web step's browser takes the code (once: its cookie is spent)."""
    return _won(
        s.execute(
            update(AuthAppRequest)
            .where(
                AuthAppRequest.id == request_id,
                AuthAppRequest.code_used_at.is_(None),
                AuthAppRequest.browser_hash == browser_hash,
            )
            .values(code_hash=code_hash, code_expires_at=expires_at, browser_hash=None)
        )
    )


def pending_requests(s: Session, client_id: str, now: dt.datetime) -> int:
    """Requests of this client still waiting for the app."""
    return int(
        s.scalar(
            select(func.count())
            .select_from(AuthAppRequest)
            .where(
                AuthAppRequest.client_id == client_id,
                AuthAppRequest.status == RequestStatus.PENDING,
                AuthAppRequest.expires_at > now,
            )
        )
        or 0
    )


def request_by_code(s: Session, code_hash: str) -> AuthAppRequest | None:
    return s.scalar(select(AuthAppRequest).where(AuthAppRequest.code_hash == code_hash))


def use_code(s: Session, request_id: str, now: dt.datetime) -> bool:
    return _won(
        s.execute(
            update(AuthAppRequest)
            .where(AuthAppRequest.id == request_id, AuthAppRequest.code_used_at.is_(None))
            .values(code_used_at=now)
        )
    )


# -- tokens ----------------------------------------------------------------------------------
def revoke_request_tokens(s: Session, request_id: str) -> None:
    s.execute(
        update(AuthAppToken).where(AuthAppToken.request_id == request_id).values(revoked=True)
    )


def spend_refresh(s: Session, token_hash: str, client_id: str, now: dt.datetime) -> bool:
    """Revoke a live refresh token of this client — once (rotation)."""
    return _won(
        s.execute(
            update(AuthAppToken)
            .where(
                AuthAppToken.token_hash == token_hash,
                AuthAppToken.kind == "refresh",
                AuthAppToken.client_id == client_id,
                AuthAppToken.revoked.is_(False),
                AuthAppToken.expires_at > now,
            )
            .values(revoked=True)
        )
    )


# -- sign transactions -----------------------------------------------------------------------
def sign_transaction(
    s: Session,
    transaction_id: str,
    *,
    request_id: str,
    signature: bytes,
    certificate_der: bytes,
    now: dt.datetime,
) -> bool:
    return _won(
        s.execute(
            update(AuthAppSignTransaction)
            .where(
                AuthAppSignTransaction.id == transaction_id,
                AuthAppSignTransaction.status == TransactionStatus.CREATED,
            )
            .values(
                status=TransactionStatus.SIGNED.value,
                request_id=request_id,
                signature=signature,
                certificate_der=certificate_der,
                signed_at=now,
            )
        )
    )


# -- housekeeping ----------------------------------------------------------------------------
def housekeeping(s: Session, now: dt.datetime, session_max: dt.timedelta) -> int:
    removed = 0
    for stmt in (
        delete(AuthAppJti).where(AuthAppJti.expires_at < now),
        delete(AuthAppToken).where(AuthAppToken.expires_at < now),
        delete(AuthAppSignTransaction).where(AuthAppSignTransaction.expires_at < now - session_max),
        delete(AuthAppRequest).where(AuthAppRequest.expires_at < now - session_max),
    ):
        removed += int(s.execute(stmt).rowcount)  # type: ignore[attr-defined]
    return removed
