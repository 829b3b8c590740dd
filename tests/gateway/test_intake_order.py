"""Order per key across the intake's two paths: a recovery never overtakes its trigger and is never dropped."""

from __future__ import annotations

import asyncio

from gateway.coalescer import Coalescer
from incident.batch import AlertBatch
from incident.models import Alert, AlertAction
from incident.state import IncidentPolicy
from tests.helpers.config import alert, make_config

POLICY = IncidentPolicy.snapshot(make_config(), "checkout")


class Temporal:
    """Incidents as Temporal keeps them: a trigger opens one, a recovery with none open is dropped. Direct sends
    wait for `gate`; the buffer forwards at once (`forward_now`) or when the test says (`forward`)."""

    def __init__(self, forward_now: bool) -> None:
        self.forward_now = forward_now
        self.gate = asyncio.Event()
        self.firing: dict[str, bool] = {}
        self.dropped: list[tuple[str, str]] = []
        self.parked: list[AlertBatch] = []

    def _apply(self, wid: str, alerts: list[Alert], forwarded: bool = True) -> bool:
        """False (nothing recorded) for a recovery without an incident: the intake hears it when direct, and a
        forward from the buffer drops it for good."""
        if wid not in self.firing and not any(a.action is AlertAction.TRIGGER for a in alerts):
            if forwarded:
                self.dropped += [(wid, a.action.value) for a in alerts]
            return False
        for a in alerts:
            self.firing[wid] = a.action is AlertAction.TRIGGER
        return True

    async def send_direct(self, wid: str, alerts: list[Alert], policy: IncidentPolicy) -> bool:
        await self.gate.wait()
        return self._apply(wid, alerts, forwarded=False)

    async def send_buffered(self, shard: int, batches: list[AlertBatch]) -> None:
        self.parked += batches
        if self.forward_now:
            self.forward()

    def forward(self) -> None:
        parked, self.parked = self.parked, []
        for b in parked:
            self._apply(b.workflow_id, b.alerts)


def resolve(key: str) -> Alert:
    return alert(key, action=AlertAction.RESOLVE)


async def test_a_recovery_after_a_buffered_trigger_follows_it_through_the_buffer() -> None:
    t = Temporal(forward_now=False)
    c = Coalescer(t.send_direct, t.send_buffered, direct_in_flight=1, shards=2)
    other = asyncio.create_task(c.submit("other", [alert("other")], POLICY))  # takes the only direct slot
    await asyncio.sleep(0)
    assert await c.submit("b", [alert("b")], POLICY)  # buffered: durable, not yet forwarded
    t.gate.set()
    await other
    assert await c.submit("b", [resolve("b")], POLICY)  # the direct slot is free again
    t.forward()
    assert t.dropped == [] and t.firing["b"] is False


async def test_a_recovery_while_its_trigger_is_sent_directly_waits_for_it() -> None:
    t = Temporal(forward_now=True)
    c = Coalescer(t.send_direct, t.send_buffered, direct_in_flight=4, shards=2)
    trigger = asyncio.create_task(c.submit("b", [alert("b")], POLICY))
    await asyncio.sleep(0)
    recovery = asyncio.create_task(c.submit("b", [resolve("b")], POLICY))
    await asyncio.sleep(0.01)
    t.gate.set()
    assert await trigger and await recovery
    assert t.dropped == [] and t.firing["b"] is False


async def test_one_key_always_takes_one_buffer_shard() -> None:
    t = Temporal(forward_now=False)
    t.gate.set()
    shards: dict[str, set[int]] = {}

    async def buffered(shard: int, batches: list[AlertBatch]) -> None:
        for b in batches:
            shards.setdefault(b.workflow_id, set()).add(shard)

    c = Coalescer(t.send_direct, buffered, direct_in_flight=0, shards=4)
    await asyncio.gather(*(c.submit(k, [alert(k, summary=str(i))], POLICY) for i in range(20) for k in "abcdefg"))
    assert all(len(s) == 1 for s in shards.values())
