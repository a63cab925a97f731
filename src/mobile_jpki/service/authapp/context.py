"""What the twin's use cases share: the CA (its database, roots and OCSP responder), the
relying-party registry, the twin's keys, the issuer URL and the lifetimes."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from mobile_jpki.service.authapp.clients import ClientRegistry
from mobile_jpki.service.authapp.keys import TwinKeys
from mobile_jpki.service.ca import CertificateAuthority

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
REALM_PATH = "/api/realms/main"  # the sandbox's Keycloak-style realm (AUTH-APP-FACTS.md)


@dataclass(frozen=True)
class AuthAppConfig:
    """Lifetimes (the reference's values are not public where marked *uncertain*)."""

    request_ttl: dt.timedelta = dt.timedelta(minutes=10)  # web step + app (uncertain)
    code_ttl: dt.timedelta = dt.timedelta(seconds=60)  # RFC 6749 §4.1.2: 10 min at most
    access_ttl: dt.timedelta = dt.timedelta(minutes=5)  # Keycloak's default (uncertain)
    refresh_ttl: dt.timedelta = dt.timedelta(minutes=30)  # Keycloak's default (uncertain)
    session_max: dt.timedelta = dt.timedelta(hours=10)  # refresh never outlives this
    id_token_ttl: dt.timedelta = dt.timedelta(minutes=5)
    transaction_ttl: dt.timedelta = dt.timedelta(minutes=10)  # uncertain
    # A client assertion lives at most this long (exp - iat; "a short exp").
    assertion_max_lifetime: dt.timedelta = dt.timedelta(minutes=5)
    leeway: dt.timedelta = dt.timedelta(seconds=5)
    acr: str = "aal3"  # the reference's acr_values example (uncertain)
    # Requests waiting for the app, per client: the authorization endpoint is open to anyone
    # who knows a client_id and its redirect URI, and each request is a row until it expires.
    max_pending_per_client: int = 256


@dataclass
class AuthAppContext:
    ca: CertificateAuthority
    base_url: str
    keys: TwinKeys
    config: AuthAppConfig = field(default_factory=AuthAppConfig)

    def __post_init__(self) -> None:
        self.clients = ClientRegistry(self.ca.db)

    @property
    def issuer(self) -> str:
        return self.base_url.rstrip("/") + REALM_PATH

    def endpoint(self, name: str) -> str:
        return f"{self.issuer}/protocol/openid-connect/{name}"

    @property
    def token_endpoint(self) -> str:
        return self.endpoint("token")


def now_s(now: dt.datetime) -> dt.datetime:
    """Whole seconds: what the database keeps, so a value read back is the value signed."""
    return now.replace(microsecond=0)


def new_secret() -> tuple[str, str]:
    """A fresh 256-bit bearer value (code, token, cookie) and the SHA-256 hex stored for it."""
    value = secrets.token_urlsafe(32)
    return value, digest(value)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2): ValueError otherwise."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query (RFC 6749 §4.1.2: keep its own query)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"
