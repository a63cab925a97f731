"""Fixtures of the デジタル認証アプリ twin's tests: the demo's data directory (a card and two
phones, the new one registered), the in-process system serving it, a relying party registered
with a fresh key, and the emulated elements' keys to answer as the app does."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from sqlalchemy import text

from mobile_jpki.clock import FixedClock
from mobile_jpki.demo.scenario import Demo
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import open_card, open_phone
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.runtime import System, open_system
from mobile_jpki.service.authapp.clients import generate_private_jwk, public_jwks
from mobile_jpki.settings import Settings
from mobile_jpki.signing.login import Challenge, sign_login
from mobile_jpki.store.db import Database

BASE = "http://127.0.0.1:8000"
REDIRECT = "http://127.0.0.1:9000/callback"


class Quiet:
    def step(self, title: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    data = tmp_path_factory.mktemp("authapp") / "data"
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    Demo(data, base_url=BASE, clock=clock, reporter=Quiet()).run()
    return data, json.loads((data / "export" / "secrets.json").read_text())


@dataclass
class Twin:
    data: Path
    secrets: dict[str, str]
    system: System
    http: httpx.Client
    client_id: str
    private_jwk: dict[str, Any]

    def element(self, kind: str, ident: str) -> JpkiClient:
        opener = open_phone if kind == "phone" else open_card
        client = JpkiClient(InProcessConnection(opener(self.data, ident, clock=self.system.clock)))
        client.select_ap()
        return client

    def auth_url(self, **overrides: str | None) -> tuple[str, dict[str, str]]:
        """An authorization URL as an RP builds it; ``overrides`` replace (``None`` drops) a
        parameter. Returns the URL and the parameters (with the PKCE verifier under
        ``_verifier``)."""
        verifier, challenge = pkce()
        params: dict[str, str | None] = {
            "response_type": "code",
            "scope": "openid",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "state": secrets.token_urlsafe(16),
            "nonce": secrets.token_urlsafe(16),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        kept = {k: v for k, v in params.items() if v is not None}
        url = f"{BASE}/api/realms/main/protocol/openid-connect/auth?{urlencode(kept)}"
        return url, {**kept, "_verifier": verifier}

    def open_request(self, url: str) -> dict[str, Any]:
        """What the app does with the RP's URL: the request's id, then what it shows."""
        parts = urlsplit(url)
        started = self.http.get(
            f"{parts.path}?{parts.query}", headers={"Accept": "application/json"}
        )
        assert started.status_code == 200, started.text
        view = self.http.get(urlsplit(started.json()["approval_url"]).path)
        assert view.status_code == 200, view.text
        body: dict[str, Any] = view.json()
        return body

    def answer(
        self,
        view: dict[str, Any],
        *,
        kind: str = "phone",
        ident: str = "new-phone",
        pin: str | None = None,
        password: str | None = None,
    ) -> httpx.Response:
        """Sign as the app does (contract: docs/auth-app.md) with the element's real keys."""
        prefix = "new_phone" if ident == "new-phone" else "old_phone" if kind == "phone" else "card"
        element = self.element(kind, ident)
        element.verify(Hierarchy.AUTH, pin or self.secrets[f"{prefix}_auth_pin"])
        auth_cert = element.read_certificate(Hierarchy.AUTH)
        auth_key = ApduRSAPrivateKey(element, Hierarchy.AUTH, _rsa(auth_cert))
        challenge = Challenge.from_dict(view["challenge"])
        login = sign_login(challenge, auth_key, auth_cert)
        body: dict[str, Any] = {
            "decision": "approve",
            "auth": {"signature": _b64(login.signature), "certificate": _b64(login.certificate)},
        }
        if view["needs_sign_key"]:
            element.verify(Hierarchy.SIGN, password or self.secrets[f"{prefix}_sign_password"])
            sign_cert = element.read_certificate(Hierarchy.SIGN)
            sign_key = ApduRSAPrivateKey(element, Hierarchy.SIGN, _rsa(sign_cert))
            tx = view["sign_transaction"]
            if tx is not None:
                digest = base64.urlsafe_b64decode(tx["digest"] + "==")
                signature = sign_key.sign(
                    digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
                )
            else:
                signature = sign_login(challenge, sign_key, sign_cert).signature
            der = sign_cert.public_bytes(serialization.Encoding.DER)
            body["sign"] = {"signature": _b64(signature), "certificate": _b64(der)}
        return self.http.post(f"/api/realms/main/device-approvals/{view['request_id']}", json=body)


def _serve(data: Path, demo_secrets: dict[str, str]) -> Iterator[Twin]:
    system = open_system(Settings.load(data), FixedClock(dt.datetime.now(dt.UTC)))
    jwk = generate_private_jwk()
    client = system.app.state.authapp.clients.register(
        name="Example RP", redirect_uris=[REDIRECT], jwks=public_jwks(jwk), now=system.clock.now()
    )
    http = system.client()
    try:
        yield Twin(data, demo_secrets, system, http, client.client_id, jwk)
    finally:
        http.close()
        system.close()


@pytest.fixture
def twin(demo_template: tuple[Path, dict[str, str]], tmp_path: Path) -> Iterator[Twin]:
    """A copy of the demo's data directory (tests revoke and hold), served in process, with
    one relying party registered."""
    data = tmp_path / "data"
    shutil.copytree(demo_template[0], data)
    yield from _serve(data, demo_template[1])


@pytest.fixture
def postgres_twin(tmp_path: Path) -> Iterator[Twin]:
    """The same on PostgreSQL: the demo run afresh on an emptied schema."""
    url = os.environ.get("MOBILE_JPKI_TEST_POSTGRES_URL")
    if not url:
        pytest.skip("MOBILE_JPKI_TEST_POSTGRES_URL not set")
    db = Database(url)
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    db.dispose()
    data = tmp_path / "pg"
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    Demo(data, base_url=BASE, clock=clock, reporter=Quiet(), database_url=url).run()
    yield from _serve(data, json.loads((data / "export" / "secrets.json").read_text()))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_twin(request: pytest.FixtureRequest) -> Twin:
    """``twin`` on SQLite, then on PostgreSQL (issue 18: the flow passes on both)."""
    name = "twin" if request.param == "sqlite" else "postgres_twin"
    found: Twin = request.getfixturevalue(name)
    return found


def _rsa(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
