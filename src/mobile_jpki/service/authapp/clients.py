"""Relying parties registered with the twin (``mobile-jpki rp register``): a name, the exact
redirect URIs, and the public JWK Set the client's ``private_key_jwt`` assertions are checked
against (RFC 7523 §2.2, OIDC Core §9).

The Digital Agency issues client ids of 1-255 characters of ``[0-9a-zA-Z]`` (AUTH-APP-FACTS.md,
example ``RP00000001``); the twin makes 20 random characters of that set, so ids from two data
directories never collide by chance.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from mobile_jpki.service.authapp import repo
from mobile_jpki.store.authapp import AuthAppClient
from mobile_jpki.store.db import Database

CLIENT_ID_ALPHABET = string.ascii_letters + string.digits
CLIENT_ID_LENGTH = 20
MAX_NAME = 255
MAX_URI = 255  # the authorization request's redirect_uri: 1-255 (API reference)
MAX_REDIRECT_URIS = 16
MAX_KEYS = 8
MIN_RSA_BITS = 2048
EC_CURVES = frozenset({"P-256", "P-384", "P-521"})


class ClientError(ValueError):
    """A registration that cannot be accepted; the message says why, in one line."""


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    jwks: dict[str, Any]
    created_at: dt.datetime

    def key_set(self) -> KeySet:
        return KeySet.import_key_set(self.jwks)  # type: ignore[arg-type]

    def key_ids(self) -> tuple[str, ...]:
        return tuple(str(k.get("kid", "")) for k in self.jwks.get("keys", []))


def check_redirect_uri(uri: str) -> str:
    """An absolute http(s) URI without a fragment (RFC 6749 §3.1.2), at most 255 characters.
    Plain http is accepted: the twin runs on a developer's machine (a real service would
    require https except for loopback)."""
    if not uri or len(uri) > MAX_URI:
        raise ClientError(f"redirect URI must have 1 to {MAX_URI} characters")
    if any(c.isspace() or ord(c) < 0x21 or ord(c) > 0x7E for c in uri):
        raise ClientError(f"redirect URI {uri!r} has spaces or characters outside ASCII")
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ClientError(f"redirect URI {uri!r} is not an absolute http(s) URI")
    if parts.fragment or uri.endswith("#"):
        raise ClientError(f"redirect URI {uri!r} must not have a fragment (RFC 6749 §3.1.2)")
    return uri


def check_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """A public JWK Set with 1-8 RSA (≥ 2048 bits) or EC (P-256/384/521) keys, each with a
    distinct ``kid``. Private members are refused: the twin must never hold an RP's key."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not keys:
        raise ClientError('the JWKS must be a JSON object with a non-empty "keys" list')
    if len(keys) > MAX_KEYS:
        raise ClientError(f"the JWKS has {len(keys)} keys; at most {MAX_KEYS}")
    seen: set[str] = set()
    for item in keys:
        if not isinstance(item, dict):
            raise ClientError("every JWKS entry must be a JSON object")
        try:
            key = KeySet.import_key_set({"keys": [item]}).keys[0]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ClientError(f"a JWKS key does not load: {exc}") from None
        if key.is_private or "d" in item:
            raise ClientError("the JWKS holds a private key; register the public part only")
        if isinstance(key, RSAKey):
            bits = key.raw_value.key_size
            if bits < MIN_RSA_BITS:
                raise ClientError(f"an RSA key of {bits} bits; at least {MIN_RSA_BITS}")
        elif isinstance(key, ECKey):
            if item.get("crv") not in EC_CURVES:
                raise ClientError(f"EC curve {item.get('crv')!r} is not P-256, P-384 or P-521")
        else:
            raise ClientError(f"key type {item.get('kty')!r}: only RSA and EC keys are accepted")
        kid = item.get("kid")
        if not isinstance(kid, str) or not kid:
            raise ClientError('every JWKS key needs a "kid"')
        if kid in seen:
            raise ClientError(f"two JWKS keys share the kid {kid!r}")
        seen.add(kid)
    return {"keys": [dict(k) for k in keys]}


def generate_private_jwk(kind: str = "RSA") -> dict[str, Any]:
    """A fresh private JWK (RSA 2048 or EC P-256) whose ``kid`` is its RFC 7638 thumbprint."""
    if kind == "RSA":
        key: RSAKey | ECKey = RSAKey.generate_key(2048, private=True, auto_kid=True)
    elif kind == "EC":
        key = ECKey.generate_key("P-256", private=True, auto_kid=True)
    else:
        raise ClientError(f"key kind {kind!r}: RSA or EC")
    jwk = dict(key.as_dict(private=True))
    jwk["alg"] = "RS256" if kind == "RSA" else "ES256"
    return jwk


def public_jwks(private_jwk: Mapping[str, Any]) -> dict[str, Any]:
    """The public JWK Set to register for ``private_jwk``."""
    key = KeySet.import_key_set({"keys": [dict(private_jwk)]}).keys[0]
    public = dict(key.as_dict(private=False))
    for member in ("alg", "use", "kid"):
        if member in private_jwk:
            public[member] = private_jwk[member]
    return {"keys": [public]}


def _client(row: AuthAppClient) -> RegisteredClient:
    return RegisteredClient(
        row.client_id,
        row.name,
        tuple(json.loads(row.redirect_uris)),
        json.loads(row.jwks),
        row.created_at,
    )


class ClientRegistry:
    """The relying parties of one database (every host sees the same)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def register(
        self,
        *,
        name: str,
        redirect_uris: Sequence[str],
        jwks: Mapping[str, Any],
        now: dt.datetime,
    ) -> RegisteredClient:
        name = name.strip()
        if not name or len(name) > MAX_NAME or any(ord(c) < 0x20 for c in name):
            raise ClientError(f"the name must have 1 to {MAX_NAME} printable characters")
        if not redirect_uris:
            raise ClientError("at least one redirect URI is needed")
        if len(redirect_uris) > MAX_REDIRECT_URIS:
            raise ClientError(f"at most {MAX_REDIRECT_URIS} redirect URIs")
        uris = tuple(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
        keys = check_jwks(jwks)
        client_id = "".join(secrets.choice(CLIENT_ID_ALPHABET) for _ in range(CLIENT_ID_LENGTH))
        row = AuthAppClient(
            client_id=client_id,
            name=name,
            redirect_uris=json.dumps(list(uris)),
            jwks=json.dumps(keys, sort_keys=True),
            created_at=now,
        )
        with self.db.transaction() as s:
            s.add(row)
        return RegisteredClient(client_id, name, uris, keys, now)

    def list(self) -> list[RegisteredClient]:
        with self.db.transaction(write=False) as s:
            return [_client(r) for r in repo.clients(s)]

    def get(self, client_id: str) -> RegisteredClient | None:
        with self.db.transaction(write=False) as s:
            row = s.get(AuthAppClient, client_id)
            return _client(row) if row is not None else None

    def remove(self, client_id: str) -> bool:
        """Remove the client and everything it holds: pending requests and their codes,
        tokens (so its access tokens stop working at once), used jti, sign transactions."""
        with self.db.transaction() as s:
            row = s.get(AuthAppClient, client_id)
            if row is None:
                return False
            repo.delete_client_data(s, client_id)
            s.delete(row)
        return True
