"""The intake app: alert sources, changes, health and Slack, each a router; one app per config and façade."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from gateway.api.routes import incidents_router
from gateway.client import Incidents
from gateway.intake import alerts, changes, health, heartbeats, metrics
from gateway.intake.dependencies import Intake
from gateway.intake.errors import install_error_handlers
from gateway.intake.guard import AnswerUnexpected
from gateway.intake.limits import BodyLimit
from gateway.logs import quiet_tracebacks
from gateway.slack.routes import slack_router
from incident.config import Config


def create_app(config: Config, incidents: Incidents, load: Callable[[], Config] | None = None) -> FastAPI:
    """`load` reads the config file again (for `reload`); without it, `config` is what reload applies."""
    quiet_tracebacks()
    app = FastAPI(
        title="baton gateway",
        version="1",
        description="baton's way in: alert intake (every 2xx means the event is durably recorded), changes, Slack, "
        "and the incidents API for people and agents, each authenticated by their own bearer token.",
    )
    app.state.intake = Intake.build(config, incidents, load)
    install_error_handlers(app)
    app.include_router(alerts.router)  # POST /v1/events, /v1/alerts/{alertmanager,grafana,datadog}
    app.include_router(changes.router)  # POST /v1/changes, GET /v1/changes/{service}
    app.include_router(heartbeats.router)  # POST/GET /v1/heartbeats/{name}: a job's ping
    app.include_router(health.router)  # GET /healthz
    app.include_router(metrics.router)  # GET /metrics: no token (gateway/intake/metrics.py)
    app.include_router(incidents_router)  # /v1/incidents/..., /v1/whoami: people and agents, by their tokens
    app.include_router(
        slack_router(config, incidents, windows=app.state.intake.windows)
    )  # POST /v1/slack/interactions, /v1/slack/commands
    app.add_middleware(AnswerUnexpected)
    app.add_middleware(BodyLimit)
    app.add_middleware(metrics.Timing)  # outermost: times every answer, refusals by BodyLimit too
    return app
