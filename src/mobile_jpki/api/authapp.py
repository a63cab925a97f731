"""HTTP of the デジタル認証アプリ twin (docs/auth-app.md), shaped like the public API so that a
relying party moves between the sandbox and the twin by changing the host:

- the issuer ``/api/realms/main`` (Keycloak-style realm): discovery, JWKS, the authorization,
  token and userinfo endpoints under ``protocol/openid-connect``;
- the web step ``/api/realms/main/web-step/{id}`` and the app's
  ``/api/realms/main/device-approvals/{id}`` (the twin's own: the real app's protocol with its
  server is not public);
- ``/api/sign-transactions`` and ``/api/sign-transactions/{id}/result``.

Thin: parse, call :class:`~mobile_jpki.service.authapp.service.AuthAppService`, render. Every
refusal is an :class:`~mobile_jpki.service.authapp.errors.OAuthError`, rendered in
:func:`_oauth_error` (JSON, RFC 6749 §5.2) or as a redirect with ``error=`` where the spec
says so (RFC 6749 §4.1.2.1).
"""

from __future__ import annotations

import binascii
import datetime as dt
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from mobile_jpki.clock import Clock
from mobile_jpki.service.authapp.context import REALM_PATH, unb64url, with_query
from mobile_jpki.service.authapp.errors import OAuthError, RedirectError
from mobile_jpki.service.authapp.keys import passphrase_of
from mobile_jpki.service.authapp.service import AuthAppService
from mobile_jpki.service.ca import CertificateAuthority
from mobile_jpki.settings import Settings
from mobile_jpki.web import authapp_step

COOKIE = "authapp_step"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749 §5.1
FORM = "application/x-www-form-urlencoded"
MAX_QUERY = 4096

realm = APIRouter(prefix=REALM_PATH, tags=["デジタル認証アプリ twin"])
sign = APIRouter(prefix="/api/sign-transactions", tags=["デジタル認証アプリ twin"])


def _svc(request: Request) -> AuthAppService:
    svc: AuthAppService = request.app.state.authapp
    return svc


def _now(request: Request) -> dt.datetime:
    clock: Clock = request.app.state.authapp_clock
    return clock.now()


