"""The twin's one entry point for ``api`` and ``cli``: :class:`AuthAppService`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mobile_jpki.service.authapp import authorization, repo, tokens, transactions
from mobile_jpki.service.authapp.authorization import Started, WebStep
from mobile_jpki.service.authapp.clients import ClientRegistry
from mobile_jpki.service.authapp.context import AuthAppConfig, AuthAppContext, now_s
from mobile_jpki.service.authapp.errors import OAuthError
from mobile_jpki.service.authapp.keys import TwinKeys
from mobile_jpki.service.authapp.params import FACT_SCOPES, SCOPES
from mobile_jpki.service.ca import CertificateAuthority


class AuthAppService:
    """The デジタル認証アプリ twin over one CA's database. ``passphrase`` gives the CA
    passphrase or ``None``; it is asked only when the twin's key is made or first loaded."""

    def __init__(
        self,
        ca: CertificateAuthority,
        *,
        base_url: str,
        passphrase: Callable[[], bytes | None],
        config: AuthAppConfig | None = None,
    ) -> None:
        self.ctx = AuthAppContext(
            ca, base_url, TwinKeys(ca.db, passphrase), config or AuthAppConfig()
        )

    @property
    def issuer(self) -> str:
        return self.ctx.issuer

    @property
    def clients(self) -> ClientRegistry:
        return self.ctx.clients

    def discovery(self) -> dict[str, Any]:
        """OpenID Provider metadata (OIDC Discovery §3; RFC 8414)."""
        ctx = self.ctx
        return {
            "issuer": ctx.issuer,
            "authorization_endpoint": ctx.endpoint("auth"),
            "token_endpoint": ctx.token_endpoint,
            "userinfo_endpoint": ctx.endpoint("userinfo"),
            "jwks_uri": ctx.endpoint("certs"),
            "scopes_supported": sorted(SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": tokens.ASSERTION_ALGORITHMS,
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "nonce",
                "acr",
                "amr",
                *FACT_SCOPES,
            ],
            "acr_values_supported": ["aal3", "crl"],
            "authorization_response_iss_parameter_supported": True,
            "request_parameter_supported": False,
            "claims_parameter_supported": False,
            "sign_transactions_endpoint": ctx.base_url.rstrip("/") + "/api/sign-transactions",
        }

    def jwks(self, now: dt.datetime) -> dict[str, Any]:
        return self.ctx.keys.jwks(now)

    def rotate_key(self, now: dt.datetime) -> str:
        return self.ctx.keys.rotate(now)

    # -- authorization ---------------------------------------------------------------------
    def start(self, query: Mapping[str, Sequence[str]], now: dt.datetime) -> Started:
        return authorization.start(self.ctx, query, now)

    def approval_view(self, request_id: str, now: dt.datetime) -> dict[str, Any]:
        return authorization.approval_view(self.ctx, request_id, now)

    def approve(
        self,
        request_id: str,
        *,
        auth_signature: bytes,
        auth_certificate: bytes,
        sign: tuple[bytes, bytes] | None,
        now: dt.datetime,
    ) -> str:
        return authorization.approve(
            self.ctx, request_id, auth_signature=auth_signature,
            auth_certificate=auth_certificate, sign=sign, now=now,
        )  # fmt: skip

    def deny(self, request_id: str, now: dt.datetime) -> str:
        return authorization.deny(self.ctx, request_id, now)

    def web_step(self, request_id: str, cookie: str | None, now: dt.datetime) -> WebStep:
        return authorization.web_step(self.ctx, request_id, cookie, now)

    def browser_code(self, request_id: str, cookie: str | None, now: dt.datetime) -> str:
        return authorization.browser_code(self.ctx, request_id, cookie, now)

    # -- tokens ----------------------------------------------------------------------------
    def token(self, form: Mapping[str, Sequence[str]], now: dt.datetime) -> dict[str, Any]:
        return tokens.token(self.ctx, form, now)

    def userinfo(self, access_token: str | None, now: dt.datetime) -> dict[str, Any]:
        return tokens.userinfo(self.ctx, access_token, now)

    # -- sign transactions -----------------------------------------------------------------
    def create_sign_transaction(
        self, access_token: str | None, digest_type: str, digest: str, now: dt.datetime
    ) -> dict[str, Any]:
        grant = tokens.bearer(self.ctx, access_token, now)
        if grant.request_id is not None or "sign" not in grant.scopes:
            raise OAuthError(
                "insufficient_scope", "a client-credentials token with scope sign is needed",
                status=403,
            )  # fmt: skip
        row = transactions.create(self.ctx, grant.client_id, digest_type, digest, now)
        return {"id": row.id, "expires_at": row.expires_at.isoformat()}

    def sign_result(self, access_token: str | None, transaction_id: str, now: dt.datetime) -> str:
        grant = tokens.bearer(self.ctx, access_token, now)
        return transactions.result(
            self.ctx, transaction_id, client_id=grant.client_id, request_id=grant.request_id,
            now=now,
        )  # fmt: skip

    # -- housekeeping ----------------------------------------------------------------------
    def housekeeping(self, now: dt.datetime) -> int:
        """Drop what can no longer be used: expired jti, tokens, transactions, and requests
        (with the facts they hold) past the longest session."""
        now = now_s(now)
        config = self.ctx.config
        with self.ctx.ca.db.transaction() as s:
            return repo.housekeeping(s, now, config.session_max)
