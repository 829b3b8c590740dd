"""Record the workflow histories the replay test checks against: `python -m tests.helpers.record_histories [NAME...]`.

Re-record only for a deliberate, compatible change with nothing running on the old code; otherwise keep the
saved histories and use `workflow.patched` so running incidents replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from gateway.temporal import register_search_attributes
from gateway.up import installed_binary
from incident.ids import workflow_id_for
from incident.models import Actor, AlertAction
from incident.state import IncidentPolicy
from tests.helpers.config import alert, make_config
from tests.helpers.temporal import Harness, harness

HISTORIES = Path(__file__).parents[1] / "fixtures" / "histories"


async def record(scenario: Callable[[WorkflowEnvironment, Harness, IncidentPolicy], Awaitable[str]]) -> str:
    """Run `scenario` (which returns the workflow id it drove to completion) with a worker on a fresh
    time-skipping server, and return that workflow's history as JSON."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    try:
        async with httpx.AsyncClient() as http:
            h = await harness(env, make_config(), http)
            async with h.worker:
                wid = await scenario(env, h, IncidentPolicy.snapshot(h.config, "checkout"))
                handle = env.client.get_workflow_handle(wid)
                await handle.result()
                return (await handle.fetch_history()).to_json()
    finally:
        await env.shutdown()


async def full_lifecycle(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """An incident through every path: pages, escalation, a refusal, recovery, ack, ack timeout, resolve."""
    await h.incidents.ingest(alert("replay"), policy, "replay")
    wid = workflow_id_for("replay", "replay")
    await asyncio.sleep(1)
    await env.sleep(timedelta(minutes=5, seconds=1))
    await h.incidents.acknowledge(wid, Actor.agent("triage"))
    await h.incidents.ingest(alert("replay", summary="again"), policy, "replay")
    await h.incidents.ingest(alert("replay", action=AlertAction.RESOLVE), policy, "replay")
    await h.incidents.ingest(alert("replay", summary="and again"), policy, "replay")
    with contextlib.suppress(Exception):
        await h.incidents.resolve(wid, Actor.agent("triage"), "done?")
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    await env.sleep(timedelta(minutes=31))
    await h.incidents.note(wid, Actor.human("bob"), "rolled back")
    await h.incidents.acknowledge(wid, Actor.human("bob"))
    await h.incidents.resolve(wid, Actor.human("bob"), "rollback fixed it")
    return wid


async def approvals(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """Boundaries at work: an agent's rollback waits, escalates unanswered, is approved and runs; an undefined
    action is refused; the agent's resolve becomes an approval a human gives."""
    await h.incidents.ingest(alert("approvals"), policy, "replay")
    wid = workflow_id_for("replay", "approvals")
    await asyncio.sleep(1)
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    triage = Actor.agent("triage")
    await h.incidents.request(wid, triage, "rollback", "v42 is the only change", {"version": "v41"})
    with contextlib.suppress(Exception):
        await h.incidents.request(wid, triage, "drop_database", "it is corrupt")
    await env.sleep(timedelta(minutes=16))
    await h.incidents.approve(wid, Actor.human("dave"), "A1")
    await asyncio.sleep(1)
    await h.incidents.resolve(wid, triage, "error rate at baseline")
    await h.incidents.approve(wid, Actor.human("alice"), "A2")
    return wid


RECORDINGS = {"incident_full_lifecycle": full_lifecycle, "incident_approvals": approvals}


def main() -> None:
    """Record the histories named on the command line (default: all of them)."""
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or list(RECORDINGS):
        path = HISTORIES / f"{name}.json"
        path.write_text(asyncio.run(record(RECORDINGS[name])))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
