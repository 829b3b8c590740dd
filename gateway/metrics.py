"""baton's own Prometheus metrics on the gateway's side, how a process serves them, and the Temporal SDK's.

One registry per process (prometheus-client's default): a worker and an intake in one process (`baton intake`
with BATON_INTAKE_WORKER=1) show both sides on one `/metrics`. Labels take values from a fixed set (the
integration an alert came through, a method, an error name), never from what a source sent. docs/observability.md
lists every metric and what it means.
"""

from __future__ import annotations

import os
from logging import getLogger

from prometheus_client import Counter, Histogram, start_http_server
from temporalio.runtime import LogForwardingConfig, LoggingConfig, PrometheusConfig, Runtime, TelemetryConfig

from incident.models import Alert, AlertAction

METRICS_ADDRESS = "BATON_METRICS_ADDRESS"
"""host:port where a worker serves baton's metrics (`/metrics`); unset, a worker serves none. The intake serves
them on its own app."""
TEMPORAL_METRICS_ADDRESS = "BATON_TEMPORAL_METRICS_ADDRESS"
"""host:port where the Temporal SDK (its Rust core) serves its own metrics; unset, it serves none."""

ALERTS_RECEIVED = Counter(
    "baton_alerts_received",
    "Alerts the intake received, by the integration they came through and what became of them: accepted (durably "
    "recorded), refused (a 4xx: nothing recorded, the source should not retry), unavailable (a 503: nothing recorded, "
    "the source retries), suppressed (recorded by an open maintenance window: nobody paged).",
    ["source", "outcome"],
)
ALERTS_DELIVERED = Counter(
    "baton_alerts_delivered",
    "Alerts that reached their incident's workflow, by result: opened (their signal started the incident), "
    "duplicate (the incident was already open: deduplicated into it), ignored (an acknowledge or resolve for a key "
    "with no open incident), recorded (the server did not say whether it started the incident). Counted where the "
    "signal is sent: the intake, or the worker for alerts that went through the storm buffer.",
    ["source", "result"],
)
INCIDENTS_OPENED = Counter(
    "baton_incidents_opened", "Incidents opened, by the integration of the alert that opened them.", ["source"]
)
INTAKE_UNAVAILABLE = Counter(
    "baton_intake_unavailable",
    "503 answers (nothing recorded, retry later), by error: temporal_unavailable, storm_backlog, not_recorded.",
    ["error"],
)
INTAKE_LATENCY = Histogram(
    "baton_intake_request_duration_seconds",
    "Time the gateway took to answer a request, by route template, method and status.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
REFUSALS = Counter(
    "baton_refusals",
    "Requests by people and agents an incident refused, by verdict: never, undefined, approval (an agent asked "
    "for what needs approval and none was given), params, budget, or rejected (refused before it was recorded).",
    ["verdict"],
)


SOURCES = ("events", "alertmanager", "grafana", "datadog", "mcp")
"""The integrations alerts come through (`Alert.source`), and `mcp` for incidents agents open."""
UNAVAILABLE_ERRORS = ("temporal_unavailable", "storm_backlog", "not_recorded")


def _start_at_zero() -> None:
    """Every known series exists from the start at 0: a counter that first appears at 1 shows no increase to
    `increase()` and `rate()`, so the first alert (or the first 503) after a restart would not count."""
    for source in SOURCES:
        for outcome in ("accepted", "refused", "unavailable", "suppressed"):
            ALERTS_RECEIVED.labels(source, outcome)
        for result in ("opened", "duplicate", "ignored"):
            ALERTS_DELIVERED.labels(source, result)
        INCIDENTS_OPENED.labels(source)
    for error in UNAVAILABLE_ERRORS:
        INTAKE_UNAVAILABLE.labels(error)


_start_at_zero()


def alert_delivered(alerts: list[Alert], started: bool | None, taken: bool) -> None:
    """Count one signal's alerts as its result says: `started` whether it opened the incident (None when the
    server did not say), `taken` whether any incident took them."""
    if not alerts:
        return
    if not taken:
        for a in alerts:
            ALERTS_DELIVERED.labels(a.source, "ignored").inc()
        return
    if started is None:
        for a in alerts:
            ALERTS_DELIVERED.labels(a.source, "recorded").inc()
        return
    opener = next((a for a in alerts if a.action is AlertAction.TRIGGER), None) if started else None
    if opener is not None:
        INCIDENTS_OPENED.labels(opener.source).inc()
    for a in alerts:
        ALERTS_DELIVERED.labels(a.source, "opened" if a is opener else "duplicate").inc()


def refused(verdict: str | None) -> None:
    REFUSALS.labels(verdict or "rejected").inc()


# ---- serving ------------------------------------------------------------------------------------------------


def parse_address(value: str, what: str) -> tuple[str, int]:
    """`host:port` (`:port` binds every interface). Raises ValueError naming the variable."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what}={value!r}: expected host:port, e.g. 127.0.0.1:9464")
    return host.strip("[]") or "0.0.0.0", int(port)


def serve_metrics(environ: dict[str, str] | None = None) -> tuple[str, int] | None:
    """Serve this process's baton metrics at BATON_METRICS_ADDRESS (a thread of prometheus-client's); the address,
    or None when unset."""
    value = (environ if environ is not None else os.environ).get(METRICS_ADDRESS, "").strip()
    if not value:
        return None
    host, port = parse_address(value, METRICS_ADDRESS)
    start_http_server(port, addr=host)
    return host, port


def temporal_telemetry(environ: dict[str, str] | None = None, json_logs: bool = False) -> str | None:
    """Set the SDK's default runtime, before any client connects: its own metrics (workflow task latencies,
    pollers, slots, request failures) at BATON_TEMPORAL_METRICS_ADDRESS, and with `json_logs` its core's log lines
    through the standard library's logging (so they are JSON too). The metrics address, or None when unset."""
    value = (environ if environ is not None else os.environ).get(TEMPORAL_METRICS_ADDRESS, "").strip()
    bind: str | None = None
    metrics: PrometheusConfig | None = None
    if value:
        host, port = parse_address(value, TEMPORAL_METRICS_ADDRESS)
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        metrics = PrometheusConfig(bind_address=bind, counters_total_suffix=True, durations_as_seconds=True)
    if metrics is None and not json_logs:
        return None
    logging = LoggingConfig.default
    if json_logs:
        logging = LoggingConfig(filter=logging.filter, forwarding=LogForwardingConfig(getLogger("temporalio.core")))
    try:
        runtime = Runtime(telemetry=TelemetryConfig(logging=logging, metrics=metrics))
    except Exception as e:  # the core's own error: the address is taken or cannot be bound
        raise ValueError(f"{TEMPORAL_METRICS_ADDRESS}={value}: {e}") from None
    Runtime.set_default(runtime, error_if_already_set=False)
    return bind
