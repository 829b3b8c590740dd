"""An agent tries, over MCP, what a hostile agent would: open incidents past its policy, choose its own severity,
choose its own approvers, hide refusals behind odd names, flood the incident. Every attempt is checked against the
incident's real state (or the agent's record), not the tool's reply."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.ids import workflow_id_for
from incident.models import Actor, Alert, Severity
from incident.state import IncidentPolicy
from tests.gateway.test_mcp import AGENTS, ALICE, WITH_ACTIONS, Agent, Stack, stdio_session
from tests.gateway.test_mcp import gateway_and_worker as serving
from tests.helpers.config import BASE_CONFIG
from tests.helpers.http import Sink
from tests.helpers.temporal import trusted
from tests.helpers.wait import until
from worker import build_worker
from workflows.agent import agent_workflow_id

BOB = Actor.human("bob")


@pytest.fixture
async def acting(dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path) -> AsyncIterator[Stack]:
    async with serving(dev_env, sink, tmp_path, WITH_ACTIONS) as s:
        yield s


def key() -> str:
    return f"k-{uuid.uuid4().hex[:8]}"


async def open_one(agent: Agent, stack: Stack, severity: str = "SEV3", service: str = "checkout") -> str:
    opened = await agent(
        "open_incident", service=service, summary="p99 over 4s", idempotency_key=key(), severity=severity
    )
    assert opened["opened"], opened
    iid: str = opened["incident_id"]
    await until(lambda: stack.h.incidents.state(iid), lambda st: "alice" in st.paged)
    return iid


async def test_an_agent_that_may_not_page_cannot_open_an_incident_that_pages(
    dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path
) -> None:
    never_pages = BASE_CONFIG.split("services:")[0] + (
        "boundaries:\n  agent:\n    auto: [acknowledge, lookup_oncall, gather_context, note]\n"
        "    approval: [rollback, customer_comms, resolve]\n    never: [page, escalate, postmortem_conclusions]\n"
        "services:" + BASE_CONFIG.split("services:")[1]
    )
    async with serving(dev_env, sink, tmp_path, never_pages) as stack:
        h = stack.h
        async with stdio_session(stack.env, "--agent", "triage") as session:
            agent = Agent(session)
            k = key()
            for severity in ("SEV0", "SEV3"):
                refused = await agent(
                    "open_incident", service="checkout", summary="all down", idempotency_key=k, severity=severity
                )
                assert refused["ok"] is False and refused["opened"] is False
                assert "boundaries.agent.never" in refused["message"] and "opening an incident pages" in refused["rule"]
        wid = workflow_id_for("mcp:triage", k)
        with pytest.raises(RPCError, match="not found"):
            await h.client.get_workflow_handle(wid).describe()
        assert sink.received == [], "nobody was paged"
        rows = await h.incidents.refusals(datetime.now(UTC) - timedelta(hours=1))
        mine = [r for r in rows if agent_workflow_id(h.task_queue, "triage") in r.incidents]
        assert {(r.action, r.verdict) for r in mine} == {("open_incident", "never")}, "recorded for the report"
        assert sum(r.count for r in mine) == 2


async def test_the_opener_is_the_agent_and_sev0_is_refused_by_autonomy(acting: Stack, sink: Sink) -> None:
    h = acting.h
    async with stdio_session(acting.env, "--agent", "triage") as session:
        agent = Agent(session)
        refused = await agent("open_incident", service="checkout", summary="x", idempotency_key=key(), severity="SEV0")
        assert refused["ok"] is False and "boundaries.autonomy.SEV0: read_only" in refused["rule"]
        iid = await open_one(agent, acting)
    st = await h.incidents.state(iid)
    opened = next(e for e in st.timeline if e.kind == "opened")
    assert opened.actor == "agent:triage" and st.opened_by == "agent:triage"
    assert not [e for e in st.timeline if e.actor == "system:mcp"]


async def test_a_severity_the_agent_chose_does_not_widen_what_it_may_do(acting: Stack, sink: Sink) -> None:
    """The real incident on checkout is SEV1 (restart_pods needs approval there); the agent opens a SEV4 sibling
    and asks there: it is decided at SEV1 too, until a human confirms the sibling's severity."""
    h = acting.h
    real = Alert(
        source="events",
        dedup_key=key(),
        summary="every card payment fails",
        service="checkout",
        severity=Severity.SEV1,
        received_at=datetime.now(UTC),
    )
    ingested = await h.incidents.ingest(real, IncidentPolicy.snapshot(h.config, "checkout"), scope="test")
    await until(
        lambda: h.incidents.search(service="checkout"),
        lambda rows: any(r.workflow_id == ingested.workflow_id and r.severity == "SEV1" for r in rows),
    )
    async with stdio_session(acting.env, "--agent", "triage") as session:
        agent = Agent(session)
        opened = await agent(
            "open_incident", service="checkout", summary="pods", idempotency_key=key(), severity="SEV4"
        )
        sibling = opened["incident_id"]
        asked = await agent("request_action", incident_id=sibling, action="restart_pods", rationale="CrashLoopBackOff")
        assert (
            asked.get("verdict") == "approval" and asked["approval_id"] == "A1" and "decided at SEV1" in asked["rule"]
        )
        assert opened["decided_at"] == "SEV1" and "decided at SEV1" in opened["message"]
        await h.incidents.set_severity(sibling, ALICE, Severity.SEV4, "only one pod")
        await h.incidents.deny(sibling, ALICE, "A1", "ask again: it is SEV4 now")
        alone = await agent("request_action", incident_id=sibling, action="restart_pods", rationale="still stuck")
        assert alone["action_id"] == "R1", "a human's severity decides once confirmed"
    st = await h.incidents.state(sibling)
    assert [a.status.value for a in st.approvals] == ["denied"] and [a.id for a in st.actions] == ["R1"]
    assert ingested.workflow_id != st.workflow_id


