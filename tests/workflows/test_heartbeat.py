"""Heartbeat monitors in virtual time: a missed ping opens an incident at `every + grace` and not before, the next
ping recovers it, a second miss joins the open incident, and a paused monitor opens nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from gateway.heartbeats import Heartbeats
from incident.ids import workflow_id_for
from incident.models import Actor, Status
from incident.state import IncidentState
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

HEARTBEATS = """  heartbeats: {token: hb-token-0123456789}
heartbeats:
  nightly-backup: {service: billing, every: 24h, grace: 1h}
  queue-drain: {service: checkout, every: 10m, grace: 2m}
"""
BASE = BASE_CONFIG.replace(
    "routing: {default_service: checkout}\n",
    "  billing: {escalation: two-levels, runbook: https://runbooks.example/billing, on_recovery: resolve}\n"
    "routing: {default_service: checkout}\n",
)


@pytest.fixture
async def hb(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[tuple[Harness, Heartbeats]]:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url, HEARTBEATS, base=BASE), http)
        async with h.worker:
            yield h, Heartbeats(h.client, h.config, h.task_queue)


async def incident(h: Harness, name: str) -> IncidentState | None:
    """The incident the monitor opened, or None when there is none."""
    handle = h.client.get_workflow_handle(workflow_id_for("heartbeat", name))
    try:
        await handle.describe()
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return await handle.query(IncidentWorkflow.state)


async def test_a_missed_ping_opens_an_incident_at_every_plus_grace_and_not_before(
    hb: tuple[Harness, Heartbeats], sink: Sink
) -> None:
    h, beats = hb
    await beats.ping("nightly-backup")
    pinged = await until(lambda: beats.view("nightly-backup"), lambda v: v.status == "ok")
    assert pinged.last_ping is not None and pinged.next_deadline == pinged.last_ping + timedelta(hours=25)
    await h.env.sleep(timedelta(hours=24, minutes=59, seconds=50))
    assert await incident(h, "nightly-backup") is None, "opened before every + grace ran out"
    assert sink.for_path("/alice") == []
    await h.env.sleep(timedelta(seconds=20))
    st = await until(lambda: incident(h, "nightly-backup"), lambda s: s is not None and s.paged)
    assert st.service == "billing" and st.status is Status.TRIGGERED
    assert timedelta(hours=25) <= st.opened_at - pinged.last_ping < timedelta(hours=25, seconds=20)
    assert f"last ping {pinged.last_ping:%Y-%m-%d %H:%M:%S} UTC" in st.title
    record = st.alerts["nightly-backup"]
    assert record.firing and record.details["last_ping"] == pinged.last_ping.isoformat()
    page = sink.for_path("/alice")[0]["json"]
    assert page["service"] == "billing" and "nightly-backup missed" in page["title"]
    view = await beats.view("nightly-backup")
    assert view.status == "missed" and view.misses == 1 and view.next_deadline is None


async def test_the_next_ping_recovers_and_on_recovery_applies(hb: tuple[Harness, Heartbeats]) -> None:
    """billing resolves on recovery: the ping after a miss resolves the incident it opened."""
    h, beats = hb
    await beats.ping("nightly-backup")
    await until(lambda: beats.view("nightly-backup"), lambda v: v.status == "ok")
    await h.env.sleep(timedelta(hours=25, seconds=5))
    await until(lambda: incident(h, "nightly-backup"), lambda s: s is not None)
    await beats.ping("nightly-backup")
    st = await until(lambda: incident(h, "nightly-backup"), lambda s: s is not None and s.status is Status.RESOLVED)
    assert not st.alerts["nightly-backup"].firing
    view = await beats.view("nightly-backup")
    assert view.status == "ok" and view.pings == 2 and view.last_ping is not None
    assert view.next_deadline == view.last_ping + timedelta(hours=25)


async def test_a_second_miss_joins_the_open_incident(hb: tuple[Harness, Heartbeats]) -> None:
    """checkout asks a human on recovery, so its incident stays open: the next miss joins it, not a new one."""
    h, beats = hb
    await beats.ping("queue-drain")
    await until(lambda: beats.view("queue-drain"), lambda v: v.status == "ok")
    await h.env.sleep(timedelta(minutes=12, seconds=5))
    first = await until(lambda: incident(h, "queue-drain"), lambda s: s is not None)
    await beats.ping("queue-drain")
    await until(lambda: incident(h, "queue-drain"), lambda s: s is not None and not s.alerts["queue-drain"].firing)
    await h.env.sleep(timedelta(minutes=12, seconds=5))
    again = await until(lambda: incident(h, "queue-drain"), lambda s: s is not None and s.alerts["queue-drain"].firing)
    assert again.incident_id == first.incident_id and again.status is not Status.RESOLVED
    assert again.alert_count == 2  # two misses, one incident
    assert (await beats.view("queue-drain")).misses == 2


async def test_a_paused_monitor_opens_nothing_until_resumed(hb: tuple[Harness, Heartbeats]) -> None:
    h, beats = hb
    await beats.ping("queue-drain")
    paused = await beats.pause("queue-drain", Actor.human("alice"), True, "queue migration")
    assert paused.status == "paused" and paused.paused_by == "human:alice" and paused.next_deadline is None
    await h.env.sleep(timedelta(hours=3))
    assert await incident(h, "queue-drain") is None
    assert (await beats.view("queue-drain")).pause_reason == "queue migration"
    resumed = await beats.pause("queue-drain", Actor.human("alice"), False)
    assert resumed.status == "ok" and resumed.next_deadline is not None
    await h.env.sleep(timedelta(minutes=11, seconds=50))
    assert await incident(h, "queue-drain") is None, "the clock ran while paused"
    await h.env.sleep(timedelta(seconds=20))
    await until(lambda: incident(h, "queue-drain"), lambda s: s is not None)


async def test_a_monitor_never_pinged_can_be_paused_and_is_listed_as_never(hb: tuple[Harness, Heartbeats]) -> None:
    _, beats = hb
    views = {v.name: v for v in await beats.views()}
    assert views["nightly-backup"].status == "never" and views["nightly-backup"].last_ping is None
    paused = await beats.pause("nightly-backup", Actor.human("bob"), True)
    assert paused.status == "paused" and paused.last_ping is None
