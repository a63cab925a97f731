"""The app's side of the デジタル認証アプリ twin (issue 18 §3, docs/auth-app.md): open a relying
party's authorization request, show what it asks, and answer it with signatures made in the
phone's secure element or on the card.

The service is reached over HTTP only, through the caller's ``httpx.Client`` (in process
through an ASGI transport, or over TCP): :func:`open_authorization` reads what to show
(:class:`ApprovalView`), :func:`approve` and :func:`deny` post the person's answer and return
the URL the browser goes on to (the relying party's ``redirect_uri`` with ``code`` and
``state``, or ``error=access_denied``).

The keys are ``cryptography`` private-key objects (an
:class:`~mobile_jpki.reader.key.ApduRSAPrivateKey` whose secret the caller has verified), so
this module never learns where they live:

- the user-authentication key signs the server's challenge, exactly as a JPKI login
  (:func:`mobile_jpki.signing.login.sign_login`);
- the signing key, when the request asks for facts or a signature (``needs_sign_key``), signs
  the sign transaction's SHA-256 digest (PKCS#1 v1.5 over its DigestInfo, RFC 8017 §9.2: what
  the JPKI applet does) or, without a transaction, the same challenge.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from mobile_jpki.protocol.digest_info import parse as parse_digest_info
from mobile_jpki.signing.login import Challenge, sign_login

#: The scheme of the web step's app link and QR code: ``APP_LINK_SCHEME://authorize?url=…``
#: carries the device-approval URL (what the phone's camera hands to the app).
APP_LINK_SCHEME = "mobile-jpki-auth"
#: A device-approval URL's path names the request after this segment.
APPROVAL_SEGMENT = "device-approvals"

_JSON = {"Accept": "application/json"}


class AuthAppError(Exception):
    """The app could not go on; ``str(exc)`` is one line for the person."""


class NotThisService(AuthAppError):
    """The URL is malformed, or names another service than the one the client talks to."""


class MalformedAnswer(AuthAppError):
    """The service answered something this app does not understand."""


class AuthAppRefused(AuthAppError):
    """The service said no (OAuth 2.0 error, RFC 6749 §4.1.2.1): a bad request, an unknown or
    finished request, a failed check of the signatures or certificates. ``redirect_uri``, when
    given, is where the browser goes to tell the relying party (with ``error=``)."""

    def __init__(self, error: str, description: str, redirect_uri: str | None = None) -> None:
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri
        super().__init__(description or error)


@dataclass(frozen=True)
class TransactionView:
    """A sign transaction the relying party made: what the signing key signs."""

    id: str
    digest_type: str  # "sha256" (a bare digest) or "digestinfo" (the RP sent a DigestInfo)
    digest: bytes  # the 32-byte SHA-256 digest either way


@dataclass(frozen=True)
class ApprovalView:
    """What the app shows before the person consents (``GET …/device-approvals/{id}``)."""

    request_id: str
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    needs_sign_key: bool
    challenge: Challenge
    sign_transaction: TransactionView | None
    approval_url: str
    expires_at: dt.datetime


# -- URLs ---------------------------------------------------------------------------------------
def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host.lower(), url.port or default


def check_same_service(http: httpx.Client, url: str) -> httpx.URL:
    """``url`` parsed, if it is an http(s) URL of the service ``http`` talks to (same scheme,
    host and port as its ``base_url``); else :class:`NotThisService`. A one-shot app has one
    service: sending the person's signatures to another host would hand them to it."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise NotThisService(f"not a URL: {url!r}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise NotThisService(f"not an http(s) URL: {url!r}")
    if _origin(parsed) != _origin(http.base_url):
        theirs = f"{parsed.scheme}://{parsed.netloc.decode()}"
        ours = f"{http.base_url.scheme}://{http.base_url.netloc.decode()}"
        raise NotThisService(f"the URL is for {theirs}, not this service ({ours})")
    return parsed


