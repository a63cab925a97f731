"""The example relying party (examples/authapp_rp) against the デジタル認証アプリ twin, both in
this process: a person logs in with the demo's phone and signs a short text, and the RP's page
shows the verified claims, then the signer and "verified" (issue 18 §4).

Transport wiring, kept to three clients:

- the browser: ``in_process_client`` into the RP's app and another into the twin's app (one
  cookie jar per origin, as a browser keeps);
- the RP's own outgoing HTTP (discovery, token, userinfo, JWKS, sign transactions): httpx's
  ``ASGITransport`` into the twin's app, handed to the RP as ``RpSettings.transport``;
- the phone: the app's library (``mobile_jpki.phone.authapp``) over a third client into the
  twin, opening the web step's app link; its keys in the emulated secure element of
  ``new-phone``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import importlib.util
import json
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from joserfc import jwe, jwt
from joserfc.jwk import KeySet, RSAKey

from mobile_jpki.clock import FixedClock, SystemClock
from mobile_jpki.demo.scenario import Demo
from mobile_jpki.phone import authapp
from mobile_jpki.phone.transport import in_process_client
from mobile_jpki.pki.model import Hierarchy
from mobile_jpki.reader.commands import JpkiClient
from mobile_jpki.reader.connection import InProcessConnection
from mobile_jpki.reader.emulated import DeviceKind, open_device
from mobile_jpki.reader.key import ApduRSAPrivateKey
from mobile_jpki.runtime import System, open_system
from mobile_jpki.service.authapp.clients import (
    ClientRegistry,
    generate_private_jwk,
    public_jwks,
)
from mobile_jpki.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "authapp_rp" / "app.py"
RP = "http://127.0.0.1:9000"
TWIN = "http://127.0.0.1:8000/"

pytestmark = [
    pytest.mark.slow,
    # Authlib 1.9 warns that it falls back to httpx when httpx2 is absent (not installed).
    pytest.mark.filterwarnings("ignore:The httpx module is deprecated:DeprecationWarning"),
]


class Quiet:
    def step(self, title: str) -> None:
        pass

    def detail(self, text: str) -> None:
        pass


def _load_example() -> ModuleType:
    # A unique module name: the file is app.py, a name other examples may use too.
    spec = importlib.util.spec_from_file_location("authapp_rp_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    data = tmp_path_factory.mktemp("authapp-rp") / "data"
    clock = FixedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    Demo(data, base_url="http://127.0.0.1:8000", clock=clock, reporter=Quiet()).run()
    return data, json.loads((data / "export" / "secrets.json").read_text())


@pytest.fixture
def twin(demo: tuple[Path, dict[str, str]]) -> Iterator[System]:
    # The wall clock: the RP's Authlib stamps its client assertions and checks the ID token
    # with time.time().
    system = open_system(Settings.load(demo[0]), SystemClock())
    try:
        yield system
    finally:
        system.close()


@dataclass
class Phone:
    """new-phone's secure element, both secrets verified: what the app signs with."""

    auth_key: rsa.RSAPrivateKey
    auth_cert: x509.Certificate
    sign_key: rsa.RSAPrivateKey
    sign_cert: x509.Certificate


@pytest.fixture
def phone(demo: tuple[Path, dict[str, str]]) -> Phone:
    data, secrets = demo
    element = JpkiClient(InProcessConnection(open_device(data, DeviceKind.PHONE, "new-phone")))
    element.select_ap()
    element.verify(Hierarchy.AUTH, secrets["new_phone_auth_pin"])
    element.verify(Hierarchy.SIGN, secrets["new_phone_sign_password"])
    certs = {h: element.read_certificate(h) for h in (Hierarchy.AUTH, Hierarchy.SIGN)}
    keys = {}
    for h, cert in certs.items():
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        keys[h] = ApduRSAPrivateKey(element, h, public)
    return Phone(keys[Hierarchy.AUTH], certs[Hierarchy.AUTH], keys[Hierarchy.SIGN],
                 certs[Hierarchy.SIGN])  # fmt: skip


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def answer_on_phone(http: httpx.Client, app_link: str, phone: Phone, *, deny: bool = False) -> str:
    """What the app does with the web step's app link (mobile_jpki.phone.authapp): show the
    request, then approve with the element's keys (or deny); the redirect URL it returns."""
    view = authapp.open_authorization(http, app_link)
    assert view.client_name == "Example RP"
    if deny:
        return authapp.deny(http, view)
    return authapp.approve(http, view, auth_key=phone.auth_key, auth_cert=phone.auth_cert,
                           sign_key=phone.sign_key, sign_cert=phone.sign_cert)  # fmt: skip


