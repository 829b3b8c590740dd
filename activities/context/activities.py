"""The context activities: what changed, what the metrics and logs say, for one service around one alert.

Each returns a `ContextPart` and never fails: a provider that is down, slow or misconfigured yields `ok=False`
and a reason, and the page goes out without it. A provider the service does not configure answers at once,
empty and `ok`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

import httpx
import structlog
from temporalio import activity

from activities.context.github import gather_deployments
from activities.context.loki import gather_logs
from activities.context.prometheus import gather_metrics
from incident.config import Config, ServiceContext
from incident.context import ContextPart, ContextRequest
from incident.state import context_providers

log = structlog.get_logger("baton.context")

Provider = Literal["metrics", "logs", "github"]


def providers_for(config: Config, service: str) -> list[Provider]:
    """Which of "metrics", "logs", "github" the service configures (the policy snapshot decides the same way)."""
    if service not in config.services:
        return []
    return [p for p in context_providers(config, service) if p != "changes"]  # type: ignore[misc]


class ContextActivities:
    """Holds the worker's config and one HTTP client; each method is an activity."""

    def __init__(self, config: Config, http: httpx.AsyncClient):
        self.config = config
        self.http = http

    def _context(self, service: str) -> ServiceContext | None:
        svc = self.config.services.get(service)
        return svc.context if svc else None

    def _done(self, req: ContextRequest, part: ContextPart) -> ContextPart:
        if part.error:
            log.info("context incomplete", provider=part.provider, service=req.service, ok=part.ok, error=part.error)
        return part

    @activity.defn(name="gather_metrics")
    async def gather_metrics(self, req: ContextRequest) -> ContextPart:
        """The service's metric queries over the half hour before the alert."""
        ctx = self._context(req.service)
        if ctx is None:
            return _unknown("metrics", req.service)
        prom = self.config.integrations.prometheus
        if not ctx.metrics or prom is None:
            return ContextPart(provider="metrics")
        now = datetime.now(UTC)
        return self._done(req, await gather_metrics(self.http, prom, ctx.metrics, req.alert_at, now, req.timeout_s))

    @activity.defn(name="gather_logs")
    async def gather_logs(self, req: ContextRequest) -> ContextPart:
        """The service's log query since a quarter of an hour before the alert, grouped."""
        ctx = self._context(req.service)
        if ctx is None:
            return _unknown("logs", req.service)
        loki = self.config.integrations.loki
        if ctx.logs is None or loki is None:
            return ContextPart(provider="logs")
        now = datetime.now(UTC)
        return self._done(req, await gather_logs(self.http, loki, ctx.logs, req.alert_at, now, req.timeout_s))

    @activity.defn(name="gather_deployments")
    async def gather_deployments(self, req: ContextRequest) -> ContextPart:
        """GitHub deployments of the service's repository within its suspect `window` before the alert."""
        ctx = self._context(req.service)
        if ctx is None:
            return _unknown("github", req.service)
        if not ctx.deploys.github:
            return ContextPart(provider="github")
        gh = self.config.integrations.github
        since = req.alert_at - ctx.window
        part = await gather_deployments(self.http, gh, ctx.deploys, req.service, since, req.timeout_s)
        return self._done(req, part)


def _unknown(provider: Provider, service: str) -> ContextPart:
    return ContextPart(provider=provider, ok=False, error=f"no service {service!r} in the worker's config")
