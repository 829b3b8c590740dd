"""An agent's record, in virtual time: a completed incident tells the agent's own workflow what it asked and what
became of it, per severity and action; clean incidents are counted; the record survives continue-as-new."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.models import Actor
from incident.record import AgentIncident, AgentView, Counts, Tally
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import open_incident, outcome
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows.agent import AgentRecord, AgentWorkflow, agent_workflow_id

BOUNDARIES = """
boundaries:
  custom_actions: [restart_pods]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity, restart_pods]
    approval: [rollback, customer_comms, resolve]
    never: [postmortem_conclusions]
services:
  checkout:
    escalation: two-levels
    actions:
      restart_pods:
        webhook: {url: "SINK/deploy/{service}/restart"}
      rollback:
        webhook: {url: "SINK/deploy/{service}/rollback"}
"""
TRIAGE = Actor.agent("triage")
ALICE = Actor.human("alice")


@pytest.fixture
async def hr(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    text = BASE_CONFIG.split("services:")[0] + BOUNDARIES + "routing: {default_service: checkout}\n"
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url, base=text), http)
        async with h.worker:
            yield h


async def record(h: Harness) -> AgentView:
    return await h.incidents.agent_record("triage")


async def test_a_completed_incident_is_counted_per_severity_and_action(hr: Harness, sink: Sink) -> None:
    wid = await open_incident(hr, key=f"{hr.task_queue}-a")
    await hr.incidents.request(wid, TRIAGE, "restart_pods", "pods wedged")
    await hr.incidents.request(wid, TRIAGE, "restart_pods", "still wedged")
    asked = await hr.incidents.request(wid, TRIAGE, "rollback", "v42 is the only change")
    await hr.incidents.approve(wid, ALICE, asked.approval_id or "")
    denied = await hr.incidents.request(wid, TRIAGE, "rollback", "v41 as well")
    await hr.incidents.deny(wid, ALICE, denied.approval_id or "", "v41 is fine")
    for action in ("postmortem_conclusions", "rollbakk"):
        with pytest.raises(Refused):
            await hr.incidents.request(wid, TRIAGE, action, "why not")
    assert (await record(hr)).stats.incidents == 0, "nothing is told before the incident completes"
    await hr.incidents.resolve(wid, ALICE, "rolled back")
    await outcome(hr, wid)

    view = await until(lambda: record(hr), lambda v: v.stats.incidents == 1)
    sev = view.stats.by_severity["SEV2"]
    assert (sev.incidents, sev.resolved, sev.clean) == (1, 1, 0), "a denial and refusals: not clean"
    assert sev.actions["restart_pods"] == Counts(asked=2, alone=2)
    assert sev.actions["rollback"] == Counts(asked=2, approval=2, approved=1, denied=1)
    assert sev.actions["postmortem_conclusions"] == Counts(asked=1, never=1)
    assert sev.actions["(other)"] == Counts(asked=1, undefined=1), "a name the policy does not know"
    assert [(line.clean, line.asked) for line in view.stats.recent] == [(False, 6)]

    clean = await open_incident(hr, key=f"{hr.task_queue}-b")
    await hr.incidents.note(clean, TRIAGE, "error rate falling")
    await hr.incidents.resolve(clean, ALICE, "recovered")
    view = await until(lambda: record(hr), lambda v: v.stats.incidents == 2)
    sev = view.stats.by_severity["SEV2"]
    assert (sev.incidents, sev.clean) == (2, 1)
    assert sev.actions["note"] == Counts(asked=1, alone=1)
    assert [line.clean for line in view.stats.recent] == [False, True]


async def test_the_record_survives_continue_as_new_and_counts_an_incident_once(hr: Harness) -> None:
    wid = agent_workflow_id(hr.task_queue, "triage")
    handle = await hr.client.start_workflow(
        AgentWorkflow.run, AgentRecord(agent="triage", history_limit=20), id=wid, task_queue=hr.task_queue
    )
    now = datetime.now(UTC)
    for i in range(30):
        rows = [Tally(actor="agent:triage", severity="SEV3", action="note", counts=Counts(asked=1, alone=1))]
        inc = AgentIncident(
            agent="triage", incident_id=f"INC-{i:06d}", severity="SEV3", resolved=True, completed_at=now, rows=rows
        )
        await handle.signal(AgentWorkflow.incident_done, inc)
        if i == 3:
            await handle.signal(AgentWorkflow.incident_done, inc)  # told twice (a retried activity): counted once
    view = await until(lambda: record(hr), lambda v: v.stats.incidents == 30 and v.runs > 1)
    sev = view.stats.by_severity["SEV3"]
    assert (sev.incidents, sev.clean, sev.actions["note"].alone) == (30, 30, 30)
    assert [line.incident_id for line in view.stats.recent][-1] == "INC-000029"


async def test_an_agent_without_a_record_shows_an_empty_one(hr: Harness) -> None:
    view = await record(hr)
    assert view == AgentView(agent="triage") and view.runs == 0
