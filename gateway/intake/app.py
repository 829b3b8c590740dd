"""The HTTP intake: alert sources POST here. A 2xx means the event is durably in Temporal, nothing less."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.client import Incidents, Unavailable
from gateway.coalescer import AlertTooLarge, Backlogged, Coalescer
from gateway.slack.routes import slack_router
from incident.config import Config
from incident.context import Change
from incident.ids import workflow_id_for
from incident.models import Alert
from incident.sources.alertmanager import AmWebhook, webhook_to_alerts
from incident.sources.datadog import DatadogEvent
from incident.sources.datadog import event_to_alert as datadog_to_alert
from incident.sources.events import Event, event_to_alert
from incident.state import IncidentPolicy

log = structlog.get_logger("baton.intake")
MAX_BODY = 1_000_000
_HEALTH_TIMEOUT = timedelta(seconds=2)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None):
        self.status, self.error, self.message, self.headers = status, error, message, headers


class Accepted(BaseModel):
    status: str = "success"
    message: str
    dedup_key: str


class Recorded(BaseModel):
    status: str = "success"
    alerts: int
    incidents: int


class ChangeIn(BaseModel):
    """`POST /v1/changes`: what changed, where, by whom, when (default: now)."""

    service: str = Field(min_length=1)
    version: str | None = None
    author: str | None = None
    description: str | None = Field(None, max_length=4000)
    link: str | None = None
    time: datetime | None = None
    kind: str = Field("deploy", min_length=1, max_length=40)


class ChangeAccepted(BaseModel):
    status: str = "success"
    service: str
    at: datetime


class Health(BaseModel):
    status: str
    temporal: str


_BEARER = {"WWW-Authenticate": "Bearer"}


def _same(given: str, expected: str | None) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())  # type: ignore[union-attr]


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "message": message, **extra}, status_code=status, headers=headers)


class BodyLimit:
    """Refuse bodies over `limit` bytes with 413 before the app sees them, declared length or chunked."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY):
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        too_big = _error(413, "body_too_large", f"request bodies are limited to {self.limit} bytes")
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await too_big(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "(body)"


def create_app(config: Config, incidents: Incidents) -> FastAPI:
    tokens = {name: integ.token.reveal() for name, integ in config.integrations.intake().items()}
    coalescer = Coalescer(incidents.send_batch, incidents.hand_off, incidents.buffer_history)
    policies = {name: IncidentPolicy.snapshot(config, name) for name in config.services}
    app = FastAPI(
        title="baton intake",
        version="1",
        description="Alert intake for baton. Every 2xx means the event is durably recorded.",
    )

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.error, exc.message, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Never a 500 for a source: it may drop the alert. A 503 makes it keep the alert and retry.
        log.exception("unexpected error", path=request.url.path)
        return _error(503, "not_recorded", "the event could not be recorded; retry", {"Retry-After": "5"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "invalid_json", "the body is not valid JSON")
        problems = [
            {"field": _field(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")} for e in errors
        ]
        first = problems[0] if problems else {"field": "(body)", "message": "invalid"}
        return _error(422, "invalid_event", f"{first['field']}: {first['message']}", problems=problems)

    def credential(integration: str, query_token: bool = False) -> Callable[[Request], Awaitable[None]]:
        """Bearer token per integration (constant-time compare); Datadog may send it as `?token=` instead."""

        async def check(request: Request) -> None:
            if integration not in tokens:
                raise ApiError(404, "integration_disabled", f"the {integration} integration is not configured")
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if not given or scheme.lower() != "bearer":
                given = request.query_params.get("token", "") if query_token else ""
            if not given:
                how = "`Authorization: Bearer <token>`" + (" or `?token=<token>`" if query_token else "")
                raise ApiError(401, "unauthorized", f"send {how} for the {integration} integration", _BEARER)
            if _same(given, tokens[integration]):
                return
            other = next((name for name, tok in tokens.items() if name != integration and _same(given, tok)), None)
            if other:
                raise ApiError(403, "forbidden", f"this token is for the {other} integration, not {integration}")
            raise ApiError(401, "unauthorized", "the bearer token is not valid", _BEARER)

        return check

    async def record(alerts: list[Alert]) -> int:
        """Hand alerts to their incidents; returns how many incidents took some. 503 unless all are durable."""
        groups: dict[str, list[Alert]] = {}
        for alert in alerts:
            groups.setdefault(workflow_id_for(alert.dedup_scope, alert.dedup_key), []).append(alert)
        try:
            taken = await asyncio.gather(
                *(coalescer.submit(wid, batch, policies[batch[0].service]) for wid, batch in groups.items())
            )
        except Unavailable:
            raise ApiError(
                503, "temporal_unavailable", "the event could not be recorded durably; retry", {"Retry-After": "5"}
            ) from None
        except AlertTooLarge as e:
            raise ApiError(413, "alert_too_large", str(e)) from None
        except Backlogged as e:
            raise ApiError(503, "storm_backlog", f"{e}; retry", {"Retry-After": "5"}) from None
        except Exception:
            # Never a 500 and never a lost alert: whatever went wrong, the source should keep it and retry.
            log.exception("recording alerts failed")
            raise ApiError(
                503, "not_recorded", "the event could not be recorded; retry", {"Retry-After": "5"}
            ) from None
        return sum(taken)

    @app.post("/v1/events", status_code=202, response_model=Accepted, tags=["alerts"])
    async def post_event(event: Event, _: None = Depends(credential("events"))) -> Accepted:
        """A PagerDuty Events API v2 event: `trigger` opens or joins the incident for `dedup_key`."""
        alert = event_to_alert(event, config, datetime.now(UTC))
        taken = await record([alert])
        message = "Event processed" if taken else f"no open incident for this dedup_key; {alert.action} ignored"
        return Accepted(message=message, dedup_key=alert.dedup_key)

    @app.post("/v1/alerts/alertmanager", status_code=202, response_model=Recorded, tags=["alerts"])
    async def post_alertmanager(hook: AmWebhook, _: None = Depends(credential("alertmanager"))) -> Recorded:
        """Alertmanager's webhook (v4): one incident per group, or per alert with `incident_per: alert`."""
        alerts = webhook_to_alerts(hook, config, datetime.now(UTC), "alertmanager")
        return Recorded(alerts=len(alerts), incidents=await record(alerts))

    @app.post("/v1/alerts/grafana", status_code=202, response_model=Recorded, tags=["alerts"])
    async def post_grafana(hook: AmWebhook, _: None = Depends(credential("grafana"))) -> Recorded:
        """Grafana alerting's webhook contact point (the Alertmanager shape with Grafana's additions)."""
        alerts = webhook_to_alerts(hook, config, datetime.now(UTC), "grafana")
        return Recorded(alerts=len(alerts), incidents=await record(alerts))

    @app.post("/v1/alerts/datadog", status_code=202, response_model=Recorded, tags=["alerts"])
    async def post_datadog(event: DatadogEvent, _: None = Depends(credential("datadog", query_token=True))) -> Recorded:
        """A Datadog monitor notification through the Webhooks integration (template in docs/datadog.md)."""
        raw = event.model_dump(mode="json", exclude_none=True)
        alert = datadog_to_alert(event, config, raw, datetime.now(UTC))
        return Recorded(alerts=1, incidents=await record([alert]))

    @app.post("/v1/changes", status_code=202, response_model=ChangeAccepted, tags=["changes"])
    async def post_change(body: ChangeIn, _: None = Depends(credential("changes"))) -> ChangeAccepted:
        """A deploy or other change to a service. Changes shortly before an alert become its suspects."""
        if body.service not in config.services:
            known = ", ".join(sorted(config.services))
            raise ApiError(422, "invalid_change", f"service: unknown service {body.service!r} (known: {known})")
        change = Change(**body.model_dump(exclude={"time"}), at=body.time or datetime.now(UTC))
        try:
            await incidents.record_change(change)
        except Unavailable:
            raise ApiError(
                503, "temporal_unavailable", "the change could not be recorded durably; retry", {"Retry-After": "5"}
            ) from None
        return ChangeAccepted(service=change.service, at=change.at)

    @app.get("/v1/changes/{service}", response_model=list[Change], tags=["changes"])
    async def get_changes(
        service: str, since: datetime | None = None, _: None = Depends(credential("changes"))
    ) -> list[Change]:
        """The service's recorded changes since `since` (default: the last 24 hours), oldest first."""
        if service not in config.services:
            raise ApiError(404, "unknown_service", f"no service {service!r}")
        try:
            return await incidents.changes(service, since or datetime.now(UTC) - timedelta(days=1))
        except Unavailable:
            raise ApiError(503, "temporal_unavailable", "cannot read the change log now; retry") from None

    @app.get("/healthz", response_model=Health, tags=["ops"])
    async def healthz() -> JSONResponse:
        try:
            await incidents.client.service_client.check_health(timeout=_HEALTH_TIMEOUT)
        except Exception:
            return JSONResponse(Health(status="degraded", temporal="unreachable").model_dump(), status_code=503)
        return JSONResponse(Health(status="ok", temporal="ok").model_dump())

    app.include_router(slack_router(config, incidents))  # POST /v1/slack/interactions, /v1/slack/commands
    app.add_middleware(BodyLimit)
    return app
