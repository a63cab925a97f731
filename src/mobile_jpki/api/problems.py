"""RFC 7807 problem+json: the ONE place where service errors become HTTP answers (the CA's
and, through :data:`PORTAL_PROBLEMS`, the portal's)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mobile_jpki.service.ca import (
    AlreadyInitialised,
    CaServiceError,
    InvalidTransition,
    NotFound,
)
from mobile_jpki.service.portal import errors as portal

PROBLEM_JSON = "application/problem+json"

# What each CA service error is over HTTP: status and title; anything else the CA refuses is
# a 400.
_CA_PROBLEMS: dict[type[CaServiceError], tuple[int, str]] = {
    NotFound: (404, "Not found"),
    InvalidTransition: (409, "Invalid revocation state transition"),
    AlreadyInitialised: (409, "CA already initialised"),
}
_CA_REFUSED = (400, "CA request refused")


def problem(
    status: int, title: str, detail: str, *, type_: str = "about:blank", **extra: object
) -> JSONResponse:
    body: dict[str, object] = {"type": type_, "title": title, "status": status, "detail": detail}
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


#: The portal's refusals as HTTP, by error type: (status, title). ``type`` and ``code`` come
#: from the error's ``code``. A type not listed answers as its nearest listed base class;
#: tests/api checks that every type is listed.
PORTAL_PROBLEMS: dict[type[portal.PortalError], tuple[int, str]] = {
    portal.PortalError: (400, "The request was refused"),
    portal.Unauthenticated: (401, "Authentication required"),
    portal.Forbidden: (403, "Not allowed for this caller"),
    portal.NoSuchObject: (404, "No such object"),
    portal.Conflict: (409, "Conflicts with the current state"),
    portal.RateLimited: (429, "Too many attempts; try again later"),
    portal.RequestInvalid: (422, "The request is malformed"),
    portal.SignatureInvalid: (422, "The signature does not verify"),
    portal.CardCertificateUnknown: (422, "The card certificate is not ours"),
    portal.CardCertificateRevoked: (422, "The card certificate is revoked"),
    portal.CardCertificateHeld: (422, "The card certificate is suspended"),
    portal.CardCertificateExpired: (422, "The card certificate is expired"),
    portal.NonceUnknown: (422, "The nonce was not issued to this device"),
    portal.NonceExpired: (422, "The nonce has expired; ask for a new one"),
    portal.NonceUsed: (409, "The nonce was already used (replay)"),
    portal.StaleSignature: (422, "The signing time is too far from now"),
    portal.TermsOutdated: (422, "The terms accepted are not the current ones"),
    portal.AttestationInvalid: (422, "The key was not attested by this device"),
    portal.NotEligible: (422, "Not eligible (signing certificates from age 15)"),
    portal.ConsentRequired: (409, "旧スマホ用電子証明書は失効されます"),
    portal.DeviceEnrolled: (409, "This element is enrolled already"),
    portal.ApplicationInProgress: (409, "Another application of this person is in progress"),
    portal.DeviceMismatch: (403, "The document names another device"),
    portal.InstructionExpired: (410, "The instruction is no longer valid"),
    portal.RegistrationProofInvalid: (422, "The installation proof is wrong"),
}


def portal_status(exc: portal.PortalError) -> tuple[int, str]:
    """(status, title) of a portal refusal, from :data:`PORTAL_PROBLEMS`."""
    return next(PORTAL_PROBLEMS[t] for t in type(exc).__mro__ if t in PORTAL_PROBLEMS)


def portal_problem(exc: portal.PortalError) -> JSONResponse:
    """A portal refusal as problem+json: ``type`` from its code, the code repeated as an
    extension member with the error's extra members; ``WWW-Authenticate`` on 401 (RFC 6750
    §3) and ``Retry-After`` on 429 (RFC 9110 §10.2.3)."""
    status, title = portal_status(exc)
    response = problem(
        status,
        title,
        exc.detail,
        type_=f"urn:mobile-jpki:problem:{exc.code}",
        code=exc.code,
        **exc.extra,
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    retry = exc.extra.get("retry_after")
    if status == 429 and isinstance(retry, int):
        response.headers["Retry-After"] = str(retry)
    return response


def _slug(exc: Exception) -> str:
    name = type(exc).__name__
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in name).lstrip("-")


def install(app: FastAPI) -> None:
    @app.exception_handler(CaServiceError)
    async def _service_error(_request: Request, exc: CaServiceError) -> JSONResponse:
        extra: dict[str, object] = {}
        if isinstance(exc, NotFound):
            extra = {"what": exc.what, "key": exc.key}
        status, title = next(
            (found for cls, found in _CA_PROBLEMS.items() if isinstance(exc, cls)), _CA_REFUSED
        )
        return problem(
            status,
            title,
            str(exc),
            type_=f"urn:mobile-jpki:problem:{_slug(exc)}",
            **extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        title = "Not found" if exc.status_code == 404 else "HTTP error"
        return problem(exc.status_code, title, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            400, "Invalid request", "the request does not match the API", errors=len(exc.errors())
        )
