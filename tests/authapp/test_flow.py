"""The twin end to end with Authlib as the relying party's client (issue 18 "Done when"):
discovery → PKCE → the app's approval with the phone's real keys → code exchange with
private_key_jwt → ID token checked against the JWKS (signature, iss, aud, nonce) → userinfo;
and a sign transaction whose result verifies with openssl against sign-ca.pem."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError as AuthlibOAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography import x509
from joserfc import jwe, jwt
from joserfc.jwk import KeySet, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from mobile_jpki.phone.transport import InProcessTransport
from mobile_jpki.service.authapp.clients import generate_private_jwk, public_jwks

from .conftest import BASE, REDIRECT, Twin, query_of


class ShortPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """Authlib's private_key_jwt with the short exp the service asks for (Authlib's default
    is an hour; the twin, like the reference's examples, takes at most 5 minutes)."""

    def sign(self, auth: Any, token_endpoint: str) -> Any:
        self.claims = {"exp": int(time.time()) + 60}
        return super().sign(auth, token_endpoint)


def rp_client(twin: Twin, **kwargs: Any) -> OAuth2Client:
    """Authlib's OAuth client into the in-process service, authenticating by private_key_jwt."""
    token_endpoint = f"{BASE}/api/realms/main/protocol/openid-connect/token"
    client = OAuth2Client(
        client_id=twin.client_id,
        client_secret=twin.private_jwk,
        token_endpoint_auth_method=ShortPrivateKeyJWT(token_endpoint, alg="RS256"),
        redirect_uri=REDIRECT,
        code_challenge_method="S256",
        transport=InProcessTransport(twin.system.app, client=("127.0.0.1", 123)),
        base_url=BASE,
        **kwargs,
    )
    return client


def discover(client: httpx.Client) -> dict[str, Any]:
    meta = client.get(f"{BASE}/api/realms/main/.well-known/openid-configuration").json()
    assert meta["issuer"] == f"{BASE}/api/realms/main"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    return dict(meta)


def login(twin: Twin, scope: str, **extra: str) -> tuple[OAuth2Client, dict[str, Any], str]:
    """The RP's whole login; returns its client, the token response and the nonce."""
    client = rp_client(twin, scope=scope)
    meta = discover(twin.http)
    verifier = base64.urlsafe_b64encode(hashlib.sha256(b"x").digest()).rstrip(b"=").decode()
    verifier = verifier + "abcdefghijkl"  # 55 characters of the unreserved set
    url, state = client.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce="n-0S6_WzA2Mj", **extra
    )
    view = twin.open_request(url)
    approved = twin.answer(view)
    assert approved.status_code == 200, approved.text
    redirect = approved.json()["redirect_uri"]
    assert redirect.startswith(REDIRECT + "?")
    assert query_of(redirect)["state"] == state
    assert query_of(redirect)["iss"] == meta["issuer"]
    token = client.fetch_token(
        meta["token_endpoint"], authorization_response=redirect, code_verifier=verifier
    )
    return client, dict(token), "n-0S6_WzA2Mj"


def check_id_token(twin: Twin, id_token: str, nonce: str) -> dict[str, Any]:
    jwks = twin.http.get(f"{BASE}/api/realms/main/protocol/openid-connect/certs").json()
    decoded = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    JWTClaimsRegistry(
        iss={"essential": True, "value": f"{BASE}/api/realms/main"},
        aud={"essential": True, "value": twin.client_id},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
        sub={"essential": True},
    ).validate(decoded.claims)
    assert decoded.header["alg"] == "RS256"
    assert decoded.claims["acr"] == "aal3"
    return dict(decoded.claims)


def test_login_with_authlib_discovery_pkce_private_key_jwt_id_token_userinfo(
    any_twin: Twin,
) -> None:
    twin = any_twin
    client, token, nonce = login(twin, "openid name address birthdate gender")
    claims = check_id_token(twin, token["id_token"], nonce)
    assert token["token_type"].lower() == "bearer"
    assert "refresh_token" in token
    info = client.get(f"{BASE}/api/realms/main/protocol/openid-connect/userinfo").json()
    assert info["sub"] == claims["sub"]
    pem = (twin.data / "export" / "new-phone-sign.pem").read_bytes()
    cert = x509.load_pem_x509_certificate(pem)
    from mobile_jpki.pki.identity import read_facts

    facts = read_facts(cert)
    assert info["name"] == facts.name
    assert info["address"] == facts.address
    assert info["birthdate"] == facts.date_of_birth.isoformat()
    assert info["gender"] in ("male", "female", "unknown")
    # The refresh grant: new tokens, the old refresh token spent.
    refreshed = client.refresh_token(
        f"{BASE}/api/realms/main/protocol/openid-connect/token",
        refresh_token=token["refresh_token"],
    )
    assert refreshed["access_token"] != token["access_token"]
    with pytest.raises(AuthlibOAuthError) as spent:
        client.refresh_token(
            f"{BASE}/api/realms/main/protocol/openid-connect/token",
            refresh_token=token["refresh_token"],
        )
    assert spent.value.error == "invalid_grant"


def test_openid_only_needs_no_signing_password_and_returns_no_facts(twin: Twin) -> None:
    client, token, nonce = login(twin, "openid")
    check_id_token(twin, token["id_token"], nonce)
    info = client.get(f"{BASE}/api/realms/main/protocol/openid-connect/userinfo").json()
    assert set(info) == {"sub"}


