"""Fixtures for the PKI tests: keys (generated once per session: RSA-2048 generation dominates
test time otherwise), the two test roots and sample basic four facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mobile_jpki.pki.identity import BasicFourFacts, Locality, Sex
from mobile_jpki.pki.issuance import build_root
from mobile_jpki.pki.model import CaIdentity, Hierarchy, PublicUrls

ROOT_NOT_BEFORE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
ROOT_NOT_AFTER = dt.datetime(2036, 1, 1, 14, 59, 59, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def key_pool() -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(65537, 2048) for _ in range(6)]


@pytest.fixture(scope="session")
def new_key(key_pool: list[rsa.RSAPrivateKey]) -> Callable[[], rsa.RSAPrivateKey]:
    """Subject keys cycle through a pool (keys 2.. ; 0 and 1 are the roots')."""

    def pick() -> Iterator[rsa.RSAPrivateKey]:
        while True:
            yield from key_pool[2:]

    it = pick()
    return lambda: next(it)


@pytest.fixture(scope="session")
def urls() -> PublicUrls:
    return PublicUrls("https://jpki.example.test/")


def make_ca(
    hierarchy: Hierarchy, generation: int, key: rsa.RSAPrivateKey, urls: PublicUrls
) -> CaIdentity:
    cert = build_root(
        hierarchy=hierarchy,
        generation=generation,
        key=key,
        not_before=ROOT_NOT_BEFORE,
        not_after=ROOT_NOT_AFTER,
        urls=urls,
    )
    return CaIdentity(CaIdentity.make_id(hierarchy, generation), hierarchy, generation, cert, key)


@pytest.fixture(scope="session")
def ca_factory(urls: PublicUrls) -> Callable[[Hierarchy, int, rsa.RSAPrivateKey], CaIdentity]:
    """Build another root (e.g. a second generation) on the session's URLs."""
    return lambda hierarchy, generation, key: make_ca(hierarchy, generation, key, urls)


@pytest.fixture(scope="session")
def sign_ca(key_pool: list[rsa.RSAPrivateKey], urls: PublicUrls) -> CaIdentity:
    return make_ca(Hierarchy.SIGN, 1, key_pool[0], urls)


@pytest.fixture(scope="session")
def auth_ca(key_pool: list[rsa.RSAPrivateKey], urls: PublicUrls) -> CaIdentity:
    return make_ca(Hierarchy.AUTH, 1, key_pool[1], urls)


@pytest.fixture
def facts() -> BasicFourFacts:
    return BasicFourFacts.create(
        family_name="公的",
        given_name="髙子",
        sex=Sex.FEMALE,
        date_of_birth=dt.date(1989, 1, 8),
        address="東京都千代田区霞が関二丁目1番2号",
        name_substitute_flags="00010",
    )


@pytest.fixture
def locality() -> Locality:
    return Locality("Tokyo", "Chiyoda-ku")
