"""Group commit for alert storms: per incident, one signal in flight at a time, and whatever arrives meanwhile
goes out together in the next one.

A request is answered only when the signal carrying its alerts has returned, so every 2xx is durable in
Temporal. When idle nothing waits (the first alert goes out at once); under a storm, batches grow by themselves to
what Temporal can take, instead of one signal per alert.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from incident.models import Alert
from incident.state import IncidentPolicy

MAX_BATCH = 200
"""Alerts in one signal at most: a few hundred KB, well inside Temporal's payload limits."""

Send = Callable[[str, list[Alert], IncidentPolicy], Awaitable[bool]]


@dataclass
class _Batch:
    policy: IncidentPolicy
    alerts: list[Alert] = field(default_factory=list)
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Coalescer:
    def __init__(self, send: Send, max_batch: int = MAX_BATCH):
        self._send = send
        self._max = max_batch
        self._queues: dict[str, deque[_Batch]] = {}
        self._drains: set[asyncio.Task[None]] = set()

    async def submit(self, workflow_id: str, alerts: list[Alert], policy: IncidentPolicy) -> bool:
        """Hand alerts for one incident over; returns once they are durably recorded (raises if they are not).
        The result is False when no incident took them (an acknowledge/resolve for a key with none open)."""
        queue = self._queues.get(workflow_id)
        start = queue is None
        if queue is None:
            queue = self._queues[workflow_id] = deque()
        if not queue or len(queue[-1].alerts) + len(alerts) > self._max:
            queue.append(_Batch(policy=policy))
        batch = queue[-1]
        batch.alerts.extend(alerts)
        if start:
            task = asyncio.create_task(self._drain(workflow_id, queue))
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        # A client that hangs up does not take its alerts back: the batch goes out for the others anyway.
        return await asyncio.shield(batch.done)

    async def _drain(self, workflow_id: str, queue: deque[_Batch]) -> None:
        try:
            while queue:
                batch = queue.popleft()  # sealed: what arrives from now on goes into the next batch
                try:
                    batch.done.set_result(await self._send(workflow_id, batch.alerts, batch.policy))
                except Exception as e:
                    batch.done.set_exception(e)
        finally:
            del self._queues[workflow_id]
