"""The boundaries enforced in the workflow, in virtual time: requests, approvals, refusals, reload."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.approvals import ApprovalStatus
from incident.models import Actor, Severity, Status
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import entries, open_incident, outcome, state
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows import search_attributes as sa

ACTIONS = """
boundaries:
  custom_actions: [restart_pods, flush_cache]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity, restart_pods]
    approval: [rollback, customer_comms, resolve]
    never: [postmortem_conclusions]
  approvers: {default: [oncall], customer_comms: [role:comms]}
  roles: {comms: [bob]}
  two_person: [customer_comms]
  approval_timeout: 15m
services:
  checkout:
    escalation: two-levels
    customer_facing: true
    actions:
      rollback:
        params: {version: {pattern: "^v[0-9]+$"}}
        webhook: {url: "SINK/deploy/{service}/rollback", body: {version: "{version}", incident: "{incident_id}"}}
      restart_pods:
        webhook: {url: "SINK/deploy/{service}/restart"}
"""

TRIAGE = Actor.agent("triage")
ALICE, BOB, DAVE = Actor.human("alice"), Actor.human("bob"), Actor.human("dave")


@pytest.fixture
async def hb(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    """A worker whose config has action runners (webhooks to the sink), a role and a two-person rule."""
    text = BASE_CONFIG.split("services:")[0] + ACTIONS + "routing: {default_service: checkout}\n"
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, make_config(sink.url, base=text), http)
        async with hh.worker:
            yield hh


async def sent(sink: Sink, path: str, kind: str | None = None, at_least: int = 1) -> list[dict[str, Any]]:
    """What reached `path` (of `kind`), once at least `at_least` messages have."""

    async def found() -> list[dict[str, Any]]:
        return [r["json"] for r in sink.for_path(path) if kind is None or r["json"].get("kind") == kind]

    return await until(found, lambda msgs: len(msgs) >= at_least)


async def approval_status(h: Harness, wid: str, approval_id: str) -> ApprovalStatus:
    st = await state(h, wid)
    found = st.approval(approval_id)
    assert found is not None
    return found.status


async def test_agent_rollback_waits_for_the_oncall_and_runs_once_approved(hb: Harness, sink: Sink) -> None:
    wid = await open_incident(hb)
    pending = await hb.incidents.request(wid, TRIAGE, "rollback", "v42 is the only change", {"version": "v41"})
    assert pending.approval_id == "A1" and pending.verdict == "approval"
    ask = (await sent(sink, "/alice", "approval"))[0]
    assert ask["approval_id"] == "A1" and "baton approve" in ask["notice"] and "v42 is the only change" in ask["notice"]
    assert sink.for_path("/deploy/checkout/rollback") == [], "nothing runs before a human says yes"

    done = await hb.incidents.approve(wid, ALICE, "A1")
    assert "approved A1" in done.message
    call = {"json": (await sent(sink, "/deploy/checkout/rollback"))[0]}
    st = await state(hb, wid)
    assert call["json"] == {"version": "v41", "incident": st.incident_id}
    approval = st.approval("A1")
    assert approval and approval.status is ApprovalStatus.APPROVED and approval.decided_by == "human:alice"
    await until(lambda: state(hb, wid), lambda s: bool(entries(s, "action_ran")))
    st = await state(hb, wid)
    assert entries(st, "approval_requested")[0].actor == "agent:triage"
    assert entries(st, "approval_approved")[0].actor == "human:alice"
    assert entries(st, "action_ran")[0].actor == "human:alice", "the approver answers for what ran"


async def test_a_retried_request_answers_with_the_same_approval(hb: Harness, sink: Sink) -> None:
    wid = await open_incident(hb)

    async def ask(request_id: str) -> str | None:
        reply = await hb.incidents.request(
            wid, TRIAGE, "rollback", "v42 is the only change", {"version": "v41"}, request_id=request_id
        )
        assert reply.ok and reply.verdict == "approval"
        return reply.approval_id

    assert await ask("mcp-7") == "A1"
    assert await ask("mcp-7") == "A1", "a retry of the same request is the same approval"
    st = await state(hb, wid)
    assert [a.id for a in st.approvals] == ["A1"] and len(entries(st, "approval_requested")) == 1
    await hb.incidents.approve(wid, ALICE, "A1")
    await sent(sink, "/deploy/checkout/rollback")
    assert await ask("mcp-7") == "A1", "and still once it was decided: nothing new is asked or run"
    assert await ask("mcp-8") == "A2", "another request id is another request"
    st = await until(lambda: state(hb, wid), lambda s: bool(entries(s, "action_ran")))
    await sent(sink, "/alice", "notice")  # told after the approval was asked, and after A1 ran
    assert [a.id for a in st.approvals] == ["A1", "A2"] and len(entries(st, "approval_requested")) == 2
    assert [m["approval_id"] for m in await sent(sink, "/alice", "approval", at_least=2)] == ["A1", "A2"]
    assert len(sink.for_path("/deploy/checkout/rollback")) == 1


async def test_an_agent_cannot_approve_even_its_own_rollback(hb: Harness) -> None:
    wid = await open_incident(hb)
    await hb.incidents.request(wid, TRIAGE, "rollback", "bad deploy", {"version": "v41"})
    with pytest.raises(Refused) as refused:
        await hb.incidents.approve(wid, TRIAGE, "A1")
    assert refused.value.rule == "only humans decide approvals"
    st = await state(hb, wid)
    a1 = st.approval("A1")
    assert a1 is not None and a1.status is ApprovalStatus.PENDING
    assert st.refused_total == 1 and entries(st, "refused")[0].actor == "agent:triage"
    desc = await hb.client.get_workflow_handle(wid).describe()
    assert desc.typed_search_attributes.get(sa.BOUNDARY_REFUSALS) == 1
    memo = await desc.memo()
    assert memo["refusals"][0]["action"] == "approve A1" and memo["refusals"][0]["count"] == 1


async def test_approving_twice_or_unknown_or_without_the_right_is_an_error(hb: Harness) -> None:
    wid = await open_incident(hb)
    await hb.incidents.request(wid, TRIAGE, "rollback", "bad deploy", {"version": "v41"})
    with pytest.raises(Refused, match="no approval A7; pending: A1"):
        await hb.incidents.approve(wid, ALICE, "A7")
    with pytest.raises(Refused, match="bob is not among those who may decide rollback") as not_oncall:
        await hb.incidents.approve(wid, BOB, "A1")
    assert not_oncall.value.rule == "boundaries.approvers: oncall"
    with pytest.raises(Refused, match="a denial needs a reason"):
        await hb.incidents.deny(wid, ALICE, "A1", " ")
    await hb.incidents.approve(wid, ALICE, "a1")
    with pytest.raises(Refused, match="A1 was already approved by human:alice"):
        await hb.incidents.approve(wid, ALICE, "A1")
    with pytest.raises(Refused, match="already approved"):
        await hb.incidents.deny(wid, ALICE, "A1", "changed my mind")


async def test_denied_request_records_the_reason_and_runs_nothing(hb: Harness, sink: Sink) -> None:
    wid = await open_incident(hb)
    await hb.incidents.request(wid, TRIAGE, "rollback", "bad deploy", {"version": "v41"})
    await hb.incidents.deny(wid, ALICE, "A1", "the deploy is not the cause: the database is")
    st = await state(hb, wid)
    a1 = st.approval("A1")
    assert (
        a1 is not None
        and a1.status is ApprovalStatus.DENIED
        and a1.reason == "the deploy is not the cause: the database is"
    )
    assert "denied A1" in entries(st, "approval_denied")[0].text
    await hb.env.sleep(timedelta(minutes=30))
    assert sink.for_path("/deploy/checkout/rollback") == []


async def test_unanswered_approval_escalates_then_expires(hb: Harness, sink: Sink) -> None:
    wid = await open_incident(hb)
    await hb.incidents.acknowledge(wid, ALICE)  # the incident's own escalation stops; the approval's does not
    await hb.incidents.request(wid, TRIAGE, "rollback", "bad deploy", {"version": "v41"})
    await hb.env.sleep(timedelta(minutes=14, seconds=50))
    assert not [p for p in sink.for_path("/dave")], "level 2 was asked before approval_timeout"
    await hb.env.sleep(timedelta(seconds=15))
    asks = await sent(sink, "/dave")
    assert asks[0]["kind"] == "approval" and asks[0]["approval_id"] == "A1"
    st = await state(hb, wid)
    assert "unanswered for 15m" in entries(st, "approval_escalated")[0].text and "dave" in st.paged
    # No level left: the next timeout expires it, and an expired approval cannot be approved.
    await hb.env.sleep(timedelta(minutes=15, seconds=5))
    assert await approval_status(hb, wid, "A1") is ApprovalStatus.EXPIRED
    with pytest.raises(Refused, match=r"A1 expired at .*; it can no longer be decided"):
        await hb.incidents.approve(wid, DAVE, "A1")
    again = await hb.incidents.request(wid, TRIAGE, "rollback", "still failing", {"version": "v41"})
    assert again.approval_id == "A2"


async def test_agent_resolve_becomes_an_approval_and_the_approver_resolves(hb: Harness) -> None:
    wid = await open_incident(hb)
    pending = await hb.incidents.resolve(wid, TRIAGE, "error rate back to baseline for 15 minutes")
    assert pending.approval_id == "A1"
    assert (await state(hb, wid)).status is Status.TRIGGERED
    await hb.incidents.request(wid, TRIAGE, "rollback", "just in case", {"version": "v41"})
    await hb.incidents.approve(wid, ALICE, "A1")
    ended = await outcome(hb, wid)
    left = (await state(hb, wid)).approval("A2")
    assert left and left.status is ApprovalStatus.EXPIRED and "resolved before anyone decided" in (left.reason or "")
    assert ended.status is Status.RESOLVED and ended.resolved_by == "human:alice"
    assert ended.summary == "error rate back to baseline for 15 minutes"


async def test_never_and_undefined_are_refused_recorded_counted_and_told(hb: Harness, sink: Sink) -> None:
    wid = await open_incident(hb)
    with pytest.raises(Refused) as never:
        await hb.incidents.request(wid, TRIAGE, "postmortem_conclusions", "root cause is the deploy")
    assert never.value.rule == "boundaries.agent.never" and never.value.verdict == "never"
    with pytest.raises(Refused) as undefined:
        await hb.incidents.request(wid, TRIAGE, "drop_database", "it is corrupt")
    assert undefined.value.verdict == "undefined" and "drop_database is undefined" in str(undefined.value)
    with pytest.raises(Refused):
        await hb.incidents.request(wid, TRIAGE, "drop_database", "it is still corrupt")
    st = await state(hb, wid)
    assert st.refused_total == 3 and [r.count for r in st.refusals] == [1, 2]
    assert entries(st, "undefined")[0].actor == "agent:triage"
    told = await sent(sink, "/alice", "notice", at_least=2)
    assert any("drop_database" in n["notice"] for n in told) and len(told) == 2, "one notice per kind of refusal"


async def test_auto_custom_action_runs_at_once_and_sev1_needs_approval(hb: Harness, sink: Sink) -> None:
    wid = await open_incident(hb)
    done = await hb.incidents.request(wid, TRIAGE, "restart_pods", "pods stuck in CrashLoopBackOff")
    assert done.verdict is None and done.approval_id is None and done.message.startswith("R1: restart_pods accepted")
    await sent(sink, "/deploy/checkout/restart")
    await until(lambda: state(hb, wid), lambda s: bool(entries(s, "action_ran")))
    await hb.incidents.set_severity(wid, ALICE, Severity.SEV1)
    pending = await hb.incidents.request(wid, TRIAGE, "restart_pods", "again")
    assert pending.approval_id == "A1" and pending.rule == "boundaries.autonomy.SEV1: approval"


async def test_two_person_rule_and_roles_for_customer_comms(hb: Harness, sink: Sink) -> None:
    wid = await open_incident(hb)
    with pytest.raises(Refused, match="needs the text"):
        await hb.incidents.request(wid, BOB, "customer_comms")
    pending = await hb.incidents.request(wid, BOB, "customer_comms", text="Checkout is degraded; we are on it.")
    assert pending.rule == "boundaries.two_person"
    with pytest.raises(Refused) as own:
        await hb.incidents.approve(wid, BOB, "A1")
    assert own.value.rule == "boundaries.self_approval: false"
    with pytest.raises(Refused, match="alice is not among"):
        await hb.incidents.approve(wid, ALICE, "A1")  # on call, but comms is for role:comms
    agent = await hb.incidents.request(wid, TRIAGE, "customer_comms", "customers see errors", text="We see errors.")
    await hb.incidents.approve(
        wid, BOB, agent.approval_id or "", text="Checkout errors for some customers; fix underway."
    )
    st = await until(lambda: state(hb, wid), lambda s: bool(entries(s, "action_ran")))
    a2 = st.approval("A2")
    assert a2 is not None and a2.text == "Checkout errors for some customers; fix underway."
    assert "(text edited)" in entries(st, "approval_approved")[0].text
    assert "no runner configured" in entries(st, "action_ran")[0].text


async def test_reload_is_for_humans_and_applies_the_new_policy(hb: Harness, sink: Sink) -> None:
    wid = await open_incident(hb)
    stricter = IncidentPolicy.snapshot(hb.config, "checkout")
    stricter.boundaries.agent.auto.remove("restart_pods")
    stricter.boundaries.agent.never.append("restart_pods")
    with pytest.raises(Refused) as refused:
        await hb.incidents.reload(wid, TRIAGE, stricter)
    assert refused.value.rule == "only humans change a running incident's policy"
    await hb.incidents.reload(wid, ALICE, stricter)
    with pytest.raises(Refused) as never:
        await hb.incidents.request(wid, TRIAGE, "restart_pods", "stuck pods")
    assert never.value.rule == "boundaries.agent.never"
    st: IncidentState = await state(hb, wid)
    assert "reloaded the policy from the config: boundaries" in entries(st, "policy_reloaded")[0].text
