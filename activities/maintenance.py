"""A maintenance window's effects on incidents: hold the open incidents of its service when it starts (a signal
each), tell them when it ends, and open an incident for each suppressed alert still firing at its end, through the
one signal-with-start every alert takes (`gateway.ingest.send_alerts`, handed in by the worker)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Protocol

from temporalio import activity
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from activities.forwarding import SendAlerts
from incident.config import Config
from incident.maintenance import MAX_TOUCHED, HoldRequest, ReleaseRequest, ReopenRequest
from incident.state import IncidentPolicy

SIGNAL = "maintenance"
"""IncidentWorkflow's signal, by name (activities import no workflow)."""


class Running(Protocol):
    """`gateway.listing.running`: the running workflows of a type on a task queue, by Keyword search attributes."""

    async def __call__(
        self,
        client: Client,
        workflow_type: str,
        task_queue: str,
        keywords: dict[str, str] | None = None,
        limit: int = 200,
    ) -> list[WorkflowExecution]: ...


class MaintenanceActivities:
    def __init__(self, config: Config, client: Client, task_queue: str, send_alerts: SendAlerts, running: Running):
        self.config = config
        self.client = client
        self.task_queue = task_queue
        self.send_alerts = send_alerts
        self.running = running

    async def _signal(self, wid: str, req: HoldRequest | ReleaseRequest) -> bool:
        try:
            await self.client.get_workflow_handle(wid).signal(SIGNAL, req.notice)
        except RPCError as e:
            if e.status is RPCStatusCode.NOT_FOUND:
                return False  # resolved meanwhile: nothing to hold or release
            raise
        return True

    @activity.defn(name="maintenance_hold")
    async def hold(self, req: HoldRequest) -> list[str]:
        """Tell every open incident of the service that the window holds it; the workflow ids told."""
        found = await self.running(
            self.client, "IncidentWorkflow", self.task_queue, {"IncidentService": req.service}, MAX_TOUCHED
        )
        wids = [wf.id for wf in found]
        told = await asyncio.gather(*(self._signal(wid, req) for wid in wids))
        return [wid for wid, ok in zip(wids, told, strict=True) if ok]

    @activity.defn(name="maintenance_release")
    async def release(self, req: ReleaseRequest) -> int:
        """Tell each incident the window held that it ended; how many were still there to tell."""
        return sum(await asyncio.gather(*(self._signal(wid, req) for wid in req.workflow_ids)))

    @activity.defn(name="maintenance_reopen")
    async def reopen(self, req: ReopenRequest) -> bool:
        """Open (or join) the incident for alerts still firing at the window's end, by the config's policy now; a
        service the config no longer has takes the default service, so nothing that still fires is lost."""
        now = datetime.now(UTC)  # received now, as far as the incident is concerned: it pages from now on
        alerts = [
            a.model_copy(
                update={
                    "received_at": now,
                    "service": a.service if a.service in self.config.services else self.config.default_service,
                }
            )
            for a in req.alerts
        ]
        if not alerts:
            return False
        policy = IncidentPolicy.snapshot(self.config, alerts[0].service)
        sent = await self.send_alerts(self.client, self.task_queue, req.workflow_id, alerts, policy)
        if sent and req.notice is not None:
            await self.client.get_workflow_handle(req.workflow_id).signal(SIGNAL, req.notice)
        return sent
