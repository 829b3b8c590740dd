"""Dedup and long-lived incidents: one incident per open dedup key, however events arrive."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import partial

import httpx
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from incident.ids import normalise_incident_id, workflow_id_for
from incident.models import Actor, Status
from incident.state import TIMELINE_ALERT_ENTRIES, IncidentInput, IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows import search_attributes as sa
from workflows.incident import IncidentWorkflow

SCOPE = "dedup"

QUERY_TIMEOUT = timedelta(seconds=3)


async def state(h: Harness, wid: str) -> IncidentState:
    # A query that reaches a run as it continues-as-new goes unanswered on the test server: ask again, not wait.
    return await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state, rpc_timeout=QUERY_TIMEOUT)


async def test_fifty_concurrent_events_make_one_incident_with_fifty_alerts(h: Harness) -> None:
    policy = IncidentPolicy.snapshot(h.config, "checkout")
    events = [alert("storm", summary=f"checkout 5xx, sample {i}") for i in range(50)]
    await asyncio.gather(*(h.incidents.ingest(e, policy, SCOPE) for e in events))
    wid = workflow_id_for(SCOPE, "storm")
    st = await until(lambda: state(h, wid), lambda s: s.alert_count == 50)
    assert st.status is Status.TRIGGERED
    assert sum(1 for e in st.timeline if e.kind == "opened") == 1
    # The timeline stays bounded: the first alerts one by one, the rest summed up in one entry.
    assert sum(1 for e in st.timeline if e.kind == "alert") == TIMELINE_ALERT_ENTRIES
    assert next(e for e in st.timeline if e.kind == "alerts_more").text.startswith("30 more alert event(s)")


async def test_a_trigger_after_resolve_opens_a_new_incident(h: Harness) -> None:
    policy = IncidentPolicy.snapshot(h.config, "checkout")
    await h.incidents.ingest(alert("flappy"), policy, SCOPE)
    wid = workflow_id_for(SCOPE, "flappy")
    first = await until(lambda: state(h, wid))
    first_run = (await h.client.get_workflow_handle(wid).describe()).run_id
    await h.incidents.resolve(wid, Actor.human("alice"), "fixed")
    await h.client.get_workflow_handle(wid).result()
    await h.incidents.ingest(alert("flappy", summary="again"), policy, SCOPE)
    second = await until(lambda: state(h, wid), lambda s: s.incident_id != first.incident_id)
    assert second.status is Status.TRIGGERED and second.alert_count == 1 and second.title == "again"
    assert normalise_incident_id(second.incident_id) == second.incident_id
    # The first incident is still readable, resolved, with its one alert.
    old = await h.client.get_workflow_handle(wid, run_id=first_run).query(IncidentWorkflow.state)
    assert old.status is Status.RESOLVED and old.alert_count == 1


async def test_history_is_bounded_by_continue_as_new_and_state_survives(ts_env: WorkflowEnvironment) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(), http)
        async with h.worker:
            policy = IncidentPolicy.snapshot(h.config, "checkout")
            wid = workflow_id_for(SCOPE, "long")
            await h.client.start_workflow(
                IncidentWorkflow.run,
                IncidentInput(policy=policy, incident_id="INC-7K2Q9M", history_limit=100),
                id=wid,
                task_queue=h.task_queue,
                start_signal="alert",
                start_signal_args=[alert("long")],
            )
            handle = h.client.get_workflow_handle(wid)
            first_run = (await handle.describe()).run_id
            await h.incidents.acknowledge(wid, Actor.human("alice"))
            for i in range(120):
                await handle.signal(IncidentWorkflow.alert, alert("long", summary=f"repeat {i}"))
            # The main loop continues-as-new once it is free (the first page may still be retrying meanwhile).
            await until(lambda: _run_id(h, wid), lambda run: run != first_run, timeout=30)
            st = await until(lambda: state(h, wid), lambda s: s.alert_count == 121)
            assert st.runs >= 2
            assert st.incident_id == "INC-7K2Q9M"
            assert st.status is Status.ACKNOWLEDGED and st.acknowledged_by == "human:alice"
            old = await h.client.get_workflow_handle(wid, run_id=first_run).describe()
            assert old.status is WorkflowExecutionStatus.CONTINUED_AS_NEW
            assert len((await handle.fetch_history()).events) < 200


async def _run_id(h: Harness, wid: str) -> str:
    return (await h.client.get_workflow_handle(wid).describe()).run_id


async def test_a_late_recovery_does_not_undo_a_newer_trigger(h: Harness) -> None:
    from datetime import timedelta

    from incident.models import AlertAction

    policy = IncidentPolicy.snapshot(h.config, "checkout")
    newer = alert("late")
    older = alert("late", action=AlertAction.RESOLVE).model_copy(
        update={"received_at": newer.received_at - timedelta(seconds=1)}
    )
    await h.incidents.ingest(newer, policy, SCOPE)
    await h.incidents.ingest(older, policy, SCOPE)
    wid = workflow_id_for(SCOPE, "late")
    st = await until(lambda: state(h, wid), lambda s: any(e.kind == "alert_late" for e in s.timeline))
    assert st.alerts["late"].firing and st.escalation.active


async def test_the_storm_buffer_forwards_every_alert_to_its_incident(h: Harness) -> None:
    from incident.batch import AlertBatch

    policy = IncidentPolicy.snapshot(h.config, "checkout")
    batches = [
        AlertBatch(
            workflow_id=workflow_id_for(SCOPE, f"buffered-{k}"),
            policy=policy,
            alerts=[
                alert(f"buffered-{k}", summary=f"{k}/{i}").model_copy(update={"event_id": f"{k}-{i}"}) for i in range(5)
            ],
        )
        for k in range(3)
    ]
    await h.incidents.buffer_alerts(0, batches)
    await h.incidents.buffer_alerts(0, batches[:1])  # a repeat of the first: counted once
    for k in range(3):
        wid = workflow_id_for(SCOPE, f"buffered-{k}")
        st = await until(partial(_state_or_none, h, wid), lambda s: s is not None and s.alert_count == 5)
        assert st.title == f"{k}/0"
    st = await until(lambda: state(h, workflow_id_for(SCOPE, "buffered-0")), lambda s: s.duplicates == 5)


async def _state_or_none(h: Harness, wid: str) -> IncidentState | None:
    try:
        return await state(h, wid)
    except Exception:
        return None


async def test_huge_details_stay_in_history_but_not_in_the_state_it_carries(h: Harness) -> None:
    policy = IncidentPolicy.snapshot(h.config, "checkout")
    big = alert("big-details").model_copy(update={"details": {"dump": "x" * 300_000}})
    await h.incidents.ingest(big, policy, SCOPE)
    st = await until(lambda: _state_or_none(h, workflow_id_for(SCOPE, "big-details")), lambda s: s is not None)
    assert "full payload is in the incident's history" in st.alerts["big-details"].details["truncated"]


async def test_an_alert_that_reaches_a_resolving_incident_opens_the_next_one(
    ts_env: WorkflowEnvironment, sink: Sink
) -> None:
    """A recovery that resolves (on_recovery: resolve) and a new trigger in the same batch: the resolved incident
    does not absorb the trigger; it opens the next incident on the same key."""
    from incident.models import AlertAction

    config = make_config(sink.url)
    config.services["checkout"].on_recovery = "resolve"
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, config, http)
        async with h.worker:
            policy = IncidentPolicy.snapshot(config, "checkout")
            wid = workflow_id_for(SCOPE, "flap")
            await h.incidents.send_batch(wid, [alert("flap")], policy)
            first = await until(lambda: _state_or_none(h, wid), lambda s: s is not None)
            batch = [alert("flap", action=AlertAction.RESOLVE), alert("flap", summary="flapped again")]
            await h.incidents.send_batch(wid, batch, policy)
            second = await until(
                lambda: _state_or_none(h, wid), lambda s: s is not None and s.incident_id != first.incident_id
            )
            assert second.title == "flapped again" and second.alert_count == 1
            desc = await h.client.get_workflow_handle(wid).describe()
            assert desc.typed_search_attributes.get(sa.INCIDENT_ID) == second.incident_id
