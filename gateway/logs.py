"""Logging set-up every baton process shares: alert contents never reach a log through a traceback's locals."""

from __future__ import annotations

import structlog


def quiet_tracebacks() -> None:
    """structlog's console renderer shows a traceback's local variables (its default, with rich installed): render
    tracebacks plainly instead, keeping the rest of whatever logging set-up is in force."""
    processors = structlog.get_config()["processors"]
    if not any(isinstance(p, structlog.dev.ConsoleRenderer) for p in processors):
        return  # JSON or another renderer: no locals
    plain = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(processors=[plain if isinstance(p, structlog.dev.ConsoleRenderer) else p for p in processors])
