"""The authorization request's parameters, checked as the API reference states
(AUTH-APP-FACTS.md "Authorization request"): lengths, character sets, ``S256`` only, ``state``
and ``nonce`` required. Pure: no I/O.

The order follows RFC 6749 §4.1.2.1: ``client_id`` and ``redirect_uri`` first — while either is
in doubt nothing is redirected (an open redirector otherwise); after that every error goes
back to the redirect URI with ``error=`` and the ``state``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mobile_jpki.service.authapp.errors import OAuthError, RedirectError

CLIENT_ID = re.compile(r"[0-9a-zA-Z]{1,255}")
VSCHAR = re.compile(r"[\x20-\x7e]{1,255}")  # RFC 6749 Appendix A: %x20-7E
CODE_CHALLENGE = re.compile(r"[0-9a-zA-Z_-]{1,128}")
FACT_SCOPES = ("name", "address", "birthdate", "gender")
SCOPES = frozenset({"openid", "sign", *FACT_SCOPES})
ACR_VALUES = frozenset({"aal3", "crl"})  # the reference's example "aal3 crl" (uncertain)
SINGLE = (
    "response_type",
    "scope",
    "client_id",
    "redirect_uri",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "acr_values",
    "sign_transaction_id",
)


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str
    nonce: str
    code_challenge: str
    acr_values: str | None
    sign_transaction_id: str | None

    @property
    def scope(self) -> str:
        return " ".join(self.scopes)


def client_and_redirect(query: Mapping[str, Sequence[str]]) -> tuple[str, str]:
    """The two parameters checked before any redirect; :class:`OAuthError` (no redirect)."""
    for name in ("client_id", "redirect_uri"):
        if len(query.get(name, ())) > 1:
            raise OAuthError("invalid_request", f"{name} is given more than once")
    client_id = _one(query, "client_id")
    redirect_uri = _one(query, "redirect_uri")
    if client_id is None or not CLIENT_ID.fullmatch(client_id):
        raise OAuthError("invalid_request", "client_id must be 1 to 255 of [0-9a-zA-Z]")
    if redirect_uri is None or not 1 <= len(redirect_uri) <= 255:
        raise OAuthError("invalid_request", "redirect_uri must have 1 to 255 characters")
    return client_id, redirect_uri


def _one(query: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def parse(
    query: Mapping[str, Sequence[str]], *, client_id: str, redirect_uri: str
) -> AuthorizationRequest:
    """The rest, once ``client_id`` and ``redirect_uri`` are known good (registered)."""
    state_values = query.get("state", ())
    state = state_values[0] if len(state_values) == 1 else None
    if state is not None and not VSCHAR.fullmatch(state):
        state = None  # never echo a state we refuse

    def fail(error: str, description: str) -> RedirectError:
        return RedirectError(error, description, redirect_uri=redirect_uri, state=state)

    for name in SINGLE:
        if len(query.get(name, ())) > 1:
            raise fail("invalid_request", f"{name} is given more than once")
    response_type = _one(query, "response_type")
    if response_type is None:
        raise fail("invalid_request", "response_type is required")
    if response_type != "code":
        raise fail("unsupported_response_type", "response_type must be code")
    raw_state = _one(query, "state")
    if raw_state is None or not VSCHAR.fullmatch(raw_state):
        raise fail("invalid_request", "state is required: 1 to 255 characters of %x20-7E")
    nonce = _one(query, "nonce")
    if nonce is None or not VSCHAR.fullmatch(nonce):
        raise fail("invalid_request", "nonce is required: 1 to 255 characters of %x20-7E")
    scope = _one(query, "scope")
    if scope is None or not scope.strip():
        raise fail("invalid_request", "scope is required")
    scopes = tuple(dict.fromkeys(scope.split(" ")))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise fail("invalid_scope", f"unknown scope {unknown[0][:40]!r}")
    if "openid" not in scopes:
        raise fail("invalid_scope", "the scope must include openid")
    challenge = _one(query, "code_challenge")
    if challenge is None or not CODE_CHALLENGE.fullmatch(challenge):
        raise fail("invalid_request", "code_challenge is required: 1 to 128 of [0-9a-zA-Z_-]")
    method = _one(query, "code_challenge_method")
    if method != "S256":
        raise fail("invalid_request", "code_challenge_method must be S256")
    acr = _one(query, "acr_values")
    if acr is not None and (not VSCHAR.fullmatch(acr) or not set(acr.split()) <= ACR_VALUES):
        raise fail("invalid_request", "acr_values may hold aal3 and crl only")
    transaction = _one(query, "sign_transaction_id")
    if transaction is not None:
        try:
            transaction = str(uuid.UUID(transaction))
        except ValueError:
            raise fail("invalid_request", "sign_transaction_id must be a UUID") from None
    if "sign" in scopes and transaction is None:
        raise fail("invalid_request", "the sign scope needs a sign_transaction_id")
    if transaction is not None and "sign" not in scopes:
        raise fail("invalid_request", "sign_transaction_id needs the sign scope")
    return AuthorizationRequest(
        client_id, redirect_uri, scopes, raw_state, nonce, challenge, acr, transaction
    )
