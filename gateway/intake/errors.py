"""The intake's error answers: one JSON shape (`error`, `message`, extras) for every refusal, and never a 500.

A source that gets a 500 may drop the alert; a 503 with Retry-After makes it keep the alert and try again.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

log = structlog.get_logger("baton.intake")

RETRY_LATER = {"Retry-After": "5"}
BEARER = {"WWW-Authenticate": "Bearer"}


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None):
        self.status, self.error, self.message, self.headers = status, error, message, headers


def error(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "(body)"


def install_error_handlers(app: FastAPI) -> None:
    """ApiError as its JSON; invalid bodies as 400/422 naming the field; anything unexpected as a 503."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error(exc.status, exc.error, exc.message, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never a 500 for a source: it may drop the alert. A 503 makes it keep the alert and retry.
        log.exception("unexpected error", path=request.url.path)
        return error(503, "not_recorded", "the event could not be recorded; retry", RETRY_LATER)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error(400, "invalid_json", "the body is not valid JSON")
        problems = [
            {"field": _field(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")} for e in errors
        ]
        first = problems[0] if problems else {"field": "(body)", "message": "invalid"}
        return error(422, "invalid_event", f"{first['field']}: {first['message']}", problems=problems)
