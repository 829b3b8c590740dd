"""Group commit for alert storms: per incident, one signal in flight at a time, and whatever arrives meanwhile
goes out together in the next one.

A request is answered only when the signals carrying its alerts have returned, so every 2xx is durable in
Temporal. When idle nothing waits (the first alert goes out at once); under a storm, batches grow by themselves to
what Temporal can take, instead of one signal per alert. Batches are capped in count and bytes to stay well inside
Temporal's payload limits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from incident.models import Alert
from incident.state import IncidentPolicy

MAX_BATCH = 200
MAX_BATCH_BYTES = 512 * 1024
"""Temporal refuses payloads over 2 MB and warns from 512 KB; a batch stays under the warning."""

Send = Callable[[str, list[Alert], IncidentPolicy], Awaitable[bool]]


class AlertTooLarge(ValueError):
    """One alert alone is larger than a batch may be."""


@dataclass
class _Batch:
    policy: IncidentPolicy
    alerts: list[Alert] = field(default_factory=list)
    size: int = 0
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Coalescer:
    def __init__(self, send: Send, max_batch: int = MAX_BATCH, max_bytes: int = MAX_BATCH_BYTES):
        self._send = send
        self._max = max_batch
        self._max_bytes = max_bytes
        self._queues: dict[str, deque[_Batch]] = {}
        self._drains: set[asyncio.Task[None]] = set()

    async def submit(self, workflow_id: str, alerts: list[Alert], policy: IncidentPolicy) -> bool:
        """Hand alerts for one incident over; returns once they are durably recorded (raises if they are not).
        The result is False when no incident took them (an acknowledge/resolve for a key with none open)."""
        sizes = [len(a.model_dump_json()) for a in alerts]
        if max(sizes, default=0) > self._max_bytes:
            raise AlertTooLarge(f"an alert is larger than {self._max_bytes} bytes once normalised")
        queue = self._queues.get(workflow_id)
        start = queue is None
        if queue is None:
            queue = self._queues[workflow_id] = deque()
        waits: list[asyncio.Future[bool]] = []
        for alert, size in zip(alerts, sizes, strict=True):
            if not queue or len(queue[-1].alerts) >= self._max or queue[-1].size + size > self._max_bytes:
                queue.append(_Batch(policy=policy))
            batch = queue[-1]
            batch.alerts.append(alert)
            batch.size += size
            if not waits or waits[-1] is not batch.done:
                waits.append(batch.done)
        if start:
            task = asyncio.create_task(self._drain(workflow_id, queue))
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        # A client that hangs up does not take its alerts back: the batch goes out for the others anyway.
        results = await asyncio.shield(asyncio.gather(*waits))
        return any(results)

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
