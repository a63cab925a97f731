"""An example relying party of the デジタル認証アプリ twin (issue 18 §4; docs/auth-app.md).

It is written the way an RP's own code would be against the Digital Agency's sandbox: only
Authlib (the OAuth 2.0 / OpenID Connect client), joserfc (JOSE) and cryptography, nothing of
mobile-jpki. Pointing ``AUTHAPP_ISSUER`` at the sandbox instead of ``mobile-jpki serve`` is
the whole switch.

- **Log in**: authorization code flow with PKCE (S256) and ``private_key_jwt`` client
  authentication; Authlib checks the ID token (signature against the issuer's JWKS, iss, aud,
  exp, nonce); the page shows its claims and the userinfo answer.
- **Sign a short text**: SHA-256 of the text → a client-credentials token (scope ``sign``) →
  ``POST /api/sign-transactions`` → an authorization request with scope ``openid sign`` and the
  ``sign_transaction_id`` → after the code exchange ``GET /api/sign-transactions/{id}/result``:
  a JWE to this RP's key whose plaintext is a JWS by the issuer. The page shows the signer's
  certificate subject and "verified" once the JWS, the digest and the signature over the text
  all check (and, with ``AUTHAPP_SIGN_CA``, that the certificate was issued by that CA).

Configuration (environment)::

    AUTHAPP_ISSUER       http://127.0.0.1:8000/api/realms/main
    AUTHAPP_CLIENT_ID    the client_id `mobile-jpki rp register` printed
    AUTHAPP_PRIVATE_JWK  the private JWK file (`rp register --generate-key rp.jwk`)
    RP_BASE_URL          this app's URL, http://127.0.0.1:9000 (redirect URI: RP_BASE_URL/callback)
    AUTHAPP_API_BASE     optional: where /api/sign-transactions lives (default: the issuer's origin)
    AUTHAPP_SIGN_CA      optional: PEM file of the signing CA (DIR/export/sign-ca.pem)
    RP_SESSION_SECRET    optional: the session cookie's key (default: random per process)

Run::

    uvicorn --app-dir examples/authapp_rp --factory app:create_app_from_env --port 9000

Pages carry no script and no inline style (a strict CSP holds); every action is a link or a
form.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.starlette_client import OAuth
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from joserfc import jwe, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

LOGIN_SCOPE = "openid name address birthdate gender"
SIGN_SCOPE = "openid sign"
MAX_TEXT = 200  # the text rides in the session cookie until the result is back
# What the twin encrypts to and signs with (docs/auth-app.md): nothing else is accepted.
JWE_ALGORITHMS = ["RSA-OAEP-256", "ECDH-ES+A256KW", "A256GCM"]
JWS_ALGORITHMS = ["RS256", "ES256"]
ASSERTION_LIFETIME = 60  # seconds
CLIENT_AUTH = "private_key_jwt"  # the only client authentication the service accepts


@dataclass(frozen=True)
class RpSettings:
    issuer: str
    client_id: str
    private_jwk: dict[str, Any]
    base_url: str = "http://127.0.0.1:9000"
    api_base: str | None = None
    sign_ca: tuple[x509.Certificate, ...] = ()
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    # Tests route the RP's outgoing HTTP (discovery, token, userinfo, JWKS, sign
    # transactions) into an in-process server; None = real HTTP.
    transport: httpx.AsyncBaseTransport | None = None

    @property
    def redirect_uri(self) -> str:
        return self.base_url.rstrip("/") + "/callback"

    @property
    def sign_transactions_url(self) -> str:
        if self.api_base:
            return self.api_base.rstrip("/") + "/api/sign-transactions"
        parts = urlsplit(self.issuer)
        return f"{parts.scheme}://{parts.netloc}/api/sign-transactions"


def settings_from_env() -> RpSettings:
    def need(name: str) -> str:
        value = os.environ.get(name)
        if not value:
            raise SystemExit(f"error: set {name} (see examples/authapp_rp/README.md)")
        return value

    jwk_path = Path(need("AUTHAPP_PRIVATE_JWK"))
    ca_path = os.environ.get("AUTHAPP_SIGN_CA")
    return RpSettings(
        issuer=need("AUTHAPP_ISSUER").rstrip("/"),
        client_id=need("AUTHAPP_CLIENT_ID"),
        private_jwk=json.loads(jwk_path.read_text(encoding="utf-8")),
        base_url=os.environ.get("RP_BASE_URL", "http://127.0.0.1:9000"),
        api_base=os.environ.get("AUTHAPP_API_BASE"),
        sign_ca=tuple(x509.load_pem_x509_certificates(Path(ca_path).read_bytes()))
        if ca_path
        else (),
        session_secret=os.environ.get("RP_SESSION_SECRET") or secrets.token_urlsafe(32),
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode_any(text: str) -> bytes:
    """base64 or base64url, padded or not (the result's members are base64url)."""
    value = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class SignResultError(Exception):
    """The sign transaction's result does not verify; the message says which check."""


def verify_sign_result(
    compact_jwe: str,
    *,
    rp_key: RSAKey | ECKey,
    issuer_jwks: dict[str, Any],
    issuer: str,
    client_id: str,
    transaction_id: str,
    text: str,
    sign_ca: tuple[x509.Certificate, ...] = (),
) -> dict[str, Any]:
    """Decrypt the result with the RP's key, verify the issuer's JWS inside it, then the
    signature over ``text`` with the certificate it carries. Returns what the page shows."""
    try:
        plaintext = jwe.decrypt_compact(compact_jwe, rp_key, algorithms=JWE_ALGORITHMS).plaintext
    except (JoseError, ValueError) as exc:
        raise SignResultError(f"the result does not decrypt with this RP's key: {exc}") from None
    if plaintext is None:
        raise SignResultError("the result is empty")
    try:
        keys = KeySet.import_key_set(issuer_jwks)  # type: ignore[arg-type]
        token = jwt.decode(plaintext, keys, JWS_ALGORITHMS)
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": client_id},
            sign_transaction_id={"essential": True, "value": transaction_id},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise SignResultError(f"the issuer's signature or claims do not check: {exc}") from None
    claims = token.claims
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    try:
        certificate = x509.load_der_x509_certificate(b64decode_any(claims["certificate"]))
        signature = b64decode_any(claims["signature"])
        signed_digest = b64decode_any(claims["digest"])
    except (KeyError, ValueError, TypeError) as exc:
        raise SignResultError(f"the result lacks a readable member: {exc}") from None
    if signed_digest != digest:
        raise SignResultError("the signed digest is not SHA-256 of this text")
    public = certificate.public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            # The JPKI signing key signs a DigestInfo (RSASSA-PKCS1-v1_5, RFC 8017 §8.2).
            public.verify(signature, text.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, text.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
        else:
            raise SignResultError("the signing certificate's key is neither RSA nor EC")
    except InvalidSignature:
        raise SignResultError("the signature over the text does not verify") from None
    if sign_ca and not any(_issued_by(certificate, ca) for ca in sign_ca):
        raise SignResultError("the signing certificate is not issued by AUTHAPP_SIGN_CA")
    return {
        "subject": certificate.subject.rfc4514_string(),
        "serial": f"{certificate.serial_number:x}",
        "issuer": certificate.issuer.rfc4514_string(),
        "text": text,
        "digest": b64url(digest),
        "chain_checked": bool(sign_ca),
    }


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class ShortPrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """Authlib's ``private_key_jwt`` with a short-lived assertion: Authlib's default ``exp``
    is an hour ahead, the service accepts at most five minutes (AUTH-APP-FACTS.md)."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        token: str = private_key_jwt_sign(
            auth.client_secret,
            client_id=auth.client_id,
            token_endpoint=token_endpoint,
            header=self.headers,
            alg=self.alg,
            expires_in=ASSERTION_LIFETIME,
        )
        return token


# -- pages -----------------------------------------------------------------------------------
def _page(body: str, issuer: str) -> HTMLResponse:
    parts = urlsplit(issuer)
    # form-action covers the redirect the /sign form ends in (to the issuer), as browsers do.
    csp = f"default-src 'none'; form-action 'self' {parts.scheme}://{parts.netloc}"
    return HTMLResponse(
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        "<title>Example RP (デジタル認証アプリ twin)</title>"
        f"<h1>Example relying party</h1>{body}</html>",
        headers={"Content-Security-Policy": csp},
    )


def _table(values: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_show(v))}</td></tr>"
        for k, v in values.items()
    )
    return f"<table>{rows}</table>"


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def create_app(settings: RpSettings) -> Starlette:
    rp_key = KeySet.import_key_set({"keys": [settings.private_jwk]}).keys[0]
    if not isinstance(rp_key, RSAKey | ECKey) or not rp_key.is_private:
        raise ValueError("AUTHAPP_PRIVATE_JWK must be a private RSA or EC JWK")
    alg = settings.private_jwk.get("alg") or ("RS256" if isinstance(rp_key, RSAKey) else "ES256")
    kid = settings.private_jwk.get("kid")

    def client_auth() -> PrivateKeyJWT:
        # aud = the token endpoint's URL (RFC 7523 §3 item 3): Authlib uses the request's URL;
        # a fresh jti per assertion (no fixed claims dict: Authlib would store the jti in it).
        return ShortPrivateKeyJWT(alg=alg, headers={"kid": kid} if kid else None)

    http_kwargs: dict[str, Any] = {"timeout": 10}
    if settings.transport is not None:
        http_kwargs["transport"] = settings.transport

    oauth = OAuth()
    oauth.register(
        name="authapp",
        client_id=settings.client_id,
        client_secret=rp_key,  # PrivateKeyJWT signs the client assertion with this key
        server_metadata_url=settings.issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": LOGIN_SCOPE,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": CLIENT_AUTH,
            **http_kwargs,
        },
        client_auth_methods=[client_auth()],
    )
    authapp = oauth.create_client("authapp")

    async def index(request: Request) -> Response:
        session = request.session
        csrf = session.setdefault("csrf", secrets.token_urlsafe(16))
        parts = [
            "<p>Logs in through the デジタル認証アプリ (twin) with Authlib: authorization code, "
            "PKCE S256, private_key_jwt.</p>",
            '<p><a href="/login">Log in with the デジタル認証アプリ</a></p>',
        ]
        if error := session.pop("error", None):
            parts.append(f'<p class="error">Error: {html.escape(error)}</p>')
        if claims := session.get("id_token"):
            parts.append("<h2>ID token (verified)</h2>" + _table(claims))
            parts.append("<h2>Userinfo</h2>" + _table(session.get("userinfo", {})))
        parts.append(
            "<h2>Sign a short text</h2>"
            '<form method="post" action="/sign">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
            f'<input name="text" maxlength="{MAX_TEXT}" required value="I agree to the terms.">'
            "<button>Ask for a signature</button></form>"
        )
        if result := session.get("signed"):
            parts.append(
                "<h2>Signature</h2><p><strong>verified</strong></p>"
                + _table(
                    {
                        "text": result["text"],
                        "signer": result["subject"],
                        "certificate serial": result["serial"],
                        "issued by": result["issuer"],
                        "SHA-256": result["digest"],
                        "chain to AUTHAPP_SIGN_CA": "checked"
                        if result["chain_checked"]
                        else "not checked (set AUTHAPP_SIGN_CA)",
                    }
                )
            )
        return _page("".join(parts), settings.issuer)

    async def login(request: Request) -> Response:
        redirect: Response = await authapp.authorize_redirect(request, settings.redirect_uri)
        return redirect

    async def sign(request: Request) -> Response:
        # A urlencoded form, parsed here: Starlette's request.form() needs python-multipart.
        body = await request.body()
        if len(body) > 4 * MAX_TEXT + 200:  # percent-encoded UTF-8 text and the CSRF token
            return _fail(request, f"the text must have 1 to {MAX_TEXT} characters")
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        text = form.get("text", "")
        if not secrets.compare_digest(form.get("csrf", ""), request.session.get("csrf", "")):
            return _fail(request, "the form is stale: try again")
        if not text or len(text) > MAX_TEXT:
            return _fail(request, f"the text must have 1 to {MAX_TEXT} characters")
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        try:
            metadata = await authapp.load_server_metadata()
            # The RP's own token (client credentials, scope sign) starts the transaction.
            async with AsyncOAuth2Client(
                client_id=settings.client_id,
                client_secret=rp_key,
                token_endpoint_auth_method=CLIENT_AUTH,
                **http_kwargs,
            ) as client:
                client.register_client_auth_method(client_auth())
                await client.fetch_token(
                    metadata["token_endpoint"], grant_type="client_credentials", scope="sign"
                )
                # The twin's discovery names the endpoint; else it is under the issuer's origin.
                endpoint = metadata.get(
                    "sign_transactions_endpoint", settings.sign_transactions_url
                )
                created = await client.post(
                    endpoint,
                    json={"digest": base64.b64encode(digest).decode(), "digest_type": "sha256"},
                )
                created.raise_for_status()
                transaction_id = str(created.json()["id"])
            # Then the person signs it: an authorization request naming the transaction.
            rv = await authapp.create_authorization_url(
                settings.redirect_uri, scope=SIGN_SCOPE, sign_transaction_id=transaction_id
            )
        except (OAuthError, httpx.HTTPError, KeyError, ValueError) as exc:
            return _fail(request, f"could not start the sign transaction: {exc}")
        await authapp.save_authorize_data(request, redirect_uri=settings.redirect_uri, **rv)
        request.session.setdefault("signing", {})[rv["state"]] = {
            "id": transaction_id,
            "text": text,
            "endpoint": endpoint,
        }
        return RedirectResponse(rv["url"], status_code=302)

    async def callback(request: Request) -> Response:
        state = request.query_params.get("state", "")
        signing = request.session.get("signing", {}).pop(state, None)
        try:
            token = await authapp.authorize_access_token(request)
        except (OAuthError, httpx.HTTPError) as exc:
            return _fail(request, f"authorization failed: {exc}")
        if signing is None:  # a login: keep its claims (a signature asks for no facts)
            request.session["id_token"] = dict(token.get("userinfo") or {})
            try:
                request.session["userinfo"] = dict(await authapp.userinfo(token=token))
            except (OAuthError, httpx.HTTPError) as exc:
                return _fail(request, f"userinfo failed: {exc}")
        else:
            url = f"{signing['endpoint']}/{signing['id']}/result"
            try:
                answer = await authapp.get(url, token=token)
                answer.raise_for_status()
                request.session["signed"] = verify_sign_result(
                    answer.text,
                    rp_key=rp_key,
                    issuer_jwks=await authapp.fetch_jwk_set(),
                    issuer=settings.issuer,
                    client_id=settings.client_id,
                    transaction_id=signing["id"],
                    text=signing["text"],
                    sign_ca=settings.sign_ca,
                )
            except (OAuthError, httpx.HTTPError) as exc:
                return _fail(request, f"fetching the signature failed: {exc}")
            except SignResultError as exc:
                return _fail(request, f"the signature does not verify: {exc}")
        return RedirectResponse("/", status_code=303)

    def _fail(request: Request, message: str) -> Response:
        request.session["error"] = message
        return RedirectResponse("/", status_code=303)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/login", login),
            Route("/sign", sign, methods=["POST"]),
            Route("/callback", callback),
        ],
        middleware=[
            # Lax: the issuer's redirect back to /callback is a top-level GET navigation.
            Middleware(
                SessionMiddleware,
                secret_key=settings.session_secret,
                session_cookie="authapp_rp",
                same_site="lax",
                https_only=settings.base_url.startswith("https:"),
            )
        ],
    )


def create_app_from_env() -> Starlette:
    return create_app(settings_from_env())