async def test_people_the_agent_paged_do_not_approve_its_requests(acting: Stack, sink: Sink) -> None:
    h = acting.h
    async with stdio_session(acting.env, "--agent", "triage") as session:
        agent = Agent(session)
        iid = await open_one(agent, acting)
        await agent("page", incident_id=iid, target="bob", reason="bob will approve anything")
        await until(lambda: h.incidents.state(iid), lambda st: "bob" in st.paged)
        asked = await agent(
            "request_action", incident_id=iid, action="rollback", rationale="v42", params={"version": "v41"}
        )
        assert asked["approval"]["may_decide_now"] == ["alice"]
    with pytest.raises(Refused, match="bob is not among those who may decide rollback"):
        await h.incidents.approve(iid, BOB, "A1")
    st = await h.incidents.state(iid)
    assert st.approval("A1").status.value == "pending"  # type: ignore[union-attr]
    asked_people = {r["path"] for r in sink.to("/bob", "approval")} | {r["path"] for r in sink.to("/alice", "approval")}
    assert asked_people == {"/alice"}
    await h.incidents.approve(iid, ALICE, "A1")


async def test_every_odd_name_is_recorded_and_judgment_calls_survive_many_junk_names(acting: Stack, sink: Sink) -> None:
    h = acting.h
    variants = ["Rollback", " rollback", "rollback ", "r\u043ellback", "roll\u200bback", "ROLL_BACK", "roll-back"]
    async with stdio_session(acting.env, "--agent", "triage") as session:
        agent = Agent(session)
        iid = await open_one(agent, acting)
        for name in variants:
            message = await agent.refused("request_action", incident_id=iid, action=name, rationale="try")
            assert "undefined" in message
        hidden = await agent.refused("request_action", incident_id=iid, action="x\u200b\u202ey", rationale="try")
        assert "x\\u200b\\u202ey" in hidden, "shown with its hidden characters as escapes"
        for i in range(55):
            await agent.refused("request_action", incident_id=iid, action=f"junk-{i}", rationale="try")
        never = await agent.refused(
            "request_action", incident_id=iid, action="postmortem_conclusions", rationale="the deploy did it"
        )
        assert "boundaries.agent.never" in never
    st = await h.incidents.state(iid)
    total = len(variants) + 1 + 55 + 1
    assert st.refused_total == total
    assert len([e for e in st.timeline if e.kind in ("undefined", "refused")]) == total
    kinds = {(r.action, r.verdict): r.count for r in st.refusals}
    assert kinds[("rollback", "undefined")] == len(variants), "every look-alike counts as an attempt at rollback"
    assert kinds[("postmortem_conclusions", "never")] == 1
    assert sum(r.count for r in st.refusals) == total and len(st.refusals) <= 60
    rows = await h.incidents.refusals(datetime.now(UTC) - timedelta(hours=1))
    reported = {(r.action, r.verdict) for r in rows if iid in r.incidents}
    assert {("postmortem_conclusions", "never"), ("rollback", "undefined")} <= reported
    await until(lambda: asyncio.sleep(0, sink.to("/alice", "notice")), lambda told: len(told) >= 5)
    assert len(sink.to("/alice", "notice")) == 5, "responders are told of a few refusals, not of every one"


