"""RFC 7807 problem+json: the ONE place where service errors become HTTP answers."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from mobile_jpki.service.ca import CaServiceError, NotFound

PROBLEM_JSON = "application/problem+json"


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
        return problem(
            exc.status,
            exc.title,
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
