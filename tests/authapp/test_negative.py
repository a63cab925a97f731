"""Each refusal of issue 18's list gives the right OAuth error and issues nothing: wrong
verifier, reused code, reused jti, expired assertion; redirect_uri not registered, unknown
client; a revoked phone, a held card; a sign scope without a transaction — and a few more the
reference's parameter rules imply."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography import x509
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import func, select

from mobile_jpki.clock import advance_clock
from mobile_jpki.pki.revocation import Reason
from mobile_jpki.store.authapp import AuthAppRequest, AuthAppToken

from .conftest import BASE, REDIRECT, Twin, query_of

TOKEN = f"{BASE}/api/realms/main/protocol/openid-connect/token"
USERINFO = "/api/realms/main/protocol/openid-connect/userinfo"


def assertion(twin: Twin, **claims: Any) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": twin.client_id, "sub": twin.client_id, "aud": TOKEN, "iat": now,
        "exp": now + 60, "jti": secrets.token_urlsafe(16),
    }  # fmt: skip
    body.update(claims)
    key = RSAKey.import_key(twin.private_jwk)
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def token_request(twin: Twin, form: dict[str, str], **claims: Any) -> httpx.Response:
    data = {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(twin, **claims),
        **form,
    }
    return twin.http.post("/api/realms/main/protocol/openid-connect/token", data=data)


def approved_code(twin: Twin, **overrides: str | None) -> tuple[str, dict[str, str]]:
    url, params = twin.auth_url(**overrides)
    view = twin.open_request(url)
    answer = twin.answer(view)
    assert answer.status_code == 200, answer.text
    return query_of(answer.json()["redirect_uri"])["code"], params


def exchange(twin: Twin, code: str, verifier: str, **claims: Any) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": verifier}  # fmt: skip
    return token_request(twin, form, **claims)


def tokens_issued(twin: Twin) -> int:
    with twin.system.ca.db.transaction(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(AuthAppToken)) or 0)


def requests_stored(twin: Twin) -> int:
    with twin.system.ca.db.transaction(write=False) as s:
        return int(s.scalar(select(func.count()).select_from(AuthAppRequest)) or 0)


def start(twin: Twin, url: str, *, json: bool = True) -> httpx.Response:
    parts = urlsplit(url)
    headers = {"Accept": "application/json"} if json else {"Accept": "text/html"}
    return twin.http.get(f"{parts.path}?{parts.query}", headers=headers)


# -- the token endpoint ----------------------------------------------------------------------
def test_wrong_verifier_is_invalid_grant_and_burns_the_code(twin: Twin) -> None:
    code, params = approved_code(twin)
    wrong = exchange(twin, code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert "code_verifier" in wrong.json()["error_description"]
    right = exchange(twin, code, params["_verifier"])
    assert right.status_code == 400 and right.json()["error"] == "invalid_grant"
    assert tokens_issued(twin) == 0


def test_reused_code_is_refused_and_revokes_the_first_tokens(twin: Twin) -> None:
    code, params = approved_code(twin)
    first = exchange(twin, code, params["_verifier"])
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    access = first.json()["access_token"]
    assert twin.http.get(USERINFO, headers={"Authorization": f"Bearer {access}"}).status_code == 200
    again = exchange(twin, code, params["_verifier"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    revoked = twin.http.get(USERINFO, headers={"Authorization": f"Bearer {access}"})
    assert revoked.status_code == 401 and revoked.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in revoked.headers["www-authenticate"]


def test_reused_jti_is_invalid_client(twin: Twin) -> None:
    code, params = approved_code(twin)
    jti = secrets.token_urlsafe(16)
    first = token_request(twin, {"grant_type": "client_credentials", "scope": "sign"}, jti=jti)
    assert first.status_code == 200, first.text
    issued = tokens_issued(twin)
    replay = exchange(twin, code, params["_verifier"], jti=jti)
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    assert "jti" in replay.json()["error_description"]
    assert tokens_issued(twin) == issued


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"exp": int(time.time()) - 60, "iat": int(time.time()) - 120}, "expired"),
        ({"exp": int(time.time()) + 3600}, "too long"),
        ({"aud": f"{BASE}/api/realms/main"}, "aud"),
        ({"sub": "someoneelse"}, "sub"),
        ({"jti": None}, "jti"),
    ],
    ids=["expired", "exp-an-hour", "aud-not-token-endpoint", "sub-not-client", "no-jti"],
)
def test_bad_assertions_are_invalid_client(twin: Twin, claims: dict[str, Any], why: str) -> None:
    code, params = approved_code(twin)
    clean = {k: v for k, v in claims.items() if v is not None}
    if claims.get("jti", "") is None:
        # joserfc drops nothing by itself: send an assertion without the claim.
        key = RSAKey.import_key(twin.private_jwk)
        now = int(time.time())
        body = {"iss": twin.client_id, "sub": twin.client_id, "aud": TOKEN, "iat": now,
                "exp": now + 60}  # fmt: skip
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
                "code_verifier": params["_verifier"],
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": jwt.encode({"alg": "RS256"}, body, key)}  # fmt: skip
        answer = twin.http.post("/api/realms/main/protocol/openid-connect/token", data=form)
    else:
        answer = exchange(twin, code, params["_verifier"], **clean)
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_client"
    assert tokens_issued(twin) == 0


def test_an_assertion_signed_by_another_key_is_invalid_client(twin: Twin) -> None:
    code, params = approved_code(twin)
    other = RSAKey.generate_key(2048, private=True)
    now = int(time.time())
    body = {"iss": twin.client_id, "sub": twin.client_id, "aud": TOKEN, "iat": now,
            "exp": now + 60, "jti": "x1"}  # fmt: skip
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT,
            "code_verifier": params["_verifier"],
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": jwt.encode({"alg": "RS256"}, body, other)}  # fmt: skip
    answer = twin.http.post("/api/realms/main/protocol/openid-connect/token", data=form)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"


def test_client_secret_and_unknown_grants_are_refused(twin: Twin) -> None:
    answer = twin.http.post(
        "/api/realms/main/protocol/openid-connect/token",
        data={"grant_type": "client_credentials", "client_id": twin.client_id,
              "client_secret": "x"},
    )  # fmt: skip
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    password = token_request(twin, {"grant_type": "password", "username": "a", "password": "b"})
    assert password.status_code == 400
    assert password.json()["error"] == "unsupported_grant_type"
    json_body = twin.http.post("/api/realms/main/protocol/openid-connect/token", json={})
    assert json_body.status_code == 400 and json_body.json()["error"] == "invalid_request"


# -- the authorization endpoint --------------------------------------------------------------
def test_unregistered_redirect_uri_is_never_redirected_to(twin: Twin) -> None:
    url, _ = twin.auth_url(redirect_uri="https://evil.example/cb")
    as_json = start(twin, url)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    browser = start(twin, url, json=False)
    assert browser.status_code == 400
    assert "location" not in browser.headers
    assert "evil.example" not in browser.text
    assert requests_stored(twin) == 0


def test_unknown_client_is_refused_without_redirect(twin: Twin) -> None:
    url, _ = twin.auth_url(client_id="RP00000001")
    answer = start(twin, url)
    assert answer.status_code == 400 and answer.json()["error"] == "unauthorized_client"
    bad_chars, _ = twin.auth_url(client_id="RP-0001")
    assert start(twin, bad_chars).json()["error"] == "invalid_request"
    assert requests_stored(twin) == 0


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"scope": "openid sign"}, "invalid_request"),  # a sign scope without a transaction
        ({"state": None}, "invalid_request"),
        ({"nonce": None}, "invalid_request"),
        ({"state": "x" * 256}, "invalid_request"),
        ({"nonce": "\u3042"}, "invalid_request"),  # not VSCHAR
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge": "a+b"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "name"}, "invalid_scope"),
        ({"scope": "openid email"}, "invalid_scope"),
        ({"sign_transaction_id": "not-a-uuid", "scope": "openid sign"}, "invalid_request"),
        (
            {"sign_transaction_id": "9b2f4f5e-3a8e-4a57-9f0e-2a1d6c1e8a11", "scope": "openid sign"},
            "invalid_request",
        ),
    ],
    ids=[
        "sign-without-transaction",
        "no-state",
        "no-nonce",
        "long-state",
        "nonce-not-vschar",
        "plain-pkce",
        "no-challenge",
        "challenge-charset",
        "implicit",
        "no-openid",
        "unknown-scope",
        "transaction-not-uuid",
        "unknown-transaction",
    ],
)
def test_parameter_errors_go_back_to_the_redirect_uri(
    twin: Twin, overrides: dict[str, str | None], error: str
) -> None:
    url, params = twin.auth_url(**overrides)
    browser = start(twin, url, json=False)
    assert browser.status_code == 302
    location = browser.headers["location"]
    assert location.startswith(REDIRECT + "?")
    query = query_of(location)
    assert query["error"] == error
    assert "code" not in query
    if overrides.get("state", "") is not None and "state" not in overrides:
        assert query["state"] == params["state"]
    app = start(twin, url)
    assert app.status_code == 400 and app.json()["error"] == error
    assert requests_stored(twin) == 0


# -- the app's answer ------------------------------------------------------------------------
def _serial(twin: Twin, name: str) -> int:
    pem = (twin.data / "export" / name).read_bytes()
    return x509.load_pem_x509_certificate(pem).serial_number


def test_a_revoked_phone_is_access_denied_and_nothing_is_issued(twin: Twin) -> None:
    twin.system.ca.revoke(_serial(twin, "new-phone-auth.pem"), Reason.KEY_COMPROMISE,
                          twin.system.clock.now())  # fmt: skip
    url, params = twin.auth_url()
    view = twin.open_request(url)
    answer = twin.answer(view)
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert body["error"] == "access_denied" and "revoked" in body["error_description"]
    query = query_of(body["redirect_uri"])
    assert query["error"] == "access_denied" and query["state"] == params["state"]
    assert "code" not in query
    # The request is finished: a second try (a good phone now) cannot reopen it.
    again = twin.http.get(f"/api/realms/main/device-approvals/{view['request_id']}")
    assert again.status_code == 409 and again.json()["error"] == "request_finished"
    assert tokens_issued(twin) == 0


def test_a_held_card_is_access_denied(twin: Twin) -> None:
    """A card under suspension (一時利用停止): its certificates are held (certificateHold)."""
    now = twin.system.clock.now()
    twin.system.ca.hold(_serial(twin, "card-auth.pem"), now)
    url, _ = twin.auth_url()
    answer = twin.answer(twin.open_request(url), kind="card", ident="card")
    assert answer.status_code == 403 and answer.json()["error"] == "access_denied"
    assert "code" not in query_of(answer.json()["redirect_uri"])
    twin.system.ca.release_hold(_serial(twin, "card-auth.pem"), now)
    url, _ = twin.auth_url()
    released = twin.answer(twin.open_request(url), kind="card", ident="card")
    assert released.status_code == 200, released.text


def test_a_held_signing_certificate_refuses_facts_but_not_login(twin: Twin) -> None:
    now = twin.system.clock.now()
    twin.system.ca.hold(_serial(twin, "new-phone-sign.pem"), now)
    url, _ = twin.auth_url(scope="openid name")
    facts = twin.answer(twin.open_request(url))
    assert facts.status_code == 403 and "signing" in facts.json()["error_description"]
    url, _ = twin.auth_url(scope="openid")
    assert twin.answer(twin.open_request(url)).status_code == 200


def test_a_signature_over_another_challenge_is_access_denied(twin: Twin) -> None:
    url, _ = twin.auth_url()
    view = twin.open_request(url)
    other_url, _ = twin.auth_url()
    other = twin.open_request(other_url)
    forged = dict(view)
    forged["challenge"] = other["challenge"]  # the app signs the wrong challenge
    answer = twin.answer(forged)
    assert answer.status_code == 403 and "challenge" in answer.json()["error_description"]


def test_malformed_answers_are_invalid_request_not_a_500(twin: Twin) -> None:
    url, _ = twin.auth_url()
    view = twin.open_request(url)
    bad = twin.http.post(f"/api/realms/main/device-approvals/{view['request_id']}",
                         json={"decision": "approve", "auth": {"signature": "!!",
                                                               "certificate": "AA"}})  # fmt: skip
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
    extra = twin.http.post(f"/api/realms/main/device-approvals/{view['request_id']}",
                           json={"decision": "approve", "surprise": 1})  # fmt: skip
    assert extra.status_code == 400
    unknown = twin.http.get("/api/realms/main/device-approvals/nope")
    assert unknown.status_code == 404


def test_an_expired_request_cannot_be_approved(twin: Twin) -> None:
    url, _ = twin.auth_url()
    view = twin.open_request(url)
    advance_clock(twin.system.clock, dt.timedelta(minutes=11))
    answer = twin.http.get(f"/api/realms/main/device-approvals/{view['request_id']}")
    assert answer.status_code == 410 and answer.json()["error"] == "expired"


def test_housekeeping_forgets_what_can_no_longer_be_used(twin: Twin) -> None:
    """Codes, tokens, jti and requests (with the facts they hold) go once past use."""
    code, params = approved_code(twin, scope="openid name")
    assert exchange(twin, code, params["_verifier"]).status_code == 200
    svc = twin.system.app.state.authapp
    now = twin.system.clock.now()
    assert svc.housekeeping(now) == 0
    assert requests_stored(twin) == 1 and tokens_issued(twin) == 2
    assert svc.housekeeping(now + dt.timedelta(hours=11)) >= 4  # request, 2 tokens, jti
    assert requests_stored(twin) == 0 and tokens_issued(twin) == 0


def test_waiting_requests_are_bounded_per_client(twin: Twin) -> None:
    """Anyone can open the authorization endpoint; each request is a row until it expires."""
    svc = twin.system.app.state.authapp
    svc.ctx.config = dataclasses.replace(svc.ctx.config, max_pending_per_client=3)
    for _ in range(3):
        assert start(twin, twin.auth_url()[0]).status_code == 200
    refused = start(twin, twin.auth_url()[0], json=False)
    assert refused.status_code == 302
    assert query_of(refused.headers["location"])["error"] == "temporarily_unavailable"
    assert requests_stored(twin) == 3
