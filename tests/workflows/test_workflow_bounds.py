"""What an incident carries stays bounded: big requests are refused, a long incident carries the story of its
timeline and not all of it, and a run continues as new on history size as well as length."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from rich.console import Console
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from gateway.render import print_incident
from incident.ids import workflow_id_for
from incident.models import Actor
from incident.state import IncidentInput, IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import SCOPE, entries, idle, paged_count
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow
from workflows.messages import ActionRequest, NoteRequest

QUERY_TIMEOUT = timedelta(seconds=5)
IN_FLIGHT = 8
"""Updates sent at once: under Temporal's limit of in-flight updates per workflow."""


async def settled(h: Harness, wid: str) -> IncidentState | None:
    try:
        st: IncidentState = await h.client.get_workflow_handle(wid).query(
            IncidentWorkflow.state, rpc_timeout=QUERY_TIMEOUT
        )
        return st
    except Exception:
        return None


async def start(h: Harness, key: str, **inp: Any) -> tuple[str, WorkflowHandle[Any, Any]]:
    policy = IncidentPolicy.snapshot(h.config, "checkout")
    wid = workflow_id_for(SCOPE, key)
    await h.client.start_workflow(
        IncidentWorkflow.run,
        IncidentInput(policy=policy, incident_id="INC-7K2Q9M", **inp),
        id=wid,
        task_queue=h.task_queue,
        start_signal="alert",
        start_signal_args=[alert(key)],
    )
    await until(lambda: paged_count(h, wid, level=1))
    return wid, h.client.get_workflow_handle(wid)


async def retrying(send: Any, attempts: int = 20) -> Any:
    """Send an update again while the run it reached is continuing as new (the next run takes it)."""
    for attempt in range(attempts):
        try:
            return await send()
        except WorkflowUpdateFailedError:
            raise
        except Exception:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.2)
    return None


async def test_ten_thousand_notes_and_five_thousand_alerts_still_page_level_two_on_time(
    ts_env: WorkflowEnvironment, sink: Sink
) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url), http)
        async with h.worker:
            wid, handle = await start(h, "huge")
            alice = Actor.human("alice")
            gate = asyncio.Semaphore(IN_FLIGHT)
            text = "checked the dashboards again; " + "n" * 270

            async def note(i: int) -> None:
                async with gate:
                    reply = await retrying(lambda: h.incidents.note(wid, alice, f"{i}: {text}"))
                    assert reply.ok

            async def alerts() -> None:
                for b in range(50):
                    batch = [
                        alert("huge", summary=f"pod {b}-{i} 5xx", alert_key=f"pod-{b}-{i}").model_copy(
                            update={"labels": {"pod": f"checkout-{b}-{i}", "zone": "eu-west-1a" * 20}}
                        )
                        for i in range(100)
                    ]
                    await retrying(lambda batch=batch: handle.signal(IncidentWorkflow.alerts, batch))

            await asyncio.gather(alerts(), *(note(i) for i in range(10_000)))
            st = await until(lambda: settled(h, wid), lambda s: s is not None and s.alert_count == 5_001, timeout=60)
            assert st.runs > 2 and st.timeline_left > 0, "older entries stay in earlier runs' histories"
            assert len(st.timeline) < 1_000
            assert entries(st, "opened") and entries(st, "paged"), "the story of the incident is carried"
            shown = Console(record=True, width=200)
            print_incident(shown, st)
            assert f"{st.timeline_left} earlier timeline entries are not shown" in shown.export_text()
            await idle(h, wid)
            await h.env.sleep(timedelta(minutes=5, seconds=5))
            await until(lambda: paged_count(h, wid, level=2), timeout=30)
            st = await until(lambda: settled(h, wid), lambda s: s is not None)
            level2 = next(e for e in entries(st, "paged") if e.data["level"] == 2)
            assert level2.at - st.opened_at < timedelta(minutes=5, seconds=3)


async def test_oversized_requests_are_refused_and_the_incident_goes_on(ts_env: WorkflowEnvironment, sink: Sink) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url), http)
        async with h.worker:
            wid, handle = await start(h, "oversized", history_limit=100)
            triage = Actor.agent("triage")
            big = ActionRequest.model_construct(
                actor=triage, action="rollback", params={"version": "v" * 1_100_000}, text=None, rationale="bad"
            )
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(IncidentWorkflow.request, big)
            many = ActionRequest.model_construct(
                actor=triage,
                action="rollback",
                params={f"p{i}": "x" * 1_900 for i in range(20)},
                text=None,
                rationale="bad",
            )
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(IncidentWorkflow.request, many)
            long_note = NoteRequest.model_construct(actor=Actor.human("alice"), text="x" * 5_000)
            with pytest.raises(WorkflowUpdateFailedError):
                await handle.execute_update(IncidentWorkflow.note, long_note)
            for i in range(40):
                await handle.signal(IncidentWorkflow.alert, alert("oversized", summary=f"repeat {i}"))
            st = await until(lambda: settled(h, wid), lambda s: s is not None and s.runs >= 2, timeout=30)
            assert not st.approvals
            await idle(h, wid)
            await h.env.sleep(timedelta(minutes=5, seconds=5))
            await until(lambda: paged_count(h, wid, level=2), timeout=30)


async def test_a_run_continues_as_new_on_history_size(ts_env: WorkflowEnvironment, sink: Sink) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url), http)
        async with h.worker:
            wid, handle = await start(h, "bytes", history_limit=50_000, history_bytes=1_000_000)
            first_run = (await handle.describe()).run_id
            for i in range(12):
                big = alert("bytes", summary=f"dump {i}").model_copy(update={"details": {"dump": "x" * 120_000}})
                await handle.signal(IncidentWorkflow.alert, big)
            st = await until(lambda: settled(h, wid), lambda s: s is not None and s.runs >= 2, timeout=30)
            assert st.alert_count == 13
            old = h.client.get_workflow_handle(wid, run_id=first_run)
            assert len((await old.fetch_history()).events) < 200


async def test_the_client_names_what_is_too_big_in_a_request(ts_env: WorkflowEnvironment, sink: Sink) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url), http)
        async with h.worker:
            wid, _ = await start(h, "client-bounds")
            with pytest.raises(Refused, match=r"params\.version: String should have at most 1000 characters"):
                await h.incidents.request(wid, Actor.agent("triage"), "rollback", "bad", {"version": "v" * 2_000})
            with pytest.raises(Refused, match="request_id"):
                await h.incidents.request(wid, Actor.agent("triage"), "restart_pods", "x", request_id="no spaces")
