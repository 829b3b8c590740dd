"""How baton's HTTP servers (the intake, `baton mcp --http`) run under uvicorn: one place for their settings."""

from __future__ import annotations

from typing import Any, Literal

import uvicorn

KEEP_ALIVE_SECONDS = 75
"""How long an idle keep-alive connection stays open. uvicorn's default (5 s) is shorter than the idle timeout of
most clients and load balancers (60 s on common ones): a source that reuses a connection the server closed a moment
before gets a reset instead of an answer, and cannot tell whether its event was recorded. Serving longer than the
client keeps connections means the client always closes first."""


def server_config(
    app: Any, host: str = "127.0.0.1", port: int = 0, lifespan: Literal["on", "off"] = "off"
) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan=lifespan, timeout_keep_alive=KEEP_ALIVE_SECONDS
    )
