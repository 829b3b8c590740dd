"""The intake's batch to Temporal: direct when calm, buffered when busy, and never a 2xx before it is durable."""

from __future__ import annotations

import asyncio

import pytest

from gateway.coalescer import AlertTooLarge, Coalescer
from incident.batch import AlertBatch
from incident.models import Alert
from incident.state import IncidentPolicy
from tests.helpers.config import alert, make_config

POLICY = IncidentPolicy.snapshot(make_config(), "checkout")


class Temporal:
    """Records what would be sent; each send waits until the test releases it."""

    def __init__(self) -> None:
        self.direct: list[tuple[str, list[Alert]]] = []
        self.buffered: list[list[AlertBatch]] = []
        self.gate = asyncio.Event()
        self.fail: Exception | None = None

    async def send_direct(self, wid: str, alerts: list[Alert], policy: IncidentPolicy) -> bool:
        self.direct.append((wid, alerts))
        await self.gate.wait()
        if self.fail:
            raise self.fail
        return True

    async def send_buffered(self, shard: int, batches: list[AlertBatch]) -> None:
        self.buffered.append(batches)
        await self.gate.wait()
        if self.fail:
            raise self.fail


async def test_calm_goes_direct_busy_goes_through_the_buffer_and_nothing_is_answered_early() -> None:
    t = Temporal()
    c = Coalescer(t.send_direct, t.send_buffered, direct_in_flight=1, shards=1)
    first = asyncio.create_task(c.submit("a", [alert("a")], POLICY))
    await asyncio.sleep(0)
    more = [asyncio.create_task(c.submit(k, [alert(k, summary=f"{k}{i}")], POLICY)) for i in range(3) for k in "ab"]
    await asyncio.sleep(0.01)
    assert [w for w, _ in t.direct] == ["a"]
    assert len(t.buffered) == 1 and not any(task.done() for task in [first, *more])
    t.gate.set()
    assert await first and all(await asyncio.gather(*more))
    sent = [a.summary for batch in t.buffered for h in batch for a in h.alerts]
    assert sorted(sent) == sorted(f"{k}{i}" for i in range(3) for k in "ab")
    # one batch per incident in a buffer signal, alerts in arrival order
    for batch in t.buffered:
        assert len({h.workflow_id for h in batch}) == len(batch)


async def test_a_failure_reaches_every_request_in_the_batch() -> None:
    t = Temporal()
    t.fail = RuntimeError("temporal down")
    c = Coalescer(t.send_direct, t.send_buffered, direct_in_flight=0, shards=1)
    tasks = [asyncio.create_task(c.submit(k, [alert(k)], POLICY)) for k in "abc"]
    await asyncio.sleep(0.01)
    t.gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)


async def test_large_requests_are_split_under_the_byte_cap_and_one_huge_alert_is_refused() -> None:
    t = Temporal()
    t.gate.set()
    c = Coalescer(t.send_direct, t.send_buffered, max_bytes=20_000)
    alerts = [alert("big", summary=f"{i}" + "x" * 500) for i in range(100)]
    assert await c.submit("big", alerts, POLICY)
    assert sum(len(h.alerts) for b in t.buffered for h in b) == 100
    assert all(sum(h.size for h in b) <= 20_000 for b in t.buffered)
    huge = alert("huge", summary="y" * 30_000)
    with pytest.raises(AlertTooLarge):
        await c.submit("huge", [huge], POLICY)


async def test_a_buffer_too_far_behind_turns_new_alerts_away_instead_of_piling_on() -> None:
    from gateway.coalescer import MAX_BACKLOG, Backlogged

    t = Temporal()
    t.gate.set()
    behind = MAX_BACKLOG + 1

    async def backlog(shard: int) -> int:
        return behind

    c = Coalescer(t.send_direct, t.send_buffered, backlog, direct_in_flight=0, shards=1)
    assert await c.submit("a", [alert("a")], POLICY)
    await asyncio.sleep(0.01)  # the background read of the backlog
    with pytest.raises(Backlogged, match="far behind"):
        await c.submit("b", [alert("b")], POLICY)
    behind = 0
    c._backlog_read.clear()
    c._backlog.clear()
    assert await c.submit("b", [alert("b")], POLICY)
