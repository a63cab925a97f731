"""The app's side of the デジタル認証アプリ twin (phone/authapp.py) against a scripted service
(httpx.MockTransport speaking the contract): which URLs it follows, what it signs and sends,
and how the service's answers come back (a redirect, or AuthAppRefused)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.x509.oid import NameOID

from mobile_jpki.phone.authapp import (
    AuthAppRefused,
    MalformedAnswer,
    NotThisService,
    approve,
    check_same_service,
    deny,
    open_authorization,
    requested_items,
    sign_answer,
)
from mobile_jpki.signing.login import Challenge

BASE = "http://127.0.0.1:8000"
ISSUER = f"{BASE}/api/realms/main"
AUTH_URL = (
    f"{ISSUER}/protocol/openid-connect/auth?response_type=code&scope=openid+name&client_id=RP1"
    "&redirect_uri=https%3A%2F%2Frp.example%2Fcb&state=s1&nonce=n1&code_challenge=x"
    "&code_challenge_method=S256"
)
APPROVAL = f"{ISSUER}/device-approvals/req-1"
NOW = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
CHALLENGE = Challenge(bytes(range(32)), ISSUER, NOW, NOW + dt.timedelta(minutes=5))
DIGEST = hashlib.sha256(b"the contract").digest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_and_cert(name: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW)
        .not_valid_after(NOW + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert


AUTH = key_and_cert("auth")
SIGN = key_and_cert("sign")


def view_json(*, scopes: list[str], transaction: bool = False) -> dict[str, Any]:
    return {
        "request_id": "req-1",
        "client_id": "RP1",
        "client_name": "Example RP",
        "scopes": scopes,
        "needs_sign_key": any(s != "openid" for s in scopes),
        "challenge": CHALLENGE.to_dict(),
        "sign_transaction": (
            {"id": "tx-1", "digest_type": "sha256", "digest": b64url(DIGEST)}
            if transaction
            else None
        ),
        "expires_at": (NOW + dt.timedelta(minutes=5)).isoformat(),
    }


class Service:
    """The contract's endpoints, scripted; ``posted`` keeps each POST body."""

    def __init__(self, view: dict[str, Any], on_post: Callable[[dict[str, Any]], httpx.Response]):
        self.view = view
        self.on_post = on_post
        self.seen: list[httpx.Request] = []
        self.posted: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        path = request.url.path
        if request.method == "GET" and path.endswith("/protocol/openid-connect/auth"):
            if request.headers.get("accept") != "application/json":
                return httpx.Response(303, headers={"Location": f"{ISSUER}/web-step/req-1"})
            return httpx.Response(200, json={"request_id": "req-1", "approval_url": APPROVAL})
        if path == "/api/realms/main/device-approvals/req-1":
            if request.method == "GET":
                return httpx.Response(200, json=self.view)
            body = json.loads(request.content)
            self.posted.append(body)
            return self.on_post(body)
        return httpx.Response(404, json={"error": "not_found"})

    def client(self, base_url: str = BASE) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self), base_url=base_url)


def approved(body: dict[str, Any]) -> httpx.Response:
    if body["decision"] == "deny":
        return httpx.Response(
            200,
            json={"status": "denied", "redirect_uri": "https://rp.example/cb?error=access_denied"},
        )
    return httpx.Response(
        200, json={"status": "approved", "redirect_uri": "https://rp.example/cb?code=c&state=s1"}
    )


def verify_pkcs1(cert: x509.Certificate, signature: str, data: bytes, prehashed: bool) -> None:
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    algorithm: hashes.HashAlgorithm | utils.Prehashed = (
        utils.Prehashed(hashes.SHA256()) if prehashed else hashes.SHA256()
    )
    public.verify(unb64url(signature), data, padding.PKCS1v15(), algorithm)


# -- which URLs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("base", "url"),
    [
        (BASE, AUTH_URL),
        ("http://127.0.0.1:8000/", f"{BASE}/x"),
        ("http://Portal.Test", "http://portal.test:80/x"),  # default port, host case
        ("https://portal.test", "https://portal.test:443/x"),
    ],
)
def test_same_service(base: str, url: str) -> None:
    with httpx.Client(base_url=base) as http:
        assert check_same_service(http, url).path.startswith("/")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8001/api/realms/main/protocol/openid-connect/auth",  # port
        "http://localhost:8000/api/realms/main/protocol/openid-connect/auth",  # host
        "https://127.0.0.1:8000/api/realms/main/protocol/openid-connect/auth",  # scheme
        "/api/realms/main/protocol/openid-connect/auth",  # not absolute
        "ftp://127.0.0.1:8000/x",
        "not a url",
        "",
        "http://[::1",
    ],
)
def test_another_service_or_no_url_is_refused_before_any_request(url: str) -> None:
    service = Service(view_json(scopes=["openid"]), approved)
    with service.client() as http, pytest.raises(NotThisService) as info:
        open_authorization(http, url)
    assert service.seen == []
    assert "\n" not in str(info.value)


