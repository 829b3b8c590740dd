"""The order every intake route keeps: the token before the body, the body's bytes before its JSON, and an answer
for anything unexpected given here, so the connection that asked stays open.

FastAPI reads and parses a body before it runs a route's dependencies, so without this an unauthenticated request
with a bad body would learn about its body (400) instead of its token (401); and an exception that reaches
Starlette's outermost layer makes the server close a keep-alive connection it has already answered on.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.intake.errors import ApiError, error, unexpected

MAX_DEPTH = 32
"""How deep a JSON body may nest. Real payloads nest a few levels; a deeply nested one costs the parser, the
encoder and every log line that renders it."""
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")

Check = Callable[[Request, Any], Awaitable[Any]]


def guards(check: Check) -> Check:
    """Mark a dependency as one to run before the body is read (a credential check; what it returns is the
    route's to use)."""
    check.guards_intake = True  # type: ignore[attr-defined]
    return check


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON in `body` nests deeper than `limit`, without parsing it (strings are skipped)."""
    depth = 0
    for b in _STRING.sub(b"", body).translate(None, _NOT_BRACKET):
        if b in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def body_problem(request: Request, body: bytes) -> Response | None:
    """A JSON body the intake will not parse, answered in the documented shape; None when it may be parsed."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        return error(400, "invalid_json", f"the body is not valid JSON (send it uncompressed, not {encoding})")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as e:
        return error(400, "invalid_json", f"the body is not valid JSON: not UTF-8 at byte {e.start}")
    if too_deep(body):
        message = f"(body): nested deeper than {MAX_DEPTH} levels"
        return error(422, "invalid_event", message, problems=[{"field": "(body)", "message": message}])
    return None


class GuardedRoute(APIRoute):
    """A route that checks its credential first, then the body's bytes, and answers unexpected errors itself."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        checks = [d.call for d in self.dependant.dependencies if getattr(d.call, "guards_intake", False)]

        async def guarded(request: Request) -> Response:
            try:
                for check in checks:
                    await check(request, request.app.state.intake)  # type: ignore[misc]
                if request.method in ("POST", "PUT", "PATCH"):
                    refused = body_problem(request, await request.body())
                    if refused is not None:
                        return refused
                return await handler(request)
            except (ApiError, HTTPException, RequestValidationError):
                raise  # answered by the app's handlers, in the documented shape
            except Exception as e:
                return unexpected(request, e)

        return guarded


class AnswerUnexpected:
    """ASGI middleware for the routes that are not guarded (Slack's): an exception that escapes a route is answered
    503 here, inside Starlette's outermost layer, so the connection stays open; after the answer started it is
    re-raised, as there is nothing left to answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as e:
            if started:
                raise
            await unexpected(Request(scope), e)(scope, receive, send)
