"""Earned autonomy, in virtual time: an agent climbs SEV2's ladder exactly at its 20th clean SEV3 incident (not the
19th), a denial sends it back to the start, each incident decides by the level fixed when it opened, every move is
on the agent's record and told to the policy's owners, and the record survives a worker restart and
continue-as-new."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Unavailable
from incident.ids import workflow_id_for
from incident.models import Actor, Severity
from incident.record import AgentIncident, AgentView, Counts, Tally
from incident.state import IncidentPolicy
from tests.helpers.config import BASE_CONFIG, alert, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import SCOPE, entries, outcome, paged_count, state
from tests.helpers.temporal import Harness, harness, trusted
from tests.helpers.wait import until
from worker import build_worker
from workflows.agent import AgentRecord, AgentWorkflow, agent_workflow_id
from workflows.incident import IncidentWorkflow

LADDER = """
agents:
  triage: {token: triage-token-0123456789abcdef}
boundaries:
  custom_actions: [restart_pods]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity, restart_pods]
    approval: [rollback, customer_comms, resolve]
    never: [postmortem_conclusions]
  autonomy:
    SEV3: full
    SEV2: {start: approval, full_after: {clean: 20, at: SEV3}, demote_on: [denied, refused]}
  owners: [user:bob]
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
async def hl(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    text = BASE_CONFIG.split("services:")[0] + LADDER + "routing: {default_service: checkout}\n"
    async with httpx.AsyncClient() as http:
        yield await harness(ts_env, make_config(sink.url, base=text), http)


async def opened(h: Harness, key: str, severity: Severity) -> str:
    """An incident at `severity` whose first page went out and whose agents' levels are fixed in its policy."""
    policy = IncidentPolicy.snapshot(h.config, "checkout")
    await h.incidents.ingest(alert(key).model_copy(update={"severity": severity}), policy, SCOPE)
    wid = workflow_id_for(SCOPE, key)
    await until(lambda: paged_count(h, wid, level=1))
    await until(lambda: fixed(h, wid), lambda p: p.boundaries.earned is not None)
    return wid


async def fixed(h: Harness, wid: str) -> IncidentPolicy:
    p: IncidentPolicy = await h.client.get_workflow_handle(wid).query(IncidentWorkflow.policy)
    return p


async def record(h: Harness) -> AgentView:
    try:
        return await h.incidents.agent_record("triage")
    except Unavailable:  # asked as the record continues as new: unanswered on the test server, ask again
        return AgentView(agent="triage")


async def alone(h: Harness, wid: str) -> bool:
    """Whether triage's restart_pods runs without a human here (else it became an approval)."""
    reply = await h.incidents.request(wid, TRIAGE, "restart_pods", "pods wedged")
    assert reply.ok, reply.message
    return reply.approval_id is None


def clean_sev3(h: Harness, n: int) -> AgentIncident:
    rows = [Tally(actor="agent:triage", severity="SEV3", action="note", counts=Counts(asked=1, alone=1))]
    return AgentIncident(
        agent="triage",
        incident_id=f"INC-{n:06d}",
        severity="SEV3",
        resolved=True,
        completed_at=datetime.now(UTC),
        rows=rows,
        ladders=IncidentPolicy.snapshot(h.config, "checkout").boundaries.ladders(),
        owners=["user:bob"],
    )


async def test_promoted_after_the_twentieth_clean_sev3_demoted_by_a_denial_fixed_per_incident(
    hl: Harness, sink: Sink
) -> None:
    q = hl.task_queue
    async with hl.worker:
        agent = await hl.client.start_workflow(
            AgentWorkflow.run,
            AgentRecord(agent="triage", history_limit=20),
            id=agent_workflow_id(q, "triage"),
            task_queue=q,
        )
        for n in range(19):
            await agent.signal(AgentWorkflow.incident_done, clean_sev3(hl, n))
        view = await until(lambda: record(hl), lambda v: v.stats.incidents == 19)
        assert view.stats.levels() == {Severity.SEV2: "approval"} and view.stats.changes == []
        assert view.stats.ladder[Severity.SEV2].clean == 19, "19 clean SEV3s: one short"
        assert view.runs > 1, "the record continued as new, carrying the ladder"
        before = await opened(hl, f"{q}-before", Severity.SEV2)
        assert (await fixed(hl, before)).boundaries.earned == {"triage": {Severity.SEV2: "approval"}}
        assert not await alone(hl, before), "at the ladder's start, SEV2 restart_pods needs approval"

        twentieth = await opened(hl, f"{q}-twentieth", Severity.SEV3)  # the 20th clean SEV3, a real incident
        await hl.incidents.note(twentieth, TRIAGE, "error rate falling")
        await hl.incidents.resolve(twentieth, ALICE, "recovered")
        await outcome(hl, twentieth)
        view = await until(lambda: record(hl), lambda v: v.stats.levels() == {Severity.SEV2: "full"})
        [up] = view.stats.changes
        assert (up.severity, up.from_level, up.to_level) == (Severity.SEV2, "approval", "full")
        told = await until(lambda: asyncio.sleep(0, sink.to("/bob", "notice")), lambda found: len(found) == 1)
        assert "agent:triage promoted at SEV2: approval -> full" in told[0]["json"]["notice"]
        assert not sink.to("/bob", "page"), "told, never paged"

        assert not await alone(hl, before), "an incident opened before the promotion keeps its level"
        after = await opened(hl, f"{q}-after", Severity.SEV2)
        assert (await fixed(hl, after)).boundaries.earned == {"triage": {Severity.SEV2: "full"}}
        [told_after] = entries(await state(hl, after), "autonomy")
        assert told_after.text == (
            "autonomy fixed for this incident: agent:triage SEV2 full (earned); others at the start (SEV2 approval)"
        )
        assert await alone(hl, after), "promoted: SEV2 restart_pods runs alone"

        asked = await hl.incidents.request(after, TRIAGE, "rollback", "v42 is the only change")
        await hl.incidents.deny(after, ALICE, asked.approval_id or "", "v42 is fine")
        await hl.incidents.resolve(after, ALICE, "recovered")
        await outcome(hl, after)
        view = await until(lambda: record(hl), lambda v: len(v.stats.changes) == 2)
        down = view.stats.changes[-1]
        assert (down.from_level, down.to_level) == ("full", "approval") and "denied" in down.why
        assert view.stats.ladder[Severity.SEV2].clean == 0, "the count begins again"
        await until(lambda: asyncio.sleep(0, sink.to("/bob", "notice")), lambda found: len(found) == 2)
        again = await opened(hl, f"{q}-again", Severity.SEV2)
        assert not await alone(hl, again), "demoted: back to approval"
        assert (await record(hl)).stats.by_severity["SEV3"].clean == 20


async def test_the_ladder_survives_a_worker_restart(dev_env: WorkflowEnvironment, sink: Sink) -> None:
    """On the dev server (a worker that stops hands its cached workflows back): 19 clean SEV3s told under one
    worker, continuing as new; the 20th under the next worker promotes, and the owners are told."""
    text = BASE_CONFIG.split("services:")[0] + LADDER + "routing: {default_service: checkout}\n"
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url, base=text), http)
        wid = agent_workflow_id(h.task_queue, "triage")
        async with h.worker:
            agent = await h.client.start_workflow(
                AgentWorkflow.run, AgentRecord(agent="triage", history_limit=20), id=wid, task_queue=h.task_queue
            )
            for n in range(19):
                await agent.signal(AgentWorkflow.incident_done, clean_sev3(h, n))
            await until(lambda: record(h), lambda v: v.stats.incidents == 19 and v.runs > 1)
        async with build_worker(h.client, h.config, http, task_queue=h.task_queue, trusted=trusted()):
            await agent.signal(AgentWorkflow.incident_done, clean_sev3(h, 19))
            view = await until(lambda: record(h), lambda v: v.stats.levels() == {Severity.SEV2: "full"}, timeout=30)
            assert [c.incident_id for c in view.stats.changes] == ["INC-000019"]
            await until(lambda: asyncio.sleep(0, sink.to("/bob", "notice")), lambda found: len(found) == 1)