def test_open_authorization_as_the_app() -> None:
    service = Service(view_json(scopes=["openid", "name", "address"]), approved)
    with service.client() as http:
        view = open_authorization(http, AUTH_URL)
    # The authorization endpoint was asked as the app (JSON, not the web step's redirect),
    # with the RP's query intact, then the approval it named.
    first, second = service.seen
    assert first.headers["accept"] == "application/json"
    assert str(first.url) == AUTH_URL
    assert str(second.url) == APPROVAL
    assert (view.request_id, view.client_id, view.client_name) == ("req-1", "RP1", "Example RP")
    assert view.scopes == ("openid", "name", "address")
    assert view.needs_sign_key and view.sign_transaction is None
    assert view.challenge == CHALLENGE
    assert view.approval_url == APPROVAL
    assert requested_items(view) == ["氏名", "住所"]


def test_the_web_steps_app_link_and_the_approval_url_open_the_same_request() -> None:
    service = Service(view_json(scopes=["openid"]), approved)
    link = f"mobile-jpki-auth://authorize?{httpx.QueryParams({'url': APPROVAL})}"
    with service.client() as http:
        assert open_authorization(http, link).request_id == "req-1"
        assert open_authorization(http, APPROVAL).request_id == "req-1"
    assert [str(r.url) for r in service.seen] == [APPROVAL, APPROVAL]


def test_an_app_link_to_another_service_is_refused() -> None:
    service = Service(view_json(scopes=["openid"]), approved)
    link = "mobile-jpki-auth://authorize?url=http%3A%2F%2Fevil.example%2Fdevice-approvals%2Fx"
    with service.client() as http, pytest.raises(NotThisService):
        open_authorization(http, link)
    assert service.seen == []


# -- what it signs --------------------------------------------------------------------------------
def test_login_only_signs_with_the_auth_key_alone() -> None:
    service = Service(view_json(scopes=["openid"]), approved)
    with service.client() as http:
        view = open_authorization(http, AUTH_URL)
        assert not view.needs_sign_key
        redirect = approve(http, view, auth_key=AUTH[0], auth_cert=AUTH[1])
    assert redirect == "https://rp.example/cb?code=c&state=s1"
    (body,) = service.posted
    assert body["decision"] == "approve" and body["sign"] is None
    assert unb64url(body["auth"]["certificate"]) == AUTH[1].public_bytes(serialization.Encoding.DER)
    verify_pkcs1(AUTH[1], body["auth"]["signature"], CHALLENGE.to_be_signed(), prehashed=False)


def test_facts_are_given_with_the_signing_key_over_the_same_challenge() -> None:
    service = Service(view_json(scopes=["openid", "name", "birthdate", "gender"]), approved)
    with service.client() as http:
        view = open_authorization(http, AUTH_URL)
        approve(http, view, auth_key=AUTH[0], auth_cert=AUTH[1], sign_key=SIGN[0],
                sign_cert=SIGN[1])  # fmt: skip
    (body,) = service.posted
    tbs = CHALLENGE.to_be_signed()
    verify_pkcs1(SIGN[1], body["sign"]["signature"], tbs, prehashed=False)
    verify_pkcs1(AUTH[1], body["auth"]["signature"], tbs, prehashed=False)
    with pytest.raises(InvalidSignature):  # each with its own key
        verify_pkcs1(AUTH[1], body["sign"]["signature"], tbs, prehashed=False)


def test_a_sign_transaction_is_signed_over_its_digest() -> None:
    service = Service(view_json(scopes=["openid", "sign"], transaction=True), approved)
    with service.client() as http:
        view = open_authorization(http, AUTH_URL)
        assert view.sign_transaction is not None
        assert view.sign_transaction.digest == DIGEST
        approve(http, view, auth_key=AUTH[0], auth_cert=AUTH[1], sign_key=SIGN[0],
                sign_cert=SIGN[1])  # fmt: skip
    (body,) = service.posted
    # What openssl's `pkeyutl -verify -pkeyopt digest:sha256` checks: PKCS#1 v1.5 over the
    # DigestInfo of exactly the RP's digest.
    verify_pkcs1(SIGN[1], body["sign"]["signature"], DIGEST, prehashed=True)
    verify_pkcs1(AUTH[1], body["auth"]["signature"], CHALLENGE.to_be_signed(), prehashed=False)


