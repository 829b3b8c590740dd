"""Forwarding buffered alerts to their incidents: per incident, one signal-with-start carrying its batch."""

from __future__ import annotations

import asyncio

from temporalio import activity
from temporalio.client import Client

from incident.handoff import Handoff
from workflows.signals import send_alerts

PARALLEL = 32


class DeliveryActivities:
    def __init__(self, client: Client, task_queue: str):
        self.client = client
        self.task_queue = task_queue

    @activity.defn(name="forward_alerts")
    async def forward(self, handoffs: list[Handoff]) -> int:
        """Deliver every hand-off; raise if any failed, so Temporal retries (incidents drop the repeats)."""
        gate = asyncio.Semaphore(PARALLEL)

        async def one(h: Handoff) -> None:
            async with gate:
                await send_alerts(self.client, self.task_queue, h.workflow_id, h.alerts, h.policy)

        results = await asyncio.gather(*(one(h) for h in handoffs), return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(handoffs)} incidents not reached: {failed[0]!r}")
        return sum(len(h.alerts) for h in handoffs)
