"""How the intake hands alerts to Temporal: directly when calm, through a durable buffer in a storm.

Calm: an alert for an incident with nothing in flight goes straight to it (one signal-with-start), so the first
page is not delayed. Busy: while an incident already has a signal in flight, or too many are in flight, alerts go
into a shared batch that is sent as one signal to a buffer workflow (a few shards), which forwards them to their
incidents (see workflows/intake_buffer.py). Either way a request is answered only when the signal carrying its
alerts has returned: every 2xx is durable in Temporal. Batches are capped in bytes, well inside Temporal's payload
limits.

Order per key holds on every path. Incidents order each alert's state by the time the intake received it, but a
recovery that reaches Temporal before its trigger finds no incident and is dropped, so the paths never let one
overtake the other: an event for a key whose direct send is in flight waits for it, then takes the buffer; while a
key has anything on the buffer path, later events follow it; one key always takes the same buffer shard (which
forwards in order); and a recovery that went direct and found no incident, for a key that went through the buffer,
follows its trigger there.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from incident.batch import AlertBatch, merge
from incident.models import Alert
from incident.state import IncidentPolicy

MAX_BATCH_BYTES = 400_000
"""Temporal refuses payloads over 2 MB and warns from 512 KB; a batch (measured as JSON, before the converter's
envelope) stays under the warning."""
DIRECT_IN_FLIGHT = 4
"""Direct signals in flight at once before new alerts take the buffer. Measured (bench/README.md): 4 direct and 2
buffer shards accept about twice what 16 direct signals do, on the same machine."""
SHARDS = 2
"""Buffer workflows (and buffer signals in flight at once)."""

MAX_BACKLOG = 20_000_000
"""History bytes a buffer shard may reach before the intake answers 503 (the source retries) instead of adding.
A shard continues-as-new near 8 MB once its backlog is small, so a history past 20 MB means forwarding is far
behind; Temporal's own limit is 50 MB, and nothing accepted is ever at risk."""
BACKLOG_REFRESH = 0.5
RECENT_KEYS = 100_000
"""Keys remembered as having gone through the buffer, for a recovery that finds no incident directly."""

SendDirect = Callable[[str, list[Alert], IncidentPolicy], Awaitable[bool]]
SendBuffered = Callable[[int, list[AlertBatch]], Awaitable[None]]
ReadBacklog = Callable[[int], Awaitable[int]]


class AlertTooLarge(ValueError):
    """One alert alone is larger than a batch may be."""


class Backlogged(RuntimeError):
    """The storm buffer is too far behind: retry later rather than pile on."""


