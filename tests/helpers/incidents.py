"""Driving and reading one incident on the time-skipping server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType

from incident.ids import workflow_id_for
from incident.models import IncidentResult
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import alert
from tests.helpers.temporal import Harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

SCOPE = "test"
QUERY_TIMEOUT = timedelta(seconds=3)


async def open_incident(h: Harness, key: str | None = None, service: str = "checkout") -> str:
    """Open an incident on a key of its own (the test server is shared) and wait for the level-1 page."""
    key = key or f"{h.task_queue}-checkout-5xx"
    h.key = key
    await h.incidents.ingest(alert(key, service=service), IncidentPolicy.snapshot(h.config, service), SCOPE)
    wid = workflow_id_for(SCOPE, key)
    await until(lambda: paged_count(h, wid, level=1))
    return wid


async def state(h: Harness, wid: str) -> IncidentState:
    # A query that reaches a run as it continues-as-new goes unanswered on the test server: ask again, not wait.
    st: IncidentState = await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
    return st


async def paged_count(h: Harness, wid: str, level: int) -> int:
    try:
        st = await state(h, wid)
    except Exception:
        return 0
    return sum(1 for e in st.timeline if e.kind == "paged" and (e.data or {}).get("level") == level)


def entries(st: IncidentState, kind: str) -> list[Any]:
    return [e for e in st.timeline if e.kind == kind]


async def outcome(h: Harness, wid: str) -> IncidentResult:
    """What the incident's run returned once it closed (the test server skips time while waiting)."""
    result: IncidentResult = await h.client.get_workflow_handle(wid, result_type=IncidentResult).result()
    return result


WORKFLOW_TASK_EVENTS = {
    EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
}


async def idle(h: Harness, wid: str) -> None:
    """Wait until the incident's latest run has no workflow task in flight, before skipping time. The time-skipping
    server strands a run whose task cancels a timer that fired while the task was with the worker
    (temporalio/sdk-java#3088): a skip that lands on a deadline while a task re-arms it would do that."""

    async def settled() -> bool:
        history = await h.client.get_workflow_handle(wid).fetch_history()
        last = [e.event_type for e in history.events if e.event_type in WORKFLOW_TASK_EVENTS]
        return bool(last) and last[-1] == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED

    await until(settled, timeout=30)
