"""The one shape of every error answer baton's HTTP surfaces give, as the OpenAPI documents it."""

from __future__ import annotations

from typing import Any

ERROR_BODY = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            }
        }
    }
}


def answers(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: the error answers it can give, each in the one shape."""
    why = {
        400: "the body is not JSON (not UTF-8, compressed, malformed)",
        401: "no token, or a wrong one (checked before the body)",
        403: "a token of another integration",
        404: "the integration is not configured, or no such service",
        413: "the body is over the limit, or one alert is too large to record",
        422: "a field is missing or wrong (every problem listed), or the body nests too deep",
        503: "not recorded (Temporal unreachable or an unexpected error): retry after Retry-After",
    }
    return {s: {"description": why[s], **ERROR_BODY} for s in statuses}
