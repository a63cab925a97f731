"""The token endpoint and what bearer tokens open (RFC 6749 §3.2, §4.1.3, §4.4, §6;
RFC 7636 §4.6; OIDC Core §3.1.3; RFC 6750).

Client authentication is ``private_key_jwt`` only (OIDC Core §9; RFC 7523 §2.2, §3): a JWT
signed by a key of the client's registered JWKS with iss = sub = client_id, aud = the token
endpoint, a short exp (at most ``assertion_max_lifetime`` after iat), and a ``jti`` used once —
recorded under a primary key, so a replay on any host fails. Codes are single-use: the first
exchange marks the code used in one conditional UPDATE; a second one is refused and revokes
the tokens of the first (RFC 6749 §4.1.2 "SHOULD revoke").

Access and refresh tokens are opaque 256-bit values (stored hashed): the twin is their only
reader, and revoking is a row update. The ID token is a JWT signed RS256 with the twin's key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy.exc import IntegrityError

from mobile_jpki.pki.model import utc
from mobile_jpki.service.authapp import repo
from mobile_jpki.service.authapp.clients import RegisteredClient
from mobile_jpki.service.authapp.context import AuthAppContext, digest, new_secret, now_s
from mobile_jpki.service.authapp.errors import OAuthError
from mobile_jpki.store.authapp import AuthAppJti, AuthAppRequest, AuthAppToken, RequestStatus

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ["RS256", "PS256", "ES256"]
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1
MAX_ASSERTION = 8192


@dataclass(frozen=True)
class Bearer:
    """What an access token grants."""

    client_id: str
    request_id: str | None
    scopes: tuple[str, ...]


def _one(form: Mapping[str, Sequence[str]], name: str, *, required: bool = True) -> str | None:
    values = form.get(name, ())
    if len(values) > 1:
        raise OAuthError("invalid_request", f"{name} is given more than once")
    if not values or values[0] == "":
        if required:
            raise OAuthError("invalid_request", f"{name} is required")
        return None
    return values[0]


def _invalid_client(description: str) -> OAuthError:
    return OAuthError("invalid_client", description, status=401)


def authenticate_client(
    ctx: AuthAppContext, form: Mapping[str, Sequence[str]], now: dt.datetime
) -> RegisteredClient:
    """The client of a ``private_key_jwt`` assertion, or :class:`OAuthError`
    ``invalid_client`` (401)."""
    if "client_secret" in form:
        raise _invalid_client("only private_key_jwt client authentication is accepted")
    if _one(form, "client_assertion_type", required=False) != ASSERTION_TYPE:
        raise _invalid_client(f"client_assertion_type must be {ASSERTION_TYPE}")
    assertion = _one(form, "client_assertion", required=False)
    if assertion is None or len(assertion) > MAX_ASSERTION:
        raise _invalid_client("client_assertion is required")
    try:
        unverified = json.loads(jws.extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError):
        raise _invalid_client("client_assertion is not a JWS") from None
    claimed = unverified.get("iss") if isinstance(unverified, dict) else None
    form_id = _one(form, "client_id", required=False)
    if not isinstance(claimed, str) or (form_id is not None and form_id != claimed):
        raise _invalid_client("the assertion's iss is not the client_id")
    client = ctx.clients.get(claimed) if len(claimed) <= 255 else None
    if client is None:
        raise _invalid_client("unknown client")
    try:
        token = jwt.decode(assertion, client.key_set(), algorithms=ASSERTION_ALGORITHMS)
    except (JoseError, ValueError):
        raise _invalid_client("the assertion's signature does not verify") from None
    claims = token.claims
    stamp = int(utc(now).timestamp())
    registry = JWTClaimsRegistry(
        now=stamp,
        leeway=int(ctx.config.leeway.total_seconds()),
        iss={"essential": True, "value": client.client_id},
        sub={"essential": True, "value": client.client_id},
        aud={"essential": True, "value": ctx.token_endpoint},
        exp={"essential": True},
        jti={"essential": True},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise _invalid_client(f"the assertion is refused: {exc.description or exc}") from None
    exp = claims["exp"]
    iat = claims.get("iat", stamp)
    if not isinstance(exp, int) or not isinstance(iat, int):
        raise _invalid_client("exp and iat must be integers")
    if exp - min(iat, stamp) > ctx.config.assertion_max_lifetime.total_seconds():
        raise _invalid_client("the assertion lives too long: at most 5 minutes")
    jti = claims["jti"]
    if not isinstance(jti, str) or not 1 <= len(jti) <= 255:
        raise _invalid_client("jti must be a string of 1 to 255 characters")
    try:
        with ctx.ca.db.transaction() as s:
            s.add(AuthAppJti(
                client_id=client.client_id, jti=jti,
                expires_at=dt.datetime.fromtimestamp(exp, dt.UTC) + ctx.config.leeway,
            ))  # fmt: skip
    except IntegrityError:
        raise _invalid_client("the assertion's jti was already used") from None
    return client


def _issue(
    ctx: AuthAppContext,
    s: Any,
    kind: str,
    client_id: str,
    request_id: str | None,
    scope: str,
    now: dt.datetime,
    ttl: dt.timedelta,
) -> str:
    value, hashed = new_secret()
    s.add(AuthAppToken(
        token_hash=hashed, kind=kind, client_id=client_id, request_id=request_id, scope=scope,
        created_at=now, expires_at=now + ttl, revoked=False,
    ))  # fmt: skip
    return value


def _id_token(
    ctx: AuthAppContext, row: AuthAppRequest, now: dt.datetime, *, with_nonce: bool
) -> str:
    key = ctx.keys.signing_key(now)
    stamp = int(utc(now).timestamp())
    claims: dict[str, Any] = {
        "iss": ctx.issuer,
        "sub": row.sub,
        "aud": row.client_id,
        "exp": stamp + int(ctx.config.id_token_ttl.total_seconds()),
        "iat": stamp,
        "auth_time": int(utc(row.finished_at or row.created_at).timestamp()),
        "acr": ctx.config.acr,
        # RFC 8176: a key held in hardware (card or secure element), unlocked by a PIN.
        "amr": ["hwk", "pin"],
    }
    if with_nonce:
        claims["nonce"] = row.nonce
    return jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "JWT"}, claims, key)


def _tokens(
    ctx: AuthAppContext, row: AuthAppRequest, now: dt.datetime, *, with_nonce: bool
) -> dict[str, Any]:
    with ctx.ca.db.transaction() as s:
        access = _issue(ctx, s, "access", row.client_id, row.id, row.scope, now,
                        ctx.config.access_ttl)  # fmt: skip
        refresh_ttl = min(
            ctx.config.refresh_ttl, utc(row.created_at) + ctx.config.session_max - utc(now)
        )
        refresh = (
            _issue(ctx, s, "refresh", row.client_id, row.id, row.scope, now, refresh_ttl)
            if refresh_ttl > dt.timedelta(0)
            else None
        )
    answer: dict[str, Any] = {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(ctx.config.access_ttl.total_seconds()),
        "scope": row.scope,
        "id_token": _id_token(ctx, row, now, with_nonce=with_nonce),
    }
    if refresh is not None:
        answer["refresh_token"] = refresh
        answer["refresh_expires_in"] = int(refresh_ttl.total_seconds())
    return answer


def _code_grant(
    ctx: AuthAppContext, client: RegisteredClient, form: Mapping[str, Sequence[str]],
    now: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    code = _one(form, "code") or ""
    redirect_uri = _one(form, "redirect_uri")
    verifier = _one(form, "code_verifier")
    hashed = digest(code)
    with ctx.ca.db.transaction() as s:
        row = repo.request_by_code(s, hashed)
        if row is None or row.client_id != client.client_id:
            raise OAuthError("invalid_grant", "unknown code")
        s.expunge(row)
        if row.code_used_at is not None:
            # A replayed code: revoke what the first exchange issued (RFC 6749 §4.1.2).
            repo.revoke_request_tokens(s, row.id)
            replayed = True
        else:
            replayed = not repo.use_code(s, row.id, now_s(now))
    if replayed:
        raise OAuthError("invalid_grant", "the code was already used")
    if row.status != RequestStatus.APPROVED.value or row.code_expires_at is None:
        raise OAuthError("invalid_grant", "unknown code")
    if utc(now) >= utc(row.code_expires_at):
        raise OAuthError("invalid_grant", "the code has expired")
    if redirect_uri != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
    if verifier is None or not VERIFIER.fullmatch(verifier):
        raise OAuthError("invalid_grant", "code_verifier must be 43 to 128 unreserved characters")
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    if not hmac.compare_digest(computed, row.code_challenge.encode()):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
    return _tokens(ctx, row, now, with_nonce=True)


def _refresh_grant(
    ctx: AuthAppContext, client: RegisteredClient, form: Mapping[str, Sequence[str]],
    now: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    hashed = digest(_one(form, "refresh_token") or "")
    with ctx.ca.db.transaction() as s:
        spent = repo.spend_refresh(s, hashed, client.client_id, now_s(now))
        token = s.get(AuthAppToken, hashed)
        if not spent or token is None or token.request_id is None:
            raise OAuthError("invalid_grant", "unknown, used or expired refresh token")
        row = s.get(AuthAppRequest, token.request_id)
        if row is None:
            raise OAuthError("invalid_grant", "the authorization has ended")
        s.expunge(row)
    return _tokens(ctx, row, now, with_nonce=False)


def _client_credentials(
    ctx: AuthAppContext, client: RegisteredClient, form: Mapping[str, Sequence[str]],
    now: dt.datetime,
) -> dict[str, Any]:  # fmt: skip
    scope = _one(form, "scope", required=False) or "sign"
    if scope != "sign":
        raise OAuthError("invalid_scope", "client credentials grant the sign scope only")
    with ctx.ca.db.transaction() as s:
        access = _issue(ctx, s, "access", client.client_id, None, scope, now_s(now),
                        ctx.config.access_ttl)  # fmt: skip
    return {"access_token": access, "token_type": "Bearer",
            "expires_in": int(ctx.config.access_ttl.total_seconds()), "scope": scope}  # fmt: skip


GRANTS = {
    "authorization_code": _code_grant,
    "refresh_token": _refresh_grant,
    "client_credentials": _client_credentials,
}


def token(
    ctx: AuthAppContext, form: Mapping[str, Sequence[str]], now: dt.datetime
) -> dict[str, Any]:
    """Answer one token request (the form, parsed); :class:`OAuthError` otherwise."""
    grant = _one(form, "grant_type")
    handler = GRANTS.get(grant or "")
    if handler is None:
        raise OAuthError("unsupported_grant_type", "grant_type is not supported")
    client = authenticate_client(ctx, form, now)
    return handler(ctx, client, form, now)


def bearer(ctx: AuthAppContext, value: str | None, now: dt.datetime) -> Bearer:
    """The grant of an access token; ``invalid_token`` (401, RFC 6750 §3.1) otherwise."""
    if not value or len(value) > 128:
        raise OAuthError("invalid_token", "an access token is required", status=401)
    with ctx.ca.db.transaction(write=False) as s:
        row = s.get(AuthAppToken, digest(value))
        if row is None or row.kind != "access" or row.revoked or utc(now) >= utc(row.expires_at):
            raise OAuthError("invalid_token", "the access token is unknown or expired", status=401)
        return Bearer(row.client_id, row.request_id, tuple(row.scope.split(" ")))


def userinfo(ctx: AuthAppContext, access_token: str | None, now: dt.datetime) -> dict[str, Any]:
    """``sub`` and the basic four facts the authorization's scope asked for (read from the
    signing certificate at approval)."""
    grant = bearer(ctx, access_token, now)
    if grant.request_id is None or "openid" not in grant.scopes:
        raise OAuthError("insufficient_scope", "this token is not an openid grant", status=403)
    with ctx.ca.db.transaction(write=False) as s:
        row = s.get(AuthAppRequest, grant.request_id)
        if row is None or row.sub is None:
            raise OAuthError("invalid_token", "the authorization has ended", status=401)
        claims: dict[str, Any] = {"sub": row.sub}
        if row.facts:
            claims.update(json.loads(row.facts))
    return claims