APP_LINK = re.compile(r'href="(mobile-jpki-auth://authorize\?[^"]+)"')


def through_the_twin(
    browser_rp: httpx.Client, browser_twin: httpx.Client, phone_http: httpx.Client,
    start: httpx.Response, phone: Phone, *, deny: bool = False,
) -> httpx.Response:  # fmt: skip
    """From the RP's redirect to the authorization endpoint back to the RP's callback: the
    browser meets the web step, the phone approves the request the app link names, the web
    step sends the browser back; the RP's answer to its callback."""
    assert start.status_code in (302, 303), start.text
    authorize = start.headers["location"]
    assert authorize.startswith(
        "http://127.0.0.1:8000/api/realms/main/protocol/openid-connect/auth?"
    )
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
    step = browser_twin.get(authorize)
    assert step.status_code == 303, step.text
    web_step = urljoin(authorize, step.headers["location"])
    page = browser_twin.get(web_step)
    assert page.status_code == 200
    link = APP_LINK.search(page.text)
    assert link, page.text

    redirect = answer_on_phone(phone_http, html.unescape(link.group(1)), phone, deny=deny)

    # The web step, refreshed, sends the browser on (through its own hops) to the RP.
    location = web_step
    for _ in range(3):
        back = browser_twin.get(location)
        assert back.status_code in (302, 303), back.text
        location = urljoin(location, back.headers["location"])
        if not location.startswith(TWIN):
            break
    # The browser carries its own code (the twin's web step hands it one); same RP, same state.
    ours, phones = parse_qs(urlsplit(location).query), parse_qs(urlsplit(redirect).query)
    assert location.startswith(RP + "/callback?") and redirect.startswith(RP + "/callback?")
    assert set(ours) >= ({"error"} if deny else {"code", "iss"}) | {"state"}
    assert ours["state"] == phones["state"]
    return browser_rp.get(location)


@dataclass
class Rp:
    app: Any
    client_id: str
    issuer: str


@pytest.fixture
def rp(twin: System) -> Rp:
    """The example, registered with the twin (as `rp register --generate-key` would), its
    outgoing HTTP routed into the twin's app."""
    example = _load_example()
    private = generate_private_jwk()
    client = ClientRegistry(twin.ca.db).register(
        name="Example RP", redirect_uris=[RP + "/callback"], jwks=public_jwks(private),
        now=twin.clock.now(),
    )  # fmt: skip
    issuer = twin.settings.base_url.rstrip("/") + "/api/realms/main"
    sign_ca = x509.load_pem_x509_certificates(
        (twin.settings.data_dir / "export" / "sign-ca.pem").read_bytes()
    )
    app = example.create_app(
        example.RpSettings(
            issuer=issuer,
            client_id=client.client_id,
            private_jwk=private,
            base_url=RP,
            sign_ca=tuple(sign_ca),
            transport=httpx.ASGITransport(app=twin.app),
        )
    )
    return Rp(app, client.client_id, issuer)