@dataclass
class _Waiting:
    batch: AlertBatch
    done: asyncio.Future[bool] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Coalescer:
    def __init__(
        self,
        direct: SendDirect,
        buffered: SendBuffered,
        backlog: ReadBacklog | None = None,
        max_bytes: int = MAX_BATCH_BYTES,
        direct_in_flight: int = DIRECT_IN_FLIGHT,
        shards: int = SHARDS,
    ):
        self._direct = direct
        self._buffered = buffered
        self._read_backlog = backlog
        self._backlog: dict[int, int] = {}
        self._backlog_read: dict[int, float] = {}
        self._max_bytes = max_bytes
        self._direct_limit = direct_in_flight
        self._busy: dict[str, asyncio.Event] = {}
        """Keys with a direct send in flight, set when it returns."""
        self._queued: dict[str, int] = {}
        """Requests per key on the buffer path that are not durable yet."""
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._shards = shards
        self._pending: dict[int, list[_Waiting]] = {shard: [] for shard in range(shards)}
        self._draining: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._policy_sizes: dict[int, tuple[IncidentPolicy, int]] = {}

    async def submit(self, workflow_id: str, alerts: list[Alert], policy: IncidentPolicy) -> bool:
        """Hand alerts for one incident over; returns once they are durably recorded (raises if they are not).
        False means no incident took them (an acknowledge/resolve for a key with none open)."""
        sizes = [len(a.model_dump_json()) for a in alerts]
        if max(sizes, default=0) > self._max_bytes:
            raise AlertTooLarge(f"an alert is larger than {self._max_bytes} bytes once normalised")
        chunks = list(_chunks(workflow_id, policy, alerts, sizes, self._max_bytes - self._policy_size(policy)))
        in_flight = self._busy.get(workflow_id)
        calm = in_flight is None and not self._queued.get(workflow_id) and len(self._busy) < self._direct_limit
        if calm and len(chunks) == 1:
            taken = await self._send_direct(workflow_id, alerts, policy)
            if taken or workflow_id not in self._recent:
                return taken
            # A recovery found no incident, but its trigger may still be in the buffer: it follows it there.
        return await self._via_buffer(workflow_id, chunks, after=in_flight)

    async def _send_direct(self, workflow_id: str, alerts: list[Alert], policy: IncidentPolicy) -> bool:
        done = self._busy[workflow_id] = asyncio.Event()
        try:
            return await self._direct(workflow_id, alerts, policy)
        finally:
            del self._busy[workflow_id]
            done.set()

    async def _via_buffer(self, workflow_id: str, chunks: list[AlertBatch], after: asyncio.Event | None) -> bool:
        """Through the key's buffer shard, behind whatever of this key is already on its way (`after`: the direct
        send in flight when the request came)."""
        self._queued[workflow_id] = self._queued.get(workflow_id, 0) + 1
        try:
            if after is not None:
                await after.wait()
            if self._backlog and min(self._backlog.values()) > MAX_BACKLOG:
                raise Backlogged("the storm buffer is far behind in forwarding alerts to their incidents")
            shard = self.shard_of(workflow_id)
            waiting = [_Waiting(c) for c in chunks]
            self._pending[shard].extend(waiting)
            self._recent[workflow_id] = None
            self._recent.move_to_end(workflow_id)
            while len(self._recent) > RECENT_KEYS:
                self._recent.popitem(last=False)
            self._flush()
            # A client that hangs up does not take its alerts back: the batch goes out for the others anyway.
            await asyncio.shield(asyncio.gather(*(w.done for w in waiting)))
            return True
        finally:
            self._queued[workflow_id] -= 1
            if not self._queued[workflow_id]:
                del self._queued[workflow_id]

    def shard_of(self, workflow_id: str) -> int:
        """One key, one shard: a shard forwards in the order it was given."""
        return zlib.crc32(workflow_id.encode("utf-8", "surrogatepass")) % self._shards

    def _policy_size(self, policy: IncidentPolicy) -> int:
        """Policies are a few per config and reused: size each once (the entry keeps the object alive)."""
        known = self._policy_sizes.get(id(policy))
        if known is None or known[0] is not policy:
            known = self._policy_sizes[id(policy)] = (policy, len(policy.model_dump_json()))
        return known[1]

    def _watch(self, shard: int) -> None:
        """Refresh this shard's history size in the background, at most every BACKLOG_REFRESH seconds."""
        now = asyncio.get_running_loop().time()
        if self._read_backlog is None or now - self._backlog_read.get(shard, 0.0) < BACKLOG_REFRESH:
            return
        self._backlog_read[shard] = now

        async def read() -> None:
            with contextlib.suppress(Exception):  # unknown is not full: the next read will tell
                self._backlog[shard] = await self._read_backlog(shard)  # type: ignore[misc]

        task = asyncio.create_task(read())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _flush(self) -> None:
        for shard, pending in self._pending.items():
            if pending and shard not in self._draining:
                self._draining.add(shard)
                task = asyncio.create_task(self._drain(shard))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _drain(self, shard: int) -> None:
        pending = self._pending[shard]
        try:
            while pending:
                batch: list[_Waiting] = []
                size = 0
                while pending and (not batch or size + pending[0].batch.size <= self._max_bytes):
                    w = pending.pop(0)
                    batch.append(w)
                    size += w.batch.size
                try:
                    await self._buffered(shard, merge([w.batch for w in batch]))
                except Exception as e:
                    for w in batch:
                        w.done.set_exception(e)
                else:
                    for w in batch:
                        w.done.set_result(True)
                    self._watch(shard)
        finally:
            self._draining.discard(shard)


def _chunks(
    workflow_id: str, policy: IncidentPolicy, alerts: list[Alert], sizes: list[int], limit: int
) -> Iterator[AlertBatch]:
    batch: list[Alert] = []
    size = 0
    for alert, n in zip(alerts, sizes, strict=True):
        if batch and size + n > limit:
            yield AlertBatch(workflow_id=workflow_id, policy=policy, alerts=batch, size=size)
            batch, size = [], 0
        batch.append(alert)
        size += n
    if batch:
        yield AlertBatch(workflow_id=workflow_id, policy=policy, alerts=batch, size=size)
