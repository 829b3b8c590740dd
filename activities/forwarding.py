"""Forwarding buffered alerts to their incidents: per incident, one signal-with-start carrying its batch.

The signal-with-start itself is client code (`gateway.ingest.send_alerts`); the worker hands it in, so this
module imports neither gateway/ nor a workflow."""

from __future__ import annotations

import asyncio
from typing import Protocol

from temporalio import activity
from temporalio.client import Client

from incident.batch import AlertBatch
from incident.models import Alert
from incident.state import IncidentPolicy

PARALLEL = 32


class SendAlerts(Protocol):
    """`gateway.ingest.send_alerts`: one incident's alerts in one signal(-with-start)."""

    async def __call__(
        self, client: Client, task_queue: str, workflow_id: str, alerts: list[Alert], policy: IncidentPolicy
    ) -> bool: ...


class ForwardingActivities:
    def __init__(self, client: Client, task_queue: str, send_alerts: SendAlerts):
        self.client = client
        self.task_queue = task_queue
        self.send_alerts = send_alerts

    @activity.defn(name="forward_alerts")
    async def forward(self, batches: list[AlertBatch]) -> int:
        """Deliver every batch; raise if any failed, so Temporal retries (incidents drop the repeats)."""
        gate = asyncio.Semaphore(PARALLEL)
        activity.heartbeat()

        async def one(h: AlertBatch) -> None:
            async with gate:
                await self.send_alerts(self.client, self.task_queue, h.workflow_id, h.alerts, h.policy)
            activity.heartbeat()  # alive and moving: a forward lost with a worker or a Temporal restart is seen fast

        results = await asyncio.gather(*(one(h) for h in batches), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(batches)} incidents not reached: {failed[0]!r}")
        return sum(len(h.alerts) for h in batches)