def test_the_example_rp_logs_in_and_verifies_a_signature(
    twin: System, rp: Rp, phone: Phone
) -> None:
    rp_app, issuer = rp.app, rp.issuer
    with (
        in_process_client(rp_app, base_url=RP) as browser_rp,
        twin.client() as browser_twin,
        twin.client() as phone_http,
    ):
        first = browser_rp.get("/")
        assert first.status_code == 200 and "Log in" in first.text
        assert "script" not in first.text

        done = through_the_twin(browser_rp, browser_twin, phone_http, browser_rp.get("/login"),
                                phone)  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == "/", done.text
        page = browser_rp.get("/").text
        assert "Error" not in page, page
        assert "ID token (verified)" in page
        assert html.escape(issuer) in page and rp.client_id in page
        for claim in ("sub", "nonce", "name", "address", "birthdate", "gender"):
            assert f"<th>{claim}</th>" in page, claim  # the ID token's, then userinfo's

        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf
        text = "I agree to the terms. 署名します。"
        start = browser_rp.post("/sign", data={"csrf": csrf.group(1), "text": text})
        done = through_the_twin(browser_rp, browser_twin, phone_http, start, phone)
        assert done.status_code == 303 and done.headers["location"] == "/", done.text
        page = browser_rp.get("/").text
        assert "Error" not in page, page
        assert "<strong>verified</strong>" in page
        assert html.escape(phone.sign_cert.subject.rfc4514_string()) in page
        assert html.escape(text) in page
        assert "chain to AUTHAPP_SIGN_CA</th><td>checked" in page
        assert "<th>birthdate</th>" in page  # the login's claims stay on the page


def test_a_denial_comes_back_to_the_rp_as_access_denied(twin: System, rp: Rp, phone: Phone) -> None:
    with (
        in_process_client(rp.app, base_url=RP) as browser_rp,
        twin.client() as browser_twin,
        twin.client() as phone_http,
    ):
        start = browser_rp.get("/login")
        done = through_the_twin(browser_rp, browser_twin, phone_http, start, phone, deny=True)
        assert done.status_code == 303
        page = browser_rp.get("/").text
        assert "Error: authorization failed: access_denied" in page
        assert "ID token (verified)" not in page


def test_a_result_for_another_text_does_not_verify(rp: Rp) -> None:
    """The RP's check of a sign result, alone: a JWE whose JWS the issuer signed, over a
    signature of another text, is refused; so is one signed by a key not in the JWKS."""
    example = _load_example()
    issuer_key = RSAKey.generate_key(2048, private=True, auto_kid=True)
    rp_private = generate_private_jwk()
    rp_key = RSAKey.import_key(rp_private)
    signer = rsa.generate_private_key(65537, 2048)
    cert = _self_signed(signer)

    def result(text: str, key: RSAKey = issuer_key) -> str:
        claims = {
            "iss": rp.issuer, "aud": rp.client_id, "iat": int(time.time()),
            "sign_transaction_id": "t1", "digest_type": "sha256",
            "digest": _b64url(hashlib.sha256(text.encode()).digest()),
            "signature": _b64url(signer.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())),
            "certificate": _b64url(cert.public_bytes(Encoding.DER)),
        }  # fmt: skip
        inner = jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)
        header = {"alg": "RSA-OAEP-256", "enc": "A256GCM", "cty": "JWT"}
        return jwe.encrypt_compact(header, inner, rp_key, algorithms=example.JWE_ALGORITHMS)

    def check(compact: str, text: str) -> dict[str, Any]:
        out: dict[str, Any] = example.verify_sign_result(
            compact, rp_key=rp_key, issuer_jwks=KeySet([issuer_key]).as_dict(private=False),
            issuer=rp.issuer, client_id=rp.client_id, transaction_id="t1", text=text,
        )  # fmt: skip
        return out

    assert check(result("yes"), "yes")["subject"] == cert.subject.rfc4514_string()
    with pytest.raises(example.SignResultError, match="digest"):
        check(result("no"), "yes")
    stranger = RSAKey.generate_key(2048, private=True, auto_kid=True)
    with pytest.raises(example.SignResultError, match="issuer's signature"):
        check(result("yes", stranger), "yes")


def _self_signed(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "signer")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