def _oauth_error(exc: OAuthError, *, bearer: bool = False) -> JSONResponse:
    headers = dict(NO_STORE)
    if bearer and exc.status in (401, 403):
        # RFC 6750 §3: the challenge names the error.
        headers["WWW-Authenticate"] = (
            f'Bearer error="{exc.error}", error_description="{exc.description}"'
        )
    body: dict[str, Any] = exc.to_json()
    redirect = getattr(exc, "redirect_uri", None)
    if redirect:
        body["redirect_uri"] = redirect
    return JSONResponse(body, status_code=exc.status, headers=headers)


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _bearer_token(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, value = authorization.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


# -- discovery -------------------------------------------------------------------------------
@realm.get("/.well-known/openid-configuration", operation_id="authapp_discovery")
def discovery(request: Request) -> JSONResponse:
    return JSONResponse(_svc(request).discovery())


@realm.get("/protocol/openid-connect/certs", operation_id="authapp_jwks")
def jwks(request: Request) -> JSONResponse:
    return JSONResponse(_svc(request).jwks(_now(request)), headers={"Cache-Control": "max-age=300"})


# -- authorization endpoint ------------------------------------------------------------------
@realm.get("/protocol/openid-connect/auth", operation_id="authapp_authorize", response_model=None)
def authorize(request: Request) -> Response:
    """The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1). A browser is sent to
    the web step; the app (``Accept: application/json``) gets the request's id."""
    svc = _svc(request)
    as_json = _wants_json(request)
    raw = request.url.query
    try:
        if len(raw) > MAX_QUERY:
            raise OAuthError("invalid_request", "the request is too long")
        query = parse_qs(raw, keep_blank_values=True)
        started = svc.start(query, _now(request))
    except RedirectError as exc:
        target = with_query(exc.redirect_uri, {
            "error": exc.error, "error_description": exc.description, "state": exc.state,
            "iss": svc.issuer,
        })  # fmt: skip
        if as_json:
            body = {**exc.to_json(), "redirect_uri": target}
            return JSONResponse(body, status_code=400, headers=NO_STORE)
        return RedirectResponse(target, status_code=302)
    except OAuthError as exc:
        if as_json:
            return _oauth_error(exc)
        page = authapp_step.render_error("認証要求を受け付けられません", exc.description)
        return HTMLResponse(page, status_code=exc.status)
    approval_url = f"{svc.issuer}/device-approvals/{started.request_id}"
    step_url = f"{svc.issuer}/web-step/{started.request_id}"
    if as_json:
        return JSONResponse({
            "request_id": started.request_id, "approval_url": approval_url,
            "web_step_url": step_url, "expires_at": started.expires_at.isoformat(),
        }, headers=NO_STORE)  # fmt: skip
    response = RedirectResponse(f"{REALM_PATH}/web-step/{started.request_id}", status_code=303)
    response.set_cookie(
        COOKIE, started.browser_cookie, max_age=int(svc.ctx.config.request_ttl.total_seconds()),
        path=f"{REALM_PATH}/web-step", httponly=True, samesite="lax",
        secure=request.url.scheme == "https",
    )  # fmt: skip
    return response


# -- the web step ----------------------------------------------------------------------------
@realm.get("/web-step/{request_id}", operation_id="authapp_web_step", response_model=None)
def web_step(request: Request, request_id: str) -> Response:
    svc = _svc(request)
    try:
        step = svc.web_step(request_id, request.cookies.get(COOKIE), _now(request))
    except OAuthError as exc:
        page = authapp_step.render_error("認証要求が見つかりません", exc.description)
        return HTMLResponse(page, status_code=exc.status)
    if step.redirect is not None:
        return RedirectResponse(step.redirect, status_code=303, headers=NO_STORE)
    page = authapp_step.render_step(
        request_id=step.request_id, client_name=step.client_name, scopes=step.scopes,
        approval_url=f"{svc.issuer}/device-approvals/{step.request_id}",
        status=step.status.value, base=REALM_PATH,
        simulator=bool(getattr(request.app.state, "simulator_on", False)),
    )  # fmt: skip
    return HTMLResponse(page, headers=NO_STORE)


@realm.get("/web-step/{request_id}/code", operation_id="authapp_web_step_code",
           response_model=None)  # fmt: skip
def web_step_code(request: Request, request_id: str) -> Response:
    svc = _svc(request)
    try:
        target = svc.browser_code(request_id, request.cookies.get(COOKIE), _now(request))
    except OAuthError as exc:
        page = authapp_step.render_error("認証要求が見つかりません", exc.description)
        return HTMLResponse(page, status_code=exc.status)
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    response.delete_cookie(COOKIE, path=f"{REALM_PATH}/web-step")
    return response


@realm.get("/web-step/{request_id}/qr.svg", operation_id="authapp_web_step_qr")
def web_step_qr(request: Request, request_id: str) -> Response:
    svc = _svc(request)
    try:
        svc.web_step(request_id, None, _now(request))
    except OAuthError as exc:
        return _oauth_error(exc)
    link = authapp_step.app_link(f"{svc.issuer}/device-approvals/{request_id}")
    return Response(authapp_step.qr_svg(link), media_type="image/svg+xml", headers=NO_STORE)


# -- the app ---------------------------------------------------------------------------------
class SignatureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signature: str = Field(max_length=2048)
    certificate: str = Field(max_length=8192)


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "deny"]
    auth: SignatureIn | None = None
    sign: SignatureIn | None = None


def _decode(item: SignatureIn, what: str) -> tuple[bytes, bytes]:
    try:
        return unb64url(item.signature), unb64url(item.certificate)
    except (ValueError, binascii.Error):
        raise OAuthError(
            "invalid_request", f"{what}: signature and certificate are base64url"
        ) from None


@realm.get("/device-approvals/{request_id}", operation_id="authapp_approval_view")
def approval_view(request: Request, request_id: str) -> JSONResponse:
    try:
        return JSONResponse(
            _svc(request).approval_view(request_id, _now(request)), headers=NO_STORE
        )
    except OAuthError as exc:
        return _oauth_error(exc)


@realm.post("/device-approvals/{request_id}", operation_id="authapp_approval_answer")
async def approval_answer(request: Request, request_id: str) -> JSONResponse:
    """The app's answer: approve with the signatures, or deny (contract: docs/auth-app.md)."""
    svc = _svc(request)
    try:
        try:
            answer = AnswerIn.model_validate_json(await request.body())
        except ValueError as exc:
            first = str(exc).splitlines()[0][:120]
            raise OAuthError(
                "invalid_request", f"the answer is not valid JSON of the contract: {first}"
            ) from None
        now = _now(request)
        if answer.decision == "deny":
            redirect = await run_in_threadpool(svc.deny, request_id, now)
            return JSONResponse({"status": "denied", "redirect_uri": redirect}, headers=NO_STORE)
        if answer.auth is None:
            raise OAuthError("invalid_request", "approve needs auth (the user-auth signature)")
        auth_sig, auth_cert = _decode(answer.auth, "auth")
        sign_pair = _decode(answer.sign, "sign") if answer.sign is not None else None
        redirect = await run_in_threadpool(
            lambda: svc.approve(request_id, auth_signature=auth_sig, auth_certificate=auth_cert,
                                sign=sign_pair, now=now)
        )  # fmt: skip
        return JSONResponse({"status": "approved", "redirect_uri": redirect}, headers=NO_STORE)
    except OAuthError as exc:
        return _oauth_error(exc)


