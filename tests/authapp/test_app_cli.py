"""``phone authorize`` and ``card authorize`` (issue 18 §3 "On the command line", docs/cli.md
"Authorizing for a relying party") on the demo's data directory.

Two halves: the command's own behaviour (which URL, which secret when, exit codes) against a
scripted service that speaks the contract and checks the signatures made in the element; and
end to end through the real twin (a relying party registered, its PKCE authorization URL
opened, the redirect's code and state; a revoked phone refused; a sign transaction signed on
the card whose result verifies).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from typer.testing import CliRunner, Result

from mobile_jpki.cli import office
from mobile_jpki.cli.main import app
from mobile_jpki.clock import FixedClock
from mobile_jpki.demo.scenario import Demo
from mobile_jpki.signing.login import Challenge

Demo_ = tuple[Path, dict[str, str]]
BASE = "http://127.0.0.1:8000"
ISSUER = f"{BASE}/api/realms/main"
REDIRECT = "https://rp.example/callback"


class Quiet:
    def step(self, title: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    assert "Traceback" not in result.output
    return result


def last_line(result: Result) -> str:
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Demo_:
    data = tmp_path_factory.mktemp("authapp") / "data"
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    Demo(data, base_url=BASE, clock=clock, reporter=Quiet()).run()
    return data, json.loads((data / "export" / "secrets.json").read_text())


@pytest.fixture
def own_dir(demo_dir: Demo_, tmp_path: Path) -> Demo_:
    """A copy of the demo's data directory for a test that revokes."""
    data = tmp_path / "data"
    shutil.copytree(demo_dir[0], data)
    return data, demo_dir[1]


def phone(d: Demo_, url: str, *extra: str, code: int = 0) -> Result:
    return invoke("phone", "authorize", url, "--data-dir", str(d[0]), "--phone", "new-phone",
                  *extra, code=code)  # fmt: skip


def phone_secrets(d: Demo_) -> list[str]:
    return ["--pin", d[1]["new_phone_auth_pin"], "--sign-password",
            d[1]["new_phone_sign_password"]]  # fmt: skip


def card(d: Demo_, url: str, *extra: str, code: int = 0) -> Result:
    return invoke("card", "authorize", url, "--data-dir", str(d[0]), "--card", "card", *extra,
                  code=code)  # fmt: skip


def card_secrets(d: Demo_) -> list[str]:
    return ["--pin", d[1]["card_auth_pin"], "--sign-password", d[1]["card_sign_password"]]


def test_both_commands_are_listed() -> None:
    assert "authorize" in invoke("phone", "--help").output
    assert "authorize" in invoke("card", "--help").output


@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example/api/realms/main/protocol/openid-connect/auth?client_id=x",
        "http://127.0.0.1:9999/api/realms/main/protocol/openid-connect/auth",
        "https://127.0.0.1:8000/api/realms/main/protocol/openid-connect/auth",
        "mobile-jpki-auth://authorize?url=http%3A%2F%2Fevil.example%2Fdevice-approvals%2Fr",
        "not a url",
    ],
)
def test_a_url_of_another_service_is_a_usage_error(demo_dir: Demo_, url: str) -> None:
    for result in (phone(demo_dir, url, *phone_secrets(demo_dir), code=2),
                   card(demo_dir, url, *card_secrets(demo_dir), code=2)):  # fmt: skip
        assert result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
        assert result.stderr.startswith("error: ")


