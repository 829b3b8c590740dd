"""Driving and reading one incident on the time-skipping server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

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
