"""RFC 7807 problem+json: the ONE place where service errors become HTTP answers."""

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