# -- against a scripted service ---------------------------------------------------------------
def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Scripted:
    """The contract's three endpoints, one pending request; checks each signature the way the
    twin does (PKCS#1 v1.5: SHA-256 over the challenge, or the transaction's digest)."""

    def __init__(
        self, scopes: list[str], *, digest: bytes | None = None, refuse: str | None = None
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        self.challenge = Challenge(
            secrets.token_bytes(32), ISSUER, now, now + dt.timedelta(minutes=2)
        )
        self.scopes = scopes
        self.digest = digest
        self.refuse = refuse
        self.posted: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/protocol/openid-connect/auth"):
            return httpx.Response(
                200, json={"request_id": "r1", "approval_url": f"{ISSUER}/device-approvals/r1"}
            )
        if path != "/api/realms/main/device-approvals/r1":
            return httpx.Response(404, json={"error": "not_found"})
        if request.method == "GET":
            tx = self.digest and {
                "id": "t1",
                "digest_type": "sha256",
                "digest": b64url(self.digest),
            }
            return httpx.Response(200, json={
                "request_id": "r1", "client_id": "RP1", "client_name": "Example RP",
                "scopes": self.scopes, "needs_sign_key": self.scopes != ["openid"],
                "challenge": self.challenge.to_dict(),
                "sign_transaction": tx or None,
                "expires_at": self.challenge.expires_at.isoformat(),
            })  # fmt: skip
        body = json.loads(request.content)
        self.posted.append(body)
        if body["decision"] == "deny":
            return self._redirect("denied", "error=access_denied")
        if self.refuse:
            return httpx.Response(403, json={
                "error": "access_denied", "error_description": self.refuse,
                "redirect_uri": f"{REDIRECT}?error=access_denied",
            })  # fmt: skip
        self._check(body["auth"], self.challenge.to_be_signed(), prehashed=False)
        if body["sign"] is not None:
            prehashed = self.digest is not None
            self._check(body["sign"], self.digest or self.challenge.to_be_signed(), prehashed)
        return self._redirect("approved", "code=c1&state=s1")

    @staticmethod
    def _redirect(status: str, query: str) -> httpx.Response:
        return httpx.Response(200, json={"status": status, "redirect_uri": f"{REDIRECT}?{query}"})

    @staticmethod
    def _check(part: dict[str, str], data: bytes, prehashed: bool) -> None:
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        key = x509.load_der_x509_certificate(unb64url(part["certificate"])).public_key()
        assert isinstance(key, rsa.RSAPublicKey)
        algorithm = Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
        key.verify(unb64url(part["signature"]), data, padding.PKCS1v15(), algorithm)


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Callable[[Scripted], None]:
    """Route both commands' connection to a scripted service."""

    def install(service: Scripted) -> None:
        @contextmanager
        def connect(data_dir: Path, base_url: str | None) -> Iterator[office.Service]:
            with httpx.Client(transport=httpx.MockTransport(service), base_url=BASE) as http:
                yield office.Service(data_dir, http, None, None, office.clock)

        monkeypatch.setattr("mobile_jpki.cli.phone.session.connect", connect)
        monkeypatch.setattr("mobile_jpki.cli.office.connect", connect)

    return install


AUTHORIZE = f"{ISSUER}/protocol/openid-connect/auth?client_id=RP1"


def cert_of(d: Demo_, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((d[0] / "export" / f"{name}.pem").read_bytes())


def test_login_only_needs_the_pin_alone(
    demo_dir: Demo_, scripted: Callable[[Scripted], None]
) -> None:
    service = Scripted(["openid"])
    scripted(service)
    result = phone(demo_dir, AUTHORIZE, "--pin", demo_dir[1]["new_phone_auth_pin"])
    assert last_line(result) == f"{REDIRECT}?code=c1&state=s1"
    assert "Example RP" in result.stdout
    (body,) = service.posted
    assert body["sign"] is None
    got = x509.load_der_x509_certificate(unb64url(body["auth"]["certificate"]))
    assert got == cert_of(demo_dir, "new-phone-auth")


def test_facts_on_the_phone_ask_the_signing_password(
    demo_dir: Demo_, scripted: Callable[[Scripted], None]
) -> None:
    service = Scripted(["openid", "name", "address", "birthdate", "gender"])
    scripted(service)
    pin = ["--pin", demo_dir[1]["new_phone_auth_pin"]]
    # Without a terminal and without the flag: a usage error, before any VERIFY or POST.
    missing = phone(demo_dir, AUTHORIZE, *pin, code=2)
    assert "--sign-password is required" in missing.stderr and not service.posted
    result = phone(demo_dir, AUTHORIZE, *phone_secrets(demo_dir))
    for item in ("氏名", "住所", "生年月日", "性別"):
        assert item in result.stdout
    assert "電子署名" not in result.stdout
    (body,) = service.posted
    got = x509.load_der_x509_certificate(unb64url(body["sign"]["certificate"]))
    assert got == cert_of(demo_dir, "new-phone-sign")


def test_a_sign_transaction_on_the_card(
    demo_dir: Demo_, scripted: Callable[[Scripted], None]
) -> None:
    digest = hashlib.sha256(b"a short text").digest()
    service = Scripted(["openid", "sign"], digest=digest)
    scripted(service)
    result = card(demo_dir, AUTHORIZE, *card_secrets(demo_dir))
    assert last_line(result) == f"{REDIRECT}?code=c1&state=s1"
    assert "電子署名" in result.stdout and digest.hex() in result.stdout
    (body,) = service.posted
    got = x509.load_der_x509_certificate(unb64url(body["sign"]["certificate"]))
    assert got == cert_of(demo_dir, "card-sign")


def test_wrong_pin_posts_nothing(demo_dir: Demo_, scripted: Callable[[Scripted], None]) -> None:
    service = Scripted(["openid"])
    scripted(service)
    pin = demo_dir[1]["new_phone_auth_pin"]
    wrong = f"{(int(pin) + 1) % 10000:04d}"
    result = phone(demo_dir, AUTHORIZE, "--pin", wrong, code=4)
    assert "wrong PIN" in result.stderr and REDIRECT not in result.stdout
    assert service.posted == []
    phone(demo_dir, AUTHORIZE, "--pin", pin)  # a right one resets the count
    # A malformed PIN costs no try: usage error.
    assert "4 digits" in phone(demo_dir, AUTHORIZE, "--pin", "12a4", code=2).stderr


def test_deny_asks_no_secret(demo_dir: Demo_, scripted: Callable[[Scripted], None]) -> None:
    service = Scripted(["openid", "name"])
    scripted(service)
    result = phone(demo_dir, AUTHORIZE, "--deny")
    assert last_line(result) == f"{REDIRECT}?error=access_denied"
    assert service.posted == [{"decision": "deny"}]


def test_a_refusal_is_one_line_exit_4(
    demo_dir: Demo_, scripted: Callable[[Scripted], None]
) -> None:
    scripted(Scripted(["openid"], refuse="the user-auth certificate is refused: revoked"))
    result = card(demo_dir, AUTHORIZE, *card_secrets(demo_dir), code=4)
    assert REDIRECT not in result.stdout
    assert result.stderr == "refused: the user-auth certificate is refused: revoked\n"


# -- end to end through the twin ----------------------------------------------------------------
def register_rp(data: Path) -> tuple[str, dict[str, Any]]:
    """A relying party registered as `rp register` does: (client_id, its private JWK)."""
    from mobile_jpki.service.authapp.clients import (
        ClientRegistry,
        generate_private_jwk,
        public_jwks,
    )
    from mobile_jpki.settings import Settings
    from mobile_jpki.store.db import Database

    private = generate_private_jwk()
    db = Database(Settings.load(data).effective_database_url)
    try:
        client = ClientRegistry(db).register(
            name="Example RP", redirect_uris=[REDIRECT], jwks=public_jwks(private),
            now=dt.datetime.now(dt.UTC),
        )  # fmt: skip
    finally:
        db.engine.dispose()
    return client.client_id, private


def authorization_url(client_id: str, scope: str, **extra: str) -> tuple[str, str]:
    """(URL, state) of an RP's request with fresh PKCE S256 values (RFC 7636 §4.2)."""
    verifier = secrets.token_urlsafe(48)
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(16)
    query = urlencode({
        "response_type": "code", "scope": scope, "client_id": client_id,
        "redirect_uri": REDIRECT, "state": state, "nonce": secrets.token_urlsafe(16),
        "code_challenge": challenge, "code_challenge_method": "S256", **extra,
    })  # fmt: skip
    return f"{ISSUER}/protocol/openid-connect/auth?{query}", state


def redirect_of(result: Result) -> dict[str, list[str]]:
    url = last_line(result)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == REDIRECT, url
    return parse_qs(parts.query)


def test_phone_then_card_log_in_with_facts(own_dir: Demo_) -> None:
    client_id, _ = register_rp(own_dir[0])
    for run, secrets_ in ((phone, phone_secrets), (card, card_secrets)):
        url, state = authorization_url(client_id, "openid name address birthdate gender")
        result = run(own_dir, url, *secrets_(own_dir))
        query = redirect_of(result)
        assert query["state"] == [state] and len(query["code"]) == 1, query
        assert query["iss"] == [ISSUER]
        assert "Example RP" in result.stdout


def test_deny_wrong_pin_and_a_revoked_phone(own_dir: Demo_) -> None:
    data, secrets_ = own_dir
    client_id, _ = register_rp(data)
    url, state = authorization_url(client_id, "openid")
    query = redirect_of(phone(own_dir, url, "--deny"))
    assert query["error"] == ["access_denied"] and query["state"] == [state]
    assert "code" not in query

    url, _ = authorization_url(client_id, "openid")
    pin = secrets_["new_phone_auth_pin"]
    wrong = phone(own_dir, url, "--pin", f"{(int(pin) + 1) % 10000:04d}", code=4)
    assert "wrong PIN" in wrong.stderr and REDIRECT not in wrong.stdout

    invoke("phone", "revoke", "--data-dir", str(data), "--phone", "new-phone", "--auth",
           "--auth-pin", pin)  # fmt: skip
    url, _ = authorization_url(client_id, "openid")
    refused = phone(own_dir, url, "--pin", pin, code=4)
    assert REDIRECT not in refused.stdout
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith("refused: ") and "revoked" in line


def client_assertion(client_id: str, private: dict[str, Any]) -> str:
    """private_key_jwt (RFC 7523 §2.2): what the RP's Authlib client sends."""
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {"iss": client_id, "sub": client_id, "aud": f"{ISSUER}/protocol/openid-connect/token",
              "jti": secrets.token_urlsafe(16), "iat": now, "exp": now + 60}  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": private["kid"]}, claims, RSAKey.import_key(private))


def test_a_sign_transaction_signed_on_the_card_verifies(own_dir: Demo_) -> None:
    """The RP's digest, signed by `card authorize` on the card, comes back in the result and
    verifies with the card's signing certificate (PKCS#1 v1.5 over the digest's DigestInfo)."""
    from joserfc import jwe, jws
    from joserfc.jwk import RSAKey

    from mobile_jpki.runtime import open_system
    from mobile_jpki.settings import Settings

    data = own_dir[0]
    client_id, private = register_rp(data)
    key = RSAKey.import_key(private)
    digest = hashlib.sha256("契約書の本文".encode()).digest()
    assertion = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    token_url = f"{ISSUER}/protocol/openid-connect/token"
    system = open_system(Settings.load(data), office.clock)
    try:
        with system.client() as http:
            granted = http.post(token_url, data={
                "grant_type": "client_credentials", "scope": "sign",
                "client_assertion": client_assertion(client_id, private), **assertion,
            })  # fmt: skip
            assert granted.status_code == 200, granted.text
            created = http.post(
                f"{BASE}/api/sign-transactions",
                json={"digest": base64.b64encode(digest).decode(), "digest_type": "sha256"},
                headers={"Authorization": f"Bearer {granted.json()['access_token']}"},
            )
            assert created.status_code == 201, created.text
            tx = created.json()["id"]

            verifier = secrets.token_urlsafe(48)
            url, state = authorization_url(client_id, "openid sign", sign_transaction_id=tx)
            query = parse_qs(urlsplit(url).query)
            query["code_challenge"] = [b64url(hashlib.sha256(verifier.encode()).digest())]
            url = f"{ISSUER}/protocol/openid-connect/auth?{urlencode(query, doseq=True)}"
            result = card(own_dir, url, *card_secrets(own_dir))
            assert "電子署名" in result.stdout and digest.hex() in result.stdout
            back = redirect_of(result)
            assert back["state"] == [state]

            tokens = http.post(token_url, data={
                "grant_type": "authorization_code", "code": back["code"][0],
                "redirect_uri": REDIRECT, "code_verifier": verifier,
                "client_assertion": client_assertion(client_id, private), **assertion,
            })  # fmt: skip
            assert tokens.status_code == 200, tokens.text
            fetched = http.get(
                f"{BASE}/api/sign-transactions/{tx}/result",
                headers={"Authorization": f"Bearer {tokens.json()['access_token']}"},
            )
            assert fetched.status_code == 200, fetched.text
    finally:
        system.close()
    inner = jwe.decrypt_compact(
        fetched.content, key, algorithms=["RSA-OAEP-256", "ECDH-ES+A256KW", "A256GCM"]
    ).plaintext
    assert inner is not None
    claims = json.loads(jws.extract_compact(inner).payload)
    assert unb64url(claims["digest"]) == digest
    signer = x509.load_der_x509_certificate(unb64url(claims["certificate"]))
    assert signer == cert_of(own_dir, "card-sign")
    Scripted._check(claims, digest, prehashed=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def served(own_dir: Demo_) -> Iterator[tuple[Demo_, str]]:
    """The copied data directory served over TCP (uvicorn in a thread) at its own base URL."""
    import uvicorn

    from mobile_jpki.runtime import open_system
    from mobile_jpki.settings import Settings

    base = f"http://127.0.0.1:{free_port()}"
    settings_file = own_dir[0] / "settings.json"
    settings = json.loads(settings_file.read_text())
    settings_file.write_text(json.dumps(settings | {"base_url": base}))
    system = open_system(Settings.load(own_dir[0]), office.clock)
    port = int(base.rsplit(":", 1)[1])
    server = uvicorn.Server(uvicorn.Config(system.app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield own_dir, base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        system.close()


def test_phone_authorize_over_tcp(served: tuple[Demo_, str]) -> None:
    """`--base-url`: the same request through a running server; the URL must name it."""
    d, base = served
    client_id, _ = register_rp(d[0])
    url, state = authorization_url(client_id, "openid name")
    url = url.replace(BASE, base)
    # A URL naming the old address (port 8000) is another service: refused before any request.
    old, _ = authorization_url(client_id, "openid")
    phone(d, old, *phone_secrets(d), "--base-url", base, code=2)
    query = redirect_of(phone(d, url, *phone_secrets(d), "--base-url", base))
    assert query["state"] == [state] and query["iss"] == [f"{base}/api/realms/main"]
