"""The authorization endpoint's use cases: accept a checked request, show it to the app,
take the app's answer (approve after :mod:`.approval`'s checks, or deny), and tell the web
step where to send the browser (RFC 6749 §4.1; OIDC Core §3.1.2).

A request is one row (``authapp_request``); approving it and making its code is one
conditional UPDATE (``... WHERE status = 'pending'``), so two answers to one request cannot
both win, on one host or several.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mobile_jpki.pki.identity import Sex
from mobile_jpki.pki.model import utc
from mobile_jpki.service.authapp import params, repo
from mobile_jpki.service.authapp.approval import CheckFailed, Proven, check_answer
from mobile_jpki.service.authapp.clients import RegisteredClient
from mobile_jpki.service.authapp.context import (
    AuthAppContext,
    b64url,
    digest,
    new_secret,
    now_s,
    with_query,
)
from mobile_jpki.service.authapp.errors import (
    ApprovalError,
    Expired,
    Finished,
    OAuthError,
    RedirectError,
    UnknownItem,
)
from mobile_jpki.service.authapp.keys import PAIRWISE, pairwise_sub
from mobile_jpki.service.authapp.transactions import digest_of, load_for_authorization
from mobile_jpki.signing.login import Challenge
from mobile_jpki.store.authapp import (
    AuthAppRequest,
    AuthAppSignTransaction,
    RequestStatus,
)

GENDER = {Sex.MALE: "male", Sex.FEMALE: "female", Sex.UNKNOWN: "unknown"}


@dataclass(frozen=True)
class Started:
    request_id: str
    browser_cookie: str  # bind the web step to the browser that opened it
    expires_at: dt.datetime


@dataclass(frozen=True)
class WebStep:
    """What the web step shows, and (when the app has answered and this is the browser that
    opened it) where the browser goes next."""

    request_id: str
    client_name: str
    scopes: tuple[str, ...]
    status: RequestStatus
    expires_at: dt.datetime
    redirect: str | None


def needs_sign_key(scopes: Sequence[str]) -> bool:
    return "sign" in scopes or any(s in params.FACT_SCOPES for s in scopes)


def _challenge(ctx: AuthAppContext, row: AuthAppRequest) -> Challenge:
    return Challenge(
        nonce=row.challenge,
        audience=f"{ctx.issuer}/device-approvals/{row.id}",
        issued_at=utc(row.created_at),
        expires_at=utc(row.expires_at),
    )


def check_client(
    ctx: AuthAppContext, query: Mapping[str, Sequence[str]]
) -> tuple[RegisteredClient, str]:
    """Client and redirect URI: registered, and the URI one of the client's, exactly
    (RFC 6749 §3.1.2.3; OIDC Core §3.1.2.1 "simple string comparison"). Never a redirect."""
    client_id, redirect_uri = params.client_and_redirect(query)
    client = ctx.clients.get(client_id)
    if client is None:
        raise OAuthError("unauthorized_client", "unknown client_id")
    if redirect_uri not in client.redirect_uris:
        raise OAuthError("invalid_request", "redirect_uri is not registered for this client")
    return client, redirect_uri


def start(ctx: AuthAppContext, query: Mapping[str, Sequence[str]], now: dt.datetime) -> Started:
    """Check the whole request and record it; :class:`OAuthError` before the redirect URI is
    trusted, :class:`RedirectError` after."""
    client, redirect_uri = check_client(ctx, query)
    request = params.parse(query, client_id=client.client_id, redirect_uri=redirect_uri)
    now = now_s(now)
    if request.sign_transaction_id is not None:
        try:
            load_for_authorization(ctx, request.sign_transaction_id, client.client_id, now)
        except OAuthError as exc:
            raise RedirectError(
                "invalid_request", exc.description, redirect_uri=redirect_uri,
                state=request.state,
            ) from None  # fmt: skip
    request_id = secrets.token_urlsafe(24)
    cookie, cookie_hash = new_secret()
    row = AuthAppRequest(
        id=request_id,
        client_id=client.client_id,
        redirect_uri=redirect_uri,
        scope=request.scope,
        state=request.state,
        nonce=request.nonce,
        code_challenge=request.code_challenge,
        acr_values=request.acr_values,
        sign_transaction_id=request.sign_transaction_id,
        challenge=secrets.token_bytes(32),
        browser_hash=cookie_hash,
        status=RequestStatus.PENDING.value,
        created_at=now,
        expires_at=now + ctx.config.request_ttl,
    )
    with ctx.ca.db.transaction() as s:
        if repo.pending_requests(s, client.client_id, now) >= ctx.config.max_pending_per_client:
            raise RedirectError(
                "temporarily_unavailable", "too many requests are waiting for the app; retry later",
                redirect_uri=redirect_uri, state=request.state,
            )  # fmt: skip
        s.add(row)
    return Started(request_id, cookie, row.expires_at)


def _get(ctx: AuthAppContext, request_id: str) -> AuthAppRequest:
    if len(request_id) > 64:
        raise UnknownItem("request")
    with ctx.ca.db.transaction(write=False) as s:
        row = s.get(AuthAppRequest, request_id)
        if row is None:
            raise UnknownItem("request")
        s.expunge(row)
        return row


def _pending(ctx: AuthAppContext, request_id: str, now: dt.datetime) -> AuthAppRequest:
    row = _get(ctx, request_id)
    if row.status != RequestStatus.PENDING.value:
        raise Finished()
    if utc(now) >= utc(row.expires_at):
        raise Expired("request")
    return row


def approval_view(ctx: AuthAppContext, request_id: str, now: dt.datetime) -> dict[str, Any]:
    """What the app shows before the person consents (contract: GET device-approvals)."""
    row = _pending(ctx, request_id, now)
    client = ctx.clients.get(row.client_id)
    scopes = row.scope.split(" ")
    transaction = None
    if row.sign_transaction_id is not None:
        tx = load_for_authorization(ctx, row.sign_transaction_id, row.client_id, now)
        transaction = {
            "id": tx.id,
            "digest_type": tx.digest_type,
            "digest": b64url(digest_of(tx.to_be_signed)),
        }
    return {
        "request_id": row.id,
        "client_id": row.client_id,
        "client_name": client.name if client else row.client_id,
        "scopes": scopes,
        "needs_sign_key": needs_sign_key(scopes),
        "challenge": _challenge(ctx, row).to_dict(),
        "sign_transaction": transaction,
        "expires_at": utc(row.expires_at).isoformat(),
    }


def _facts_json(proven: Proven, scopes: Sequence[str]) -> str | None:
    if proven.facts is None or not any(s in params.FACT_SCOPES for s in scopes):
        return None
    facts = proven.facts
    claims = {
        "name": facts.name,
        "address": facts.address,
        "birthdate": facts.date_of_birth.isoformat(),
        "gender": GENDER[facts.sex],
    }
    return json.dumps({k: v for k, v in claims.items() if k in scopes}, ensure_ascii=False)


def _deny(
    ctx: AuthAppContext, row: AuthAppRequest, error: str, description: str, now: dt.datetime
) -> str:
    """Finish the request denied; the redirect that tells the RP."""
    with ctx.ca.db.transaction() as s:
        denied = repo.finish_pending(
            s, row.id, status=RequestStatus.DENIED.value, error=error,
            error_description=description[:255], finished_at=now_s(now),
        )  # fmt: skip
        if not denied:
            raise Finished()
    return _error_redirect(ctx, row, error, description)


def _error_redirect(ctx: AuthAppContext, row: AuthAppRequest, error: str, desc: str) -> str:
    return with_query(
        row.redirect_uri,
        {"error": error, "error_description": desc[:255], "state": row.state, "iss": ctx.issuer},
    )


def deny(ctx: AuthAppContext, request_id: str, now: dt.datetime) -> str:
    """The person declined (同意しない)."""
    row = _pending(ctx, request_id, now)
    return _deny(ctx, row, "access_denied", "the person declined", now)


def approve(
    ctx: AuthAppContext,
    request_id: str,
    *,
    auth_signature: bytes,
    auth_certificate: bytes,
    sign: tuple[bytes, bytes] | None,
    now: dt.datetime,
) -> str:
    """Check the app's answer (:func:`.approval.check_answer`); on success record what it
    proved, make the one-use code, sign the transaction, and return the redirect with
    ``code``, ``state`` and ``iss`` (RFC 9207). A failed check finishes the request denied
    and raises :class:`ApprovalError` (``access_denied``): nothing is issued."""
    row = _pending(ctx, request_id, now)
    scopes = row.scope.split(" ")
    tx: AuthAppSignTransaction | None = None
    if row.sign_transaction_id is not None:
        tx = load_for_authorization(ctx, row.sign_transaction_id, row.client_id, now)
    try:
        proven = check_answer(
            ctx.ca,
            challenge=_challenge(ctx, row),
            auth_signature=auth_signature,
            auth_certificate=auth_certificate,
            sign=sign,
            sign_digest=digest_of(tx.to_be_signed) if tx is not None else None,
            needs_sign_key=needs_sign_key(scopes),
            now=now,
        )
    except CheckFailed as exc:
        redirect = _deny(ctx, row, "access_denied", str(exc), now)
        raise ApprovalError(str(exc), redirect_uri=redirect) from None
    code, code_hash = new_secret()
    secret = ctx.keys.secret(PAIRWISE, now)
    now = now_s(now)
    with ctx.ca.db.transaction() as s:
        approved = repo.finish_pending(
            s,
            row.id,
            status=RequestStatus.APPROVED.value,
            finished_at=now,
            person_id=proven.person_id,
            sub=pairwise_sub(secret, row.client_id, proven.person_id),
            auth_serial=format(proven.auth_serial, "x"),
            sign_serial=format(proven.sign_serial, "x") if proven.sign_serial else None,
            facts=_facts_json(proven, scopes),
            code_hash=code_hash,
            code_expires_at=now + ctx.config.code_ttl,
        )
        if not approved:
            raise Finished()
        if tx is not None and sign is not None:
            signed = repo.sign_transaction(
                s, tx.id, request_id=row.id, signature=sign[0], certificate_der=sign[1], now=now
            )
            if not signed:
                # Signed meanwhile under another authorization: roll back this approval.
                raise OAuthError("invalid_request", "the sign transaction was already signed")
    return with_query(row.redirect_uri, {"code": code, "state": row.state, "iss": ctx.issuer})


def web_step(
    ctx: AuthAppContext, request_id: str, browser_cookie: str | None, now: dt.datetime
) -> WebStep:
    """The web step's state. ``redirect`` is set only for the browser holding the request's
    cookie, once the app answered: the code reaches the browser that started the request,
    not one that learnt the request id (a QR code seen over a shoulder)."""
    row = _get(ctx, request_id)
    client = ctx.clients.get(row.client_id)
    status = RequestStatus(row.status)
    redirect = None
    mine = browser_cookie is not None and digest(browser_cookie) == row.browser_hash
    if mine and status is RequestStatus.DENIED:
        redirect = _error_redirect(
            ctx, row, row.error or "access_denied", row.error_description or ""
        )
    elif mine and status is RequestStatus.APPROVED:
        redirect = f"{ctx.issuer}/web-step/{row.id}/code"
    elif mine and utc(now) >= utc(row.expires_at):
        redirect = _error_redirect(ctx, row, "access_denied", "the request expired")
    return WebStep(
        row.id, client.name if client else row.client_id, tuple(row.scope.split(" ")), status,
        utc(row.expires_at), redirect,
    )  # fmt: skip


def browser_code(
    ctx: AuthAppContext, request_id: str, browser_cookie: str | None, now: dt.datetime
) -> str:
    """The code's redirect for the web step's browser: a fresh code replaces the one given to
    the app (one code per approval reaches the RP: whichever is exchanged first wins, the
    other finds it replaced). The browser path exists for the person on a PC who approved
    on the phone; the CLI path receives the redirect in the app's answer."""
    row = _get(ctx, request_id)
    if (
        browser_cookie is None
        or digest(browser_cookie) != row.browser_hash
        or row.status != RequestStatus.APPROVED.value
        or row.code_used_at is not None
    ):
        raise UnknownItem("code for this browser")
    code, code_hash = new_secret()
    now = now_s(now)
    with ctx.ca.db.transaction() as s:
        taken = repo.replace_code_for_browser(
            s, row.id, row.browser_hash or "", code_hash, now + ctx.config.code_ttl
        )
        if not taken:
            raise UnknownItem("code for this browser")
    return with_query(row.redirect_uri, {"code": code, "state": row.state, "iss": ctx.issuer})
