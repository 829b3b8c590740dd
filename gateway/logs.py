"""Logging set-up every baton process shares: alert contents never reach a log through a traceback's locals, and
`BATON_LOG_FORMAT=json` makes every line one JSON object (structlog's, the Temporal SDK's, uvicorn's) for a log
collector, with the incident's ids on what a worker logs while it works for one."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog
from structlog.typing import Processor
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

LOG_FORMAT = "BATON_LOG_FORMAT"
"""`json` for one JSON object per line; anything else (or unset): structlog's console format."""


def quiet_tracebacks() -> None:
    """structlog's console renderer shows a traceback's local variables (its default, with rich installed): render
    tracebacks plainly instead, keeping the rest of whatever logging set-up is in force."""
    processors = structlog.get_config()["processors"]
    if not any(isinstance(p, structlog.dev.ConsoleRenderer) for p in processors):
        return  # JSON or another renderer: no locals
    plain = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    structlog.configure(processors=[plain if isinstance(p, structlog.dev.ConsoleRenderer) else p for p in processors])


def fields() -> list[Processor]:
    """A line's fields: the ids bound for the task, level, time, and its exception as structured frames without
    their local variables (structlog's default transformer would include them, and they hold what a source sent)."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.ExceptionRenderer(structlog.tracebacks.ExceptionDictTransformer(show_locals=False)),
        structlog.processors.EventRenamer("message"),
    ]


def json_logs(environ: dict[str, str] | None = None) -> bool:
    return (environ if environ is not None else os.environ).get(LOG_FORMAT, "").strip().lower() == "json"


def configure_logging(environ: dict[str, str] | None = None) -> bool:
    """Set up this process's logging from BATON_LOG_FORMAT; True when it is JSON. Always quiet tracebacks."""
    if not json_logs(environ):
        quiet_tracebacks()
        return False
    structlog.configure(
        processors=[*fields(), structlog.processors.JSONRenderer()],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    # The standard library's loggers (the Temporal SDK, uvicorn) in the same shape, on the same stream.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *fields()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    return True


class IncidentIds(Interceptor):
    """A worker interceptor: every line an activity logs (structlog's, in JSON) carries the workflow id, the
    activity, and the incident id when its input names one (a page's, an action's)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BindIds(next)


class _BindIds(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        ids: dict[str, Any] = {"workflow_id": info.workflow_id, "activity": info.activity_type}
        for arg in input.args:
            incident = getattr(arg, "incident_id", None) or getattr(getattr(arg, "page", None), "incident_id", None)
            if isinstance(incident, str):
                ids["incident"] = incident
                break
        with structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v}):
            return await super().execute_activity(input)
