"""The twin's own keys, kept in the database so every ``serve`` host signs with the same:

- the ID-token and result signing keys (RS256, RSA 2048; RFC 7518 §3.3), published at
  ``jwks_uri``. Rotation (``mobile-jpki rp rotate-key``) retires the signing key and makes a
  new one; a retired key stays in the JWKS for :data:`RETIRED_GRACE`, so every token it signed
  still verifies until it expires (OIDC Core §10.1.1);
- the pairwise secret from which ``sub`` is derived (:func:`pairwise_sub`).

Made on first use, not at start-up: a data directory that never serves a relying party never
makes them. The private key is encrypted with the CA passphrase (PKCS#8, RFC 5958) when the
data directory has one, as the shared keys are (service/shared_keys.py).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey
from sqlalchemy.exc import IntegrityError

from mobile_jpki.pki.model import utc
from mobile_jpki.service.authapp import repo
from mobile_jpki.settings import Settings, SettingsError
from mobile_jpki.store.authapp import AuthAppKey, AuthAppSecret
from mobile_jpki.store.db import Database

ALG = "RS256"
RETIRED_GRACE = dt.timedelta(days=1)
PAIRWISE = "pairwise-sub"


def passphrase_of(settings: Settings) -> Callable[[], bytes | None]:
    """The CA passphrase of ``settings`` when it has one, asked only when called."""

    def passphrase() -> bytes | None:
        try:
            return settings.ca_passphrase()
        except SettingsError:
            return None

    return passphrase


class TwinKeys:
    """``passphrase`` returns the CA passphrase, or ``None`` when there is none."""

    def __init__(self, db: Database, passphrase: Callable[[], bytes | None]) -> None:
        self.db = db
        self._passphrase = passphrase
        self._loaded: dict[str, RSAKey] = {}
        self._secrets: dict[str, bytes] = {}  # never change once made: read once

    # -- signing keys ----------------------------------------------------------------------
    def _rows(self) -> list[AuthAppKey]:
        with self.db.transaction(write=False) as s:
            return repo.keys(s)

    def _key(self, row: AuthAppKey) -> RSAKey:
        cached = self._loaded.get(row.kid)
        if cached is not None:
            return cached
        password = self._passphrase() if row.sealed else None
        private = serialization.load_pem_private_key(row.private_pem, password)
        if not isinstance(private, rsa.RSAPrivateKey):
            raise TypeError(f"twin key {row.kid} is not RSA")
        key = RSAKey.import_key(private, parameters={"kid": row.kid, "alg": ALG, "use": "sig"})
        self._loaded[row.kid] = key
        return key

    def _make(self, now: dt.datetime) -> AuthAppKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        passphrase = self._passphrase()
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        pem = private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )
        # kid: the RFC 7638 thumbprint, so two hosts never give two keys one kid.
        kid = RSAKey.import_key(private.public_key()).thumbprint()
        return AuthAppKey(
            kid=kid,
            alg=ALG,
            private_pem=pem,
            sealed=bool(passphrase),
            created_at=utc(now),
            retired_at=None,
        )

    def signing_key(self, now: dt.datetime) -> RSAKey:
        """The newest key not retired; made when there is none."""
        live = [r for r in self._rows() if r.retired_at is None]
        if not live:
            row = self._make(now)
            with self.db.transaction() as s:
                s.add(row)
            live = [row]
        return self._key(live[-1])

    def rotate(self, now: dt.datetime) -> str:
        """Retire every live key and make a new one; returns the new ``kid``."""
        row = self._make(now)
        with self.db.transaction() as s:
            repo.retire_live_keys(s, utc(now))
            s.add(row)
        return row.kid

    def jwks(self, now: dt.datetime) -> dict[str, Any]:
        """The public keys a relying party may meet: live ones, and retired ones within the
        grace period. Makes the first key if there is none yet (discovery before any login)."""
        self.signing_key(now)
        horizon = utc(now) - RETIRED_GRACE
        keys = [
            dict(self._key(r).as_dict(private=False))
            for r in self._rows()
            if r.retired_at is None or utc(r.retired_at) > horizon
        ]
        return {"keys": keys}

    # -- pairwise subject ------------------------------------------------------------------
    def secret(self, name: str, now: dt.datetime) -> bytes:
        cached = self._secrets.get(name)
        if cached is None:
            cached = self._secrets[name] = self._secret(name, now)
        return cached

    def _secret(self, name: str, now: dt.datetime) -> bytes:
        with self.db.transaction(write=False) as s:
            row = s.get(AuthAppSecret, name)
            if row is not None:
                return bytes(row.value)
        value = secrets.token_bytes(32)
        try:
            with self.db.transaction() as s:
                s.add(AuthAppSecret(name=name, value=value, created_at=utc(now)))
        except IntegrityError:  # another host made it first: use theirs
            with self.db.transaction(write=False) as s:
                found = s.get(AuthAppSecret, name)
                if found is None:
                    raise
                return bytes(found.value)
        return value


def pairwise_sub(secret: bytes, client_id: str, person_id: str) -> str:
    """``sub`` for one relying party and one person (OIDC Core §8.1, pairwise identifiers):
    base64url(HMAC-SHA-256(secret, client_id ‖ 0x00 ‖ person_id)), 43 characters.

    ``person_id`` is the resident's record in the portal, which the card and phone
    certificates of one person all point to: ``sub`` survives a model change (new phone
    certificates), a card renewal and a certificate renewal, and differs between relying
    parties, which cannot link their users by it."""
    mac = hmac.new(secret, client_id.encode() + b"\x00" + person_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