def test_sub_is_per_relying_party_and_survives_a_card_login(twin: Twin) -> None:
    """The same person through the card and through the phone gets one sub at one RP."""
    _client, token, nonce = login(twin, "openid")
    phone_sub = check_id_token(twin, token["id_token"], nonce)["sub"]
    url, params = twin.auth_url()
    view = twin.open_request(url)
    card = twin.answer(view, kind="card", ident="card")
    assert card.status_code == 200, card.text
    code = query_of(card.json()["redirect_uri"])["code"]
    with rp_client(twin) as c:
        tok = c.fetch_token(
            f"{BASE}/api/realms/main/protocol/openid-connect/token",
            grant_type="authorization_code", code=code, code_verifier=params["_verifier"],
        )  # fmt: skip
        card_claims = check_id_token(twin, tok["id_token"], params["nonce"])
    assert card_claims["sub"] == phone_sub
    # A second relying party sees another sub for the same person.
    jwk = generate_private_jwk()  # RSA: Authlib 1.9's PrivateKeyJWT loads RSA keys only
    second = twin.system.app.state.authapp.clients.register(
        name="Second RP", redirect_uris=[REDIRECT], jwks=public_jwks(jwk),
        now=twin.system.clock.now(),
    )  # fmt: skip
    other = dataclasses.replace(twin, client_id=second.client_id, private_jwk=jwk)
    url, params = other.auth_url()
    approved = other.answer(other.open_request(url))
    code = query_of(approved.json()["redirect_uri"])["code"]
    with rp_client(other) as c:
        tok = c.fetch_token(
            f"{BASE}/api/realms/main/protocol/openid-connect/token",
            grant_type="authorization_code", code=code, code_verifier=params["_verifier"],
        )  # fmt: skip
    second_sub = check_id_token(other, tok["id_token"], params["nonce"])["sub"]
    assert second_sub != phone_sub and len(second_sub) == len(phone_sub) == 43


def test_sign_transaction_result_verifies_with_openssl(any_twin: Twin, tmp_path: Path) -> None:
    twin = any_twin
    document = "利用規約に同意します。".encode()
    digest = hashlib.sha256(document).digest()
    token_endpoint = f"{BASE}/api/realms/main/protocol/openid-connect/token"
    with rp_client(twin, scope="sign") as cc:
        cc.fetch_token(token_endpoint, grant_type="client_credentials")
        created = cc.post(
            f"{BASE}/api/sign-transactions",
            json={"digest": base64.b64encode(digest).decode(), "digest_type": "sha256"},
        )
    assert created.status_code == 201, created.text
    tx = created.json()["id"]
    client, _token, _nonce = login(twin, "openid sign", sign_transaction_id=tx)
    result = client.get(f"{BASE}/api/sign-transactions/{tx}/result")
    assert result.status_code == 200, result.text
    assert result.headers["content-type"].startswith("application/jose")
    key = RSAKey.import_key(twin.private_jwk)
    inner = jwe.decrypt_compact(result.text, key, algorithms=["RSA-OAEP-256", "A256GCM"])
    jwks = twin.http.get(f"{BASE}/api/realms/main/protocol/openid-connect/certs").json()
    claims = jwt.decode(inner.plaintext or b"", KeySet.import_key_set(jwks)).claims
    assert claims["sign_transaction_id"] == tx
    signature = base64.urlsafe_b64decode(claims["signature"] + "==")
    cert = x509.load_der_x509_certificate(base64.urlsafe_b64decode(claims["certificate"] + "=="))
    (tmp_path / "doc.txt").write_bytes(document)
    (tmp_path / "sig.bin").write_bytes(signature)
    from cryptography.hazmat.primitives.serialization import Encoding

    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(Encoding.PEM))
    chain = subprocess.run(
        ["openssl", "verify", "-partial_chain", "-CAfile",
         str(twin.data / "export" / "sign-ca.pem"), str(tmp_path / "cert.pem")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert chain.returncode == 0, chain.stdout + chain.stderr
    pub = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "cert.pem"), "-pubkey", "-noout"],
        capture_output=True, check=True,
    )  # fmt: skip
    (tmp_path / "pub.pem").write_bytes(pub.stdout)
    verified = subprocess.run(
        ["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"), "-signature",
         str(tmp_path / "sig.bin"), str(tmp_path / "doc.txt")], capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert verified.returncode == 0 and "Verified OK" in verified.stdout, verified.stderr
    # The transaction is spent: a second authorization cannot name it.
    url, _ = twin.auth_url(scope="openid sign", sign_transaction_id=tx)
    parts = urlsplit(url)
    again = twin.http.get(f"{parts.path}?{parts.query}", headers={"Accept": "application/json"})
    assert again.status_code == 400 and again.json()["error"] == "invalid_request"


@pytest.mark.parametrize("digest_type", ["digestinfo"])
def test_a_digestinfo_transaction_is_accepted(twin: Twin, digest_type: str) -> None:
    prefix = bytes.fromhex("3031300d060960864801650304020105000420")
    info = prefix + hashlib.sha256(b"doc").digest()
    with rp_client(twin, scope="sign") as cc:
        cc.fetch_token(f"{BASE}/api/realms/main/protocol/openid-connect/token",
                       grant_type="client_credentials")  # fmt: skip
        created = cc.post(
            f"{BASE}/api/sign-transactions",
            json={"digest": base64.b64encode(info).decode(), "digest_type": digest_type},
        )
        bad = cc.post(
            f"{BASE}/api/sign-transactions",
            json={"digest": base64.b64encode(info[:-1]).decode(), "digest_type": digest_type},
        )
    assert created.status_code == 201
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_request"