def _unwrap_app_link(url: str) -> str:
    """The device-approval URL inside an app link (what the web step's QR code holds)."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise NotThisService(f"not a URL: {url!r}") from exc
    if parts.scheme != APP_LINK_SCHEME:
        return url
    inner = parse_qs(parts.query).get("url", [])
    if len(inner) != 1:
        raise NotThisService(f"an app link carries one url= parameter: {url!r}")
    return inner[0]


def _is_approval_url(url: httpx.URL) -> bool:
    segments = url.path.rstrip("/").split("/")
    return len(segments) >= 2 and segments[-2] == APPROVAL_SEGMENT and bool(segments[-1])


# -- the service's answers ----------------------------------------------------------------------
def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refusal(response: httpx.Response) -> AuthAppError:
    body = _json(response)
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return MalformedAnswer(f"the service answered HTTP {response.status_code}")
    redirect = body.get("redirect_uri")
    description = body.get("error_description")
    return AuthAppRefused(
        body["error"],
        description if isinstance(description, str) else "",
        redirect if isinstance(redirect, str) else None,
    )


def _get(http: httpx.Client, url: httpx.URL) -> dict[str, Any]:
    response = http.get(url, headers=_JSON)
    if response.status_code != 200:
        raise _refusal(response)
    body = _json(response)
    if not isinstance(body, dict):
        raise MalformedAnswer("the service's answer is not a JSON object")
    return body


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _transaction(body: Any) -> TransactionView | None:
    if body is None:
        return None
    digest = _unb64url(body["digest"])
    wrapped = parse_digest_info(digest)
    if wrapped is not None and wrapped[0].name == "sha256":
        # Tolerated: a DigestInfo passed through as is. The applet signs the same bytes.
        digest = wrapped[1]
    if len(digest) != 32:
        raise ValueError("a sign transaction's digest is a SHA-256 (32 bytes)")
    return TransactionView(str(body["id"]), str(body["digest_type"]), digest)


def _view(body: dict[str, Any], approval_url: str) -> ApprovalView:
    try:
        scopes = body["scopes"]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise TypeError("scopes")
        return ApprovalView(
            request_id=str(body["request_id"]),
            client_id=str(body["client_id"]),
            client_name=str(body["client_name"]),
            scopes=tuple(scopes),
            needs_sign_key=bool(body["needs_sign_key"]),
            challenge=Challenge.from_dict(body["challenge"]),
            sign_transaction=_transaction(body.get("sign_transaction")),
            approval_url=approval_url,
            expires_at=dt.datetime.fromisoformat(body["expires_at"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MalformedAnswer(f"the service's approval request is malformed ({exc})") from exc


# -- the app's three steps ----------------------------------------------------------------------
def open_authorization(http: httpx.Client, url: str) -> ApprovalView:
    """What the app does when the relying party's authorization URL is opened on the phone:
    the authorization endpoint (as the app, ``Accept: application/json``) names the device
    approval, which says what is asked. ``url`` may also be the device-approval URL itself or
    the web step's app link (``mobile-jpki-auth://authorize?url=…``).

    Raises :class:`NotThisService` for a URL of another service, :class:`AuthAppRefused` when
    the service refuses the request, :class:`MalformedAnswer`; transport errors are httpx's."""
    target = check_same_service(http, _unwrap_app_link(url.strip()))
    if not _is_approval_url(target):
        started = _get(http, target)
        approval = started.get("approval_url")
        if not isinstance(approval, str):
            raise MalformedAnswer("the authorization endpoint named no approval_url")
        target = httpx.URL(approval)
        if _origin(target) != _origin(http.base_url):
            raise MalformedAnswer(f"the service named an approval URL elsewhere: {approval}")
    return _view(_get(http, target), str(target))


def _post(http: httpx.Client, view: ApprovalView, answer: dict[str, Any]) -> str:
    response = http.post(httpx.URL(view.approval_url), json=answer, headers=_JSON)
    if response.status_code != 200:
        raise _refusal(response)
    body = _json(response)
    redirect = body.get("redirect_uri") if isinstance(body, dict) else None
    if not isinstance(redirect, str):
        raise MalformedAnswer("the service's answer names no redirect_uri")
    return redirect


def _der(cert: x509.Certificate) -> str:
    return _b64url(cert.public_bytes(serialization.Encoding.DER))


def sign_answer(
    view: ApprovalView,
    *,
    auth_key: PrivateKeyTypes,
    auth_cert: x509.Certificate,
    sign_key: PrivateKeyTypes | None = None,
    sign_cert: x509.Certificate | None = None,
) -> dict[str, Any]:
    """The approve body (contract: ``{"decision": "approve", "auth": …, "sign": …}``). Each
    key signs once: the auth key the challenge; the signing key, only when needed, the
    transaction's digest or else the challenge."""
    auth = sign_login(view.challenge, auth_key, auth_cert)
    answer: dict[str, Any] = {
        "decision": "approve",
        "auth": {"signature": _b64url(auth.signature), "certificate": _der(auth_cert)},
        "sign": None,
    }
    if not view.needs_sign_key:
        return answer
    if sign_key is None or sign_cert is None:
        raise ValueError("this request needs the signing key and its certificate")
    if view.sign_transaction is not None:
        if not isinstance(sign_key, rsa.RSAPrivateKey):
            raise TypeError("JPKI signing keys are RSA")
        signature = sign_key.sign(
            view.sign_transaction.digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
        )
    else:
        signature = sign_login(view.challenge, sign_key, sign_cert).signature
    answer["sign"] = {"signature": _b64url(signature), "certificate": _der(sign_cert)}
    return answer


def approve(
    http: httpx.Client,
    view: ApprovalView,
    *,
    auth_key: PrivateKeyTypes,
    auth_cert: x509.Certificate,
    sign_key: PrivateKeyTypes | None = None,
    sign_cert: x509.Certificate | None = None,
) -> str:
    """The person consented: sign (:func:`sign_answer`), post, and return the redirect URL
    (``code`` and ``state``). A failed check raises :class:`AuthAppRefused` whose
    ``redirect_uri`` carries ``error=access_denied``."""
    answer = sign_answer(
        view, auth_key=auth_key, auth_cert=auth_cert, sign_key=sign_key, sign_cert=sign_cert
    )
    return _post(http, view, answer)


def deny(http: httpx.Client, view: ApprovalView) -> str:
    """The person declined (やめる): the redirect URL carries ``error=access_denied``."""
    return _post(http, view, {"decision": "deny"})


#: How the app names the scopes (the basic four facts, 基本4情報, and signing).
SCOPE_LABELS: dict[str, str] = {
    "name": "氏名",
    "address": "住所",
    "birthdate": "生年月日",
    "gender": "性別",
    "sign": "電子署名",
}


def requested_items(view: ApprovalView) -> list[str]:
    """The items the app lists, in the app's words and order; ``openid`` (logging in itself)
    is not an item, an unknown scope is shown as it is."""
    known = [label for scope, label in SCOPE_LABELS.items() if scope in view.scopes]
    unknown = [s for s in view.scopes if s != "openid" and s not in SCOPE_LABELS]
    return known + unknown