def test_a_digestinfo_passed_through_is_signed_as_the_same_digest() -> None:
    view = view_json(scopes=["openid", "sign"], transaction=True)
    prefix = bytes.fromhex("3031300d060960864801650304020105000420")
    view["sign_transaction"].update(digest_type="digestinfo", digest=b64url(prefix + DIGEST))
    service = Service(view, approved)
    with service.client() as http:
        opened = open_authorization(http, AUTH_URL)
    assert opened.sign_transaction is not None and opened.sign_transaction.digest == DIGEST


def test_the_signing_key_is_required_when_the_request_needs_it() -> None:
    service = Service(view_json(scopes=["openid", "address"]), approved)
    with service.client() as http:
        view = open_authorization(http, AUTH_URL)
        with pytest.raises(ValueError, match="signing key"):
            sign_answer(view, auth_key=AUTH[0], auth_cert=AUTH[1])
    assert service.posted == []


def test_deny_posts_the_decision_only() -> None:
    service = Service(view_json(scopes=["openid", "name"]), approved)
    with service.client() as http:
        view = open_authorization(http, AUTH_URL)
        assert deny(http, view) == "https://rp.example/cb?error=access_denied"
    assert service.posted == [{"decision": "deny"}]


# -- the service's refusals ---------------------------------------------------------------------
def test_a_failed_check_is_refused_with_the_error_redirect() -> None:
    def refuse(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(403, json={
            "error": "access_denied", "error_description": "the certificate is revoked",
            "redirect_uri": "https://rp.example/cb?error=access_denied&state=s1",
        })  # fmt: skip

    service = Service(view_json(scopes=["openid"]), refuse)
    with service.client() as http:
        view = open_authorization(http, AUTH_URL)
        with pytest.raises(AuthAppRefused) as info:
            approve(http, view, auth_key=AUTH[0], auth_cert=AUTH[1])
    assert info.value.error == "access_denied"
    assert str(info.value) == "the certificate is revoked"
    assert info.value.redirect_uri == "https://rp.example/cb?error=access_denied&state=s1"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"error": "invalid_client", "error_description": "unknown client"}, "invalid_client"),
        (404, {"error": "not_found"}, "not_found"),
        (409, {"error": "request_finished"}, "request_finished"),
        (410, {"error": "expired"}, "expired"),
    ],
)
def test_refusals_of_the_request(status: int, body: dict[str, Any], error: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body)

    with (
        httpx.Client(transport=httpx.MockTransport(handler), base_url=BASE) as http,
        pytest.raises(AuthAppRefused) as info,
    ):
        open_authorization(http, AUTH_URL)
    assert info.value.error == error
    assert str(info.value)  # a line to show even without a description


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="Internal Server Error"),
        httpx.Response(404, json={"detail": "Not Found"}),  # no OAuth error: not the twin
        httpx.Response(200, json=["not", "an", "object"]),
        httpx.Response(200, json={"request_id": "r"}),  # no approval_url
        httpx.Response(200, json={"approval_url": "http://elsewhere.example/device-approvals/r"}),
    ],
)
def test_answers_the_app_does_not_understand(response: httpx.Response) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return response

    with (
        httpx.Client(transport=httpx.MockTransport(handler), base_url=BASE) as http,
        pytest.raises(MalformedAnswer),
    ):
        open_authorization(http, AUTH_URL)


@pytest.mark.parametrize(
    "change",
    [
        {"scopes": "openid name"},
        {"challenge": {"nonce": "AA"}},
        {"expires_at": "soon"},
        {"sign_transaction": {"id": "t", "digest_type": "sha256", "digest": "AAAA"}},
        {"client_name": None} | {"request_id": None} | {"needs_sign_key": True, "challenge": None},
    ],
)
def test_a_malformed_approval_view(change: dict[str, Any]) -> None:
    service = Service(view_json(scopes=["openid"]) | change, approved)
    with service.client() as http, pytest.raises(MalformedAnswer):
        open_authorization(http, AUTH_URL)