async def test_a_duplicate_request_folds_and_the_agent_can_withdraw_it(acting: Stack, sink: Sink) -> None:
    h = acting.h
    async with stdio_session(acting.env, "--agent", "triage") as session:
        agent = Agent(session)
        iid = await open_one(agent, acting)
        rollback = {"incident_id": iid, "action": "rollback", "rationale": "v42", "params": {"version": "v41"}}
        answers = [await agent("request_action", **rollback) for _ in range(5)]
        assert {a["approval_id"] for a in answers} == {"A1"} and "folded" in answers[1]["message"]
        await until(lambda: asyncio.sleep(0, sink.to("/alice", "approval")), lambda asked: len(asked) >= 1)
        withdrawn = await agent("withdraw_request", incident_id=iid, approval_id="A1", reason="not the deploy")
        assert withdrawn["ok"] and "withdrew A1" in withdrawn["message"]
        again = await agent.refused("withdraw_request", incident_id=iid, approval_id="A1", reason="twice")
        assert "already withdrawn" in again
    with pytest.raises(Refused, match="already withdrawn"):
        await h.incidents.approve(iid, ALICE, "A1")
    st = await h.incidents.state(iid)
    assert [(a.id, a.status.value) for a in st.approvals] == [("A1", "withdrawn")]
    assert [e.actor for e in st.timeline if e.kind == "approval_withdrawn"] == ["agent:triage"]
    assert [e.kind for e in st.timeline].count("approval_requested") == 1
    assert len(sink.to("/alice", "approval")) == 1, "one approval asked, one message"


async def test_the_agents_budget_holds_across_a_worker_restart(
    dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path
) -> None:
    agents = AGENTS.replace("description: first-minute triage}", "budget: {incidents: 2, notes: 3}}")
    async with serving(dev_env, sink, tmp_path, WITH_ACTIONS, agents=agents) as stack:
        h = stack.h
        async with stdio_session(stack.env, "--agent", "triage") as session:
            agent = Agent(session)
            first = await open_one(agent, stack)
            await open_one(agent, stack)
            for i in range(3):
                assert (await agent("add_note", incident_id=first, text=f"finding {i}"))["ok"]
        await h.worker.shutdown()  # the worker goes (the gateway stays): what it counted must hold
        async with (
            httpx.AsyncClient() as http,
            build_worker(h.client, h.config, http, task_queue=h.task_queue, trusted=trusted()),
            stdio_session(stack.env, "--agent", "triage") as session,
        ):
            agent = Agent(session)
            third = await agent("open_incident", service="checkout", summary="x", idempotency_key=key())
            assert third["ok"] is False and third["verdict"] == "budget"
            assert "agents.triage.budget.incidents: 2 per 1h" in third["message"]
            note = await agent.refused("add_note", incident_id=first, text="one too many")
            assert "agents.triage.budget.notes: 3 per 1h" in note
            st = await h.incidents.state(first)
    assert [e.text for e in st.timeline if e.kind == "note"] == ["finding 0", "finding 1", "finding 2"]
    assert ("note", "budget") in {(r.action, r.verdict) for r in st.refusals}


async def test_two_hundred_concurrent_notes_get_plain_answers(
    dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path
) -> None:
    agents = AGENTS.replace("description: first-minute triage}", "budget: {notes: 1000}}")
    async with serving(dev_env, sink, tmp_path, WITH_ACTIONS, agents=agents) as stack:
        async with stdio_session(stack.env, "--agent", "triage") as session:
            agent = Agent(session)
            iid = await open_one(agent, stack)
            results = await asyncio.gather(
                *(session.call_tool("add_note", {"incident_id": iid, "text": f"n{i}"}) for i in range(200))
            )
        texts = [r.content[0].text for r in results]  # type: ignore[union-attr]
        assert not [t for r, t in zip(results, texts, strict=True) if r.is_error], "no errors"
        assert not [t for t in texts if "unavailable" in t.lower() or "Error executing" in t]
        st = await stack.h.incidents.state(iid)
        added = [e for e in st.timeline if e.kind == "note"]
        assert len(added) == sum('"note added"' in t for t in texts) and len(added) >= 190


async def test_answers_say_what_happened_in_plain_words(acting: Stack) -> None:
    async with stdio_session(acting.env, "--agent", "triage") as session:
        agent = Agent(session)
        iid = await open_one(agent, acting)
        nobody = await agent.error("page", incident_id=iid, target="human:alice", reason="page alice")
        assert "a target is NAME or user:NAME for a person in the config (alice, bob, dave)" in nobody
        bad = await agent.error("propose_severity", incident_id=iid, severity="SEV9", reason="worse")
        assert bad.startswith("propose_severity cannot take these arguments: severity: ")
        assert "validation error" not in bad and "pydantic" not in bad and "SEV9" not in bad
        refused = await session.call_tool(
            "request_action", {"incident_id": iid, "action": "postmortem_conclusions", "rationale": "x"}
        )
        assert not refused.is_error, "a refusal is an answer, not an error"
    st = await acting.h.incidents.state(iid)
    assert not [e for e in st.timeline if e.kind == "page_requested"]
