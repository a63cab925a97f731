"""Operators: their API keys and roles. The municipal office (residents, cards, 異動, holds at
the counter), the 24/365 hotline (holds only) and ``admin``."""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

from . import errors as E
from . import repo as Q
from .context import Context, sha256

ROLE_OFFICE, ROLE_HOTLINE, ROLE_ADMIN = "office", "hotline", "admin"
ROLES = (ROLE_OFFICE, ROLE_HOTLINE, ROLE_ADMIN)


@dataclass(frozen=True)
class OperatorRef:
    key_id: str
    role: str

    @property
    def actor(self) -> str:
        return f"operator:{self.key_id}"

    def require(self, *roles: str) -> None:
        """Least privilege: a hotline key only suspends; the municipal office also takes
        suspensions at its counter; ``admin`` can do everything."""
        if self.role not in (*roles, ROLE_ADMIN):
            raise E.Forbidden(f"this API key's role ({self.role}) cannot do that")


def create_api_key(ctx: Context, *, name: str, role: str, now: dt.datetime) -> tuple[str, str]:
    """A new operator key; returns (key id, the secret shown once)."""
    if role not in ROLES:
        raise E.RequestInvalid(f"role must be one of {', '.join(ROLES)}")
    key_id = ctx.rand(8).hex()
    secret = f"mjk_{key_id}_{ctx.rand(32).hex()}"
    with ctx.db.transaction() as s:
        Q.add_api_key(s, key_id=key_id, name=name, role=role, key_hash=sha256(secret), now=now)
        ctx.audit.record(
            s,
            at=now,
            actor="admin",
            action="portal.api-key.create",
            obj=f"api-key:{key_id}",
            payload={"role": role},
        )
    return key_id, secret


def authenticate_operator(ctx: Context, secret: str, *, now: dt.datetime) -> OperatorRef:
    digest = sha256(secret)
    with ctx.db.transaction(write=False) as s:
        row = Q.api_key_by_hash(s, digest)
        # The lookup is by hash; compare again in constant time so a timing channel on the
        # index lookup cannot reveal a prefix of a valid hash.
        if (
            row is None
            or row.revoked_at is not None
            or not hmac.compare_digest(row.key_hash, digest)
        ):
            raise E.Unauthenticated("unknown or revoked API key")
        return OperatorRef(row.id, row.role)