# -- token and userinfo ----------------------------------------------------------------------
@realm.post("/protocol/openid-connect/token", operation_id="authapp_token")
async def token(request: Request) -> JSONResponse:
    """The token endpoint (RFC 6749 §3.2): form-encoded, ``private_key_jwt`` only."""
    svc = _svc(request)
    try:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != FORM:
            raise OAuthError("invalid_request", f"the body must be {FORM}")
        try:
            form = parse_qs((await request.body()).decode("ascii"), keep_blank_values=True,
                            strict_parsing=False)  # fmt: skip
        except UnicodeDecodeError:
            raise OAuthError(
                "invalid_request", "the form must be ASCII (percent-encoded)"
            ) from None
        answer = await run_in_threadpool(svc.token, form, _now(request))
    except OAuthError as exc:
        return _oauth_error(exc)
    return JSONResponse(answer, headers=NO_STORE)


def _userinfo(request: Request, authorization: str | None) -> JSONResponse:
    try:
        claims = _svc(request).userinfo(_bearer_token(authorization), _now(request))
    except OAuthError as exc:
        return _oauth_error(exc, bearer=True)
    return JSONResponse(claims, headers=NO_STORE)


@realm.get("/protocol/openid-connect/userinfo", operation_id="authapp_userinfo_get")
def userinfo_get(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> JSONResponse:
    return _userinfo(request, authorization)


@realm.post("/protocol/openid-connect/userinfo", operation_id="authapp_userinfo_post")
def userinfo_post(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> JSONResponse:
    return _userinfo(request, authorization)


# -- sign transactions -----------------------------------------------------------------------
TRANSACTION_SHAPE = 'the body must be {"digest": base64, "digest_type": "sha256"|"digestinfo"}'


class TransactionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    digest: str = Field(max_length=200)
    digest_type: Literal["sha256", "digestinfo"] = "sha256"


@sign.post("", operation_id="authapp_sign_transaction_create", status_code=201)
async def create_sign_transaction(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> JSONResponse:
    svc = _svc(request)
    try:
        try:
            body = TransactionIn.model_validate_json(await request.body())
        except ValueError:
            raise OAuthError("invalid_request", TRANSACTION_SHAPE) from None
        created = await run_in_threadpool(
            svc.create_sign_transaction, _bearer_token(authorization), body.digest_type,
            body.digest, _now(request),
        )  # fmt: skip
    except OAuthError as exc:
        return _oauth_error(exc, bearer=True)
    return JSONResponse(created, status_code=201, headers=NO_STORE)


@sign.get("/{transaction_id}/result", operation_id="authapp_sign_transaction_result",
          response_model=None)  # fmt: skip
def sign_result(
    request: Request, transaction_id: str, authorization: Annotated[str | None, Header()] = None
) -> Response:
    try:
        token = _svc(request).sign_result(_bearer_token(authorization), transaction_id[:64],
                                          _now(request))  # fmt: skip
    except OAuthError as exc:
        return _oauth_error(exc, bearer=True)
    return Response(token, media_type="application/jose", headers=NO_STORE)


def install(app: FastAPI, service: AuthAppService, clock: Clock) -> None:
    """Mount the twin on ``app`` (``serve``, the demo, the tests)."""
    app.state.authapp = service
    app.state.authapp_clock = clock
    app.include_router(realm)
    app.include_router(sign)


def service_for(ca: CertificateAuthority, settings: Settings) -> AuthAppService:
    """The twin of this data directory: its issuer under ``settings.base_url``; its key sealed
    with the CA passphrase when there is one (asked only when the key is first made or read)."""

    return AuthAppService(ca, base_url=settings.base_url, passphrase=passphrase_of(settings))


def install_from_settings(
    app: FastAPI, ca: CertificateAuthority, settings: Settings, clock: Clock
) -> None:
    install(app, service_for(ca, settings), clock)
