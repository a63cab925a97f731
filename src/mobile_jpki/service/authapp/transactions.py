"""Sign transactions (AUTH-APP-FACTS.md "Signing"): the relying party, with a
client-credentials token, hands in the SHA-256 of its document — as the bare digest or as an
RFC 8017 §9.2 DigestInfo — then sends the person through an authorization request with scope
``sign`` and the transaction's id; after the code exchange it fetches the result with that
authorization's access token.

The signing key signs a DigestInfo either way (PKCS#1 v1.5, RFC 8017 §8.2: what the JPKI
applet computes), so the signature verifies with ``openssl dgst -sha256 -verify`` over the
document and with ``openssl pkeyutl -verify`` over the digest.

The result (*uncertain*: the reference's exact claims are not public) is a compact JWE
(RFC 7516) to the relying party's registered key — RSA-OAEP-256 for an RSA key,
ECDH-ES+A256KW for an EC key, content A256GCM — whose plaintext is a JWT (RFC 7519 §5.2,
``cty: JWT``) signed by the twin's key (in its JWKS) carrying the signature and the signing
certificate.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from joserfc import jwe, jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from mobile_jpki.pki.model import utc
from mobile_jpki.protocol.digest_info import digest_info
from mobile_jpki.protocol.digest_info import parse as parse_digest_info
from mobile_jpki.service.authapp.context import AuthAppContext, b64url, now_s
from mobile_jpki.service.authapp.errors import OAuthError, UnknownItem
from mobile_jpki.store.authapp import AuthAppSignTransaction, TransactionStatus

SHA256 = hashes.SHA256()
DIGEST_TYPES = ("sha256", "digestinfo")
JWE_ALGORITHMS = ["RSA-OAEP-256", "ECDH-ES+A256KW", "A256GCM"]


def to_be_signed(digest_type: str, value: str) -> bytes:
    """The DigestInfo DER for the RP's ``digest`` (standard base64, as in the operators'
    examples). :class:`OAuthError` ``invalid_request`` for anything else."""
    if digest_type not in DIGEST_TYPES:
        raise OAuthError("invalid_request", "digest_type must be sha256 or digestinfo")
    if not isinstance(value, str) or len(value) > 200:
        raise OAuthError("invalid_request", "digest must be base64")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise OAuthError("invalid_request", "digest must be standard base64") from None
    if digest_type == "sha256":
        if len(raw) != 32:
            raise OAuthError("invalid_request", "a sha256 digest has 32 bytes")
        return digest_info(SHA256, raw)
    parsed = parse_digest_info(raw)
    if parsed is None or parsed[0].name != SHA256.name:
        raise OAuthError("invalid_request", "digestinfo must be an RFC 8017 SHA-256 DigestInfo")
    return raw


def digest_of(der: bytes) -> bytes:
    parsed = parse_digest_info(der)
    if parsed is None:
        raise ValueError("not a DigestInfo")
    return parsed[1]


def create(
    ctx: AuthAppContext, client_id: str, digest_type: str, digest: str, now: dt.datetime
) -> AuthAppSignTransaction:
    tbs = to_be_signed(digest_type, digest)
    now = now_s(now)
    row = AuthAppSignTransaction(
        id=str(uuid.uuid4()),
        client_id=client_id,
        digest_type=digest_type,
        to_be_signed=tbs,
        status=TransactionStatus.CREATED.value,
        created_at=now,
        expires_at=now + ctx.config.transaction_ttl,
    )
    with ctx.ca.db.transaction() as s:
        s.add(row)
        s.flush()
        s.expunge(row)
    return row


def load_for_authorization(
    ctx: AuthAppContext, transaction_id: str, client_id: str, now: dt.datetime
) -> AuthAppSignTransaction:
    """A transaction this client made, not signed yet and not expired; else
    :class:`OAuthError` (the caller decides how it is answered)."""
    with ctx.ca.db.transaction(write=False) as s:
        row = s.get(AuthAppSignTransaction, transaction_id)
        if row is None or row.client_id != client_id:
            raise OAuthError("invalid_request", "unknown sign_transaction_id")
        if row.status != TransactionStatus.CREATED.value:
            raise OAuthError("invalid_request", "the sign transaction was already signed")
        if utc(now) >= utc(row.expires_at):
            raise OAuthError("invalid_request", "the sign transaction has expired")
        s.expunge(row)
        return row


def _encryption_key(client_jwks: dict[str, Any]) -> tuple[RSAKey | ECKey, str]:
    keys = KeySet.import_key_set(client_jwks)  # type: ignore[arg-type]
    for key in keys.keys:
        if key.get("use") not in (None, "enc"):
            continue
        if isinstance(key, RSAKey):
            return key, "RSA-OAEP-256"
        if isinstance(key, ECKey):
            return key, "ECDH-ES+A256KW"
    raise OAuthError("invalid_client", "the client has no key to encrypt the result to")


def result(
    ctx: AuthAppContext,
    transaction_id: str,
    *,
    client_id: str,
    request_id: str | None,
    now: dt.datetime,
) -> str:
    """The compact JWE of a signed transaction, for the access token of the authorization
    that signed it."""
    try:
        uuid.UUID(transaction_id)
    except ValueError:
        raise UnknownItem("sign transaction") from None
    with ctx.ca.db.transaction(write=False) as s:
        row = s.get(AuthAppSignTransaction, transaction_id)
        if row is None or row.client_id != client_id:
            raise UnknownItem("sign transaction")
        if row.status != TransactionStatus.SIGNED.value or row.request_id != request_id:
            raise OAuthError(
                "insufficient_scope", "this token's authorization did not sign it", status=403
            )
        s.expunge(row)
    client = ctx.clients.get(client_id)
    if client is None or row.signature is None or row.certificate_der is None:
        raise UnknownItem("sign transaction")
    signing_key = ctx.keys.signing_key(now)
    claims = {
        "iss": ctx.issuer,
        "aud": client_id,
        "iat": int(utc(now).timestamp()),
        "sign_transaction_id": row.id,
        "digest_type": row.digest_type,
        "digest": b64url(digest_of(row.to_be_signed)),
        "signature": b64url(row.signature),
        "certificate": b64url(row.certificate_der),
    }
    inner = jwt.encode({"alg": "RS256", "kid": signing_key.kid}, claims, signing_key)
    key, alg = _encryption_key(client.jwks)
    header = {"alg": alg, "enc": "A256GCM", "cty": "JWT"}
    if key.kid:
        header["kid"] = key.kid
    return jwe.encrypt_compact(header, inner, key, algorithms=JWE_ALGORITHMS)
