"""`GET /metrics` on the gateway, the timing of every request it answers, and the gauges only Temporal knows.

`/metrics` takes no token, like `/healthz`: it tells counts and latencies, never an alert's contents or a secret.
A gateway reachable from outside should have its proxy keep `/metrics` (and `/healthz`) to the monitoring network
(docs/observability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import WorkflowHandle

from gateway.client import Incidents
from gateway.metrics import INTAKE_LATENCY
from incident.models import Severity
from workflows import search_attributes as sa
from workflows.incident import IncidentWorkflow

router = APIRouter(tags=["ops"])


@dataclass(frozen=True)
class OpenCounts:
    by_severity: dict[str, int]
    approvals_pending: int | None
    """None when some open incident could not be asked (no worker answering queries)."""


SCAN_EVERY = 15.0
"""Seconds a scan is reused: a scrape every few seconds by several Prometheus servers costs Temporal one list."""
SCAN_TIMEOUT = 5.0
SCAN_LIMIT = 500
"""Open incidents asked for their pending approvals per scan; more than that and the gauge is not exported."""
QUERY_PARALLEL = 8
RPC_TIMEOUT = timedelta(seconds=3)


class OpenIncidents(Collector):
    """`baton_incidents_open{severity}` and `baton_approvals_pending`, read from Temporal (visibility, and each
    open incident's `state` query), not counted in memory: right after any process restarts, the same from every
    intake (aggregate them with max, not sum). Refreshed by `refresh`, which the `/metrics` route awaits; a scan
    that fails exports nothing rather than a stale number."""

    def __init__(self) -> None:
        self.counts: OpenCounts | None = None
        self.scanned_at = 0.0
        self._lock = asyncio.Lock()
        self._of: Incidents | None = None
        """Whose counts these are (one app per process, but tests make many)."""

    async def refresh(self, incidents: Incidents) -> None:
        async with self._lock:
            if incidents is self._of and time.monotonic() - self.scanned_at < SCAN_EVERY:
                return
            self._of = incidents
            try:
                self.counts = await asyncio.wait_for(scan(incidents), SCAN_TIMEOUT)
            except Exception:
                self.counts = None
            self.scanned_at = time.monotonic()

    def collect(self) -> Iterator[GaugeMetricFamily]:
        counts = self.counts
        if counts is None:
            return
        opened = GaugeMetricFamily(
            "baton_incidents_open", "Incidents open now (not resolved), by severity.", labels=["severity"]
        )
        for severity, n in sorted(({s.value: 0 for s in Severity} | counts.by_severity).items()):
            opened.add_metric([severity], n)
        yield opened
        if counts.approvals_pending is not None:
            yield GaugeMetricFamily(
                "baton_approvals_pending",
                "Requests waiting for a human's approval now, across open incidents.",
                value=counts.approvals_pending,
            )


async def scan(incidents: Incidents) -> OpenCounts:
    """Open incidents by severity (one visibility list) and their pending approvals (one query each)."""
    queue = incidents.task_queue.replace("\\", "\\\\").replace('"', '\\"')
    query = (
        'IncidentId IS NOT NULL AND ExecutionStatus = "Running" AND IncidentStatus != "resolved" '
        f'AND TaskQueue = "{queue}"'
    )
    runs = [wf async for wf in incidents.client.list_workflows(query, limit=SCAN_LIMIT + 1, rpc_timeout=RPC_TIMEOUT)]
    by_severity: dict[str, int] = {}
    for wf in runs[:SCAN_LIMIT]:
        severity = wf.typed_search_attributes.get(sa.INCIDENT_SEVERITY) or "unknown"
        by_severity[severity] = by_severity.get(severity, 0) + 1
    if len(runs) > SCAN_LIMIT:
        return OpenCounts(by_severity, None)
    gate = asyncio.Semaphore(QUERY_PARALLEL)

    async def pending(workflow_id: str, run_id: str) -> int:
        async with gate:
            handle: WorkflowHandle[IncidentWorkflow, object] = incidents.client.get_workflow_handle_for(
                IncidentWorkflow.run,
                workflow_id,
                run_id=run_id,
            )
            st = await handle.query(IncidentWorkflow.state, rpc_timeout=RPC_TIMEOUT)
            return len(st.pending_approvals) if st.open else 0

    return OpenCounts(by_severity, sum(await asyncio.gather(*(pending(wf.id, wf.run_id) for wf in runs))))


OPEN_INCIDENTS = OpenIncidents()
with contextlib.suppress(ValueError):  # one per process, however many apps it makes (tests make many)
    REGISTRY.register(OPEN_INCIDENTS)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"description": "Prometheus text exposition format", "content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(request: Request) -> Response:
    """baton's metrics (and a worker's, when one runs in this process) for Prometheus; no token needed."""
    await OPEN_INCIDENTS.refresh(request.app.state.intake.incidents)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class Timing:
    """ASGI middleware: every answer's duration in `baton_intake_request_duration_seconds`, by route template (not
    the path people typed: one series per route)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if route != "/metrics":
                labels = (route, scope.get("method", ""), str(status or 503))
                INTAKE_LATENCY.labels(*labels).observe(time.perf_counter() - start)
