"""Fixtures for the CA service: a fresh database per test, pooled RSA keys (generation is the
slow part of a CA set-up, and tests do not care which key they get)."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import text

from mobile_jpki.clock import FixedClock
from mobile_jpki.pki.model import CertKind
from mobile_jpki.service.ca import CertificateAuthority, IssueOrder
from mobile_jpki.settings import Settings
from mobile_jpki.store.db import Database

_POOL = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(12)]


class PooledKeyStore:
    """In-memory KeyStore handing out pre-generated keys (the in-tree fake)."""

    def __init__(self) -> None:
        self._keys: dict[str, rsa.RSAPrivateKey] = {}
        self._next = itertools.cycle(_POOL)

    def generate(self, name: str) -> tuple[rsa.RSAPrivateKey, str]:
        key = next(self._next)
        self._keys[f"mem:{name}"] = key
        return key, f"mem:{name}"

    def load(self, key_ref: str) -> rsa.RSAPrivateKey:
        return self._keys[key_ref]


def _postgres_url() -> str | None:
    return os.environ.get("MOBILE_JPKI_TEST_POSTGRES_URL")


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'ca.db'}")
    else:
        url = _postgres_url()
        if not url:
            pytest.skip("MOBILE_JPKI_TEST_POSTGRES_URL not set")
        db = Database(url)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, shard_count=4)


@pytest.fixture
def ca(database: Database, settings: Settings, clock: FixedClock) -> CertificateAuthority:
    authority = CertificateAuthority(database, settings, PooledKeyStore())
    authority.init_hierarchies(clock.now())
    return authority


def auth_order(now: dt.datetime, subject: str = "ABCDEF0123456789") -> IssueOrder:
    """A phone user-authentication certificate order (no personal data needed)."""
    return IssueOrder(
        kind=CertKind.PHONE_AUTH,
        subject_public_key=_POOL[-1].public_key(),
        subject_id=subject,
        not_before=now,
        not_after=now + dt.timedelta(days=365),
    )


@pytest.fixture
def order() -> Callable[..., IssueOrder]:
    return auth_order
