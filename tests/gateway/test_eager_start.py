"""A worker in the intake's process: new incidents start eagerly (the first workflow task comes back in the start's
answer), and dedup holds as with signal-with-start: one incident per open key, however many events arrive at once;
a trigger after the resolve opens the next one; an acknowledge with no open incident opens nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from incident.ids import workflow_id_for
from incident.models import Actor, AlertAction, Status
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

SCOPE = "eager"


@pytest.fixture
async def eh(dev_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url), http)
        h.incidents.eager = True  # the worker runs on the same client, as `baton intake --with-worker` runs it
        async with h.worker:
            yield h


async def state(h: Harness, wid: str) -> IncidentState:
    st: IncidentState = await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state)
    return st


async def test_concurrent_events_started_eagerly_make_one_incident_and_page(eh: Harness, sink: Sink) -> None:
    policy = IncidentPolicy.snapshot(eh.config, "checkout")
    key = f"{eh.task_queue}-storm"
    events = [alert(key, summary=f"checkout 5xx, sample {i}") for i in range(30)]
    got = await asyncio.gather(*(eh.incidents.ingest(e, policy, SCOPE) for e in events))
    assert all(g.recorded for g in got)
    wid = workflow_id_for(SCOPE, key)
    st = await until(lambda: state(eh, wid), lambda s: s.alert_count == 30 and bool(s.paged))
    assert sum(1 for e in st.timeline if e.kind == "opened") == 1
    runs = [w async for w in eh.client.list_workflows(f"WorkflowId = '{wid}'")]
    assert len(runs) == 1, f"one run for one open key, got {len(runs)}"


async def test_a_trigger_after_the_resolve_starts_the_next_incident_eagerly(eh: Harness) -> None:
    policy = IncidentPolicy.snapshot(eh.config, "checkout")
    key = f"{eh.task_queue}-flappy"
    wid = workflow_id_for(SCOPE, key)
    await eh.incidents.ingest(alert(key), policy, SCOPE)
    first = await until(lambda: state(eh, wid))
    await eh.incidents.resolve(wid, Actor.human("alice"), "fixed")
    await eh.client.get_workflow_handle(wid).result()
    await eh.incidents.ingest(alert(key, summary="again"), policy, SCOPE)
    second = await until(lambda: state(eh, wid), lambda s: s.incident_id != first.incident_id)
    assert second.status is Status.TRIGGERED and second.alert_count == 1 and second.title == "again"


async def test_an_acknowledge_without_an_open_incident_opens_nothing(eh: Harness) -> None:
    policy = IncidentPolicy.snapshot(eh.config, "checkout")
    key = f"{eh.task_queue}-nothing"
    got = await eh.incidents.ingest(alert(key, action=AlertAction.ACKNOWLEDGE), policy, SCOPE)
    assert not got.recorded and "no open incident" in got.message
