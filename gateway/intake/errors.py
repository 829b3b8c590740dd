"""The intake's error answers: one JSON shape (`error`, `message`, extras) for every refusal, and never a 500.

A source that gets a 500 may drop the alert; a 503 with Retry-After makes it keep the alert and try again. What
went wrong unexpectedly is logged without the traceback's local variables: they hold what the source sent (one
deeply nested event rendered 55 MB of log).
"""

from __future__ import annotations

import traceback
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from gateway.metrics import INTAKE_UNAVAILABLE

log = structlog.get_logger("baton.intake")

RETRY_LATER = {"Retry-After": "5"}
BEARER = {"WWW-Authenticate": "Bearer"}
API_PATHS = ("/v1/incidents", "/v1/whoami", "/v1/services", "/v1/boundaries", "/v1/readiness")
"""The incidents API's: a body or query it refuses is a request, not an event."""


class ApiError(Exception):
    def __init__(
        self, status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any
    ) -> None:
        self.status, self.error, self.message, self.headers, self.extra = status, error, message, headers, extra


def error(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    if status == 503:
        INTAKE_UNAVAILABLE.labels(error).inc()
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status, headers=headers)


def unexpected(request: Request, exc: BaseException) -> Response:
    """Logged briefly and without local variables, answered 503 so the source keeps the event and retries."""
    log.error(
        "unexpected error",
        path=request.url.path,
        error=f"{type(exc).__name__}: {str(exc)[:300]}",
        where="".join(traceback.format_tb(exc.__traceback__, limit=-3))[-2000:],
    )
    return error(503, "not_recorded", "the event could not be recorded; retry", RETRY_LATER)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "(body)"


def install_error_handlers(app: FastAPI) -> None:
    """ApiError as its JSON; invalid bodies as 400/422 naming the field; anything unexpected as a 503."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.error, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # Never a 500 for a source: it may drop the alert. A 503 makes it keep the alert and retry. (Routes answer
        # their own unexpected errors, gateway.intake.guard; this is for what happens outside them.)
        return unexpected(request, exc)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        # FastAPI's and Starlette's own refusals (a body it could not read, no such path) in the one shape.
        name = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "refused")
        message = "the body is not valid JSON" if exc.status_code == 400 else str(exc.detail)
        return error(exc.status_code, name, message, dict(exc.headers) if exc.headers else None)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error(400, "invalid_json", "the body is not valid JSON")
        problems = [
            {"field": _field(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")} for e in errors
        ]
        first = problems[0] if problems else {"field": "(body)", "message": "invalid"}
        name = "invalid_request" if request.url.path.startswith(API_PATHS) else "invalid_event"
        return error(422, name, f"{first['field']}: {first['message']}", problems=problems)
