"""Judgment calls need the person present: approving or denying a rollback, resolving, confirming a customer-facing
severity with a token alone is refused (on the timeline, counted, nothing changes); with a one-time code or from
Slack it goes through, and the timeline says how. A code counts once per run; what `boundaries.step_up` does not
name needs no more than a token, and `step_up: []` turns it off."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.approvals import ApprovalStatus
from incident.attestation import Method
from incident.models import Actor, Severity
from incident.state import IncidentState
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import entries, open_incident, state
from tests.helpers.temporal import Harness, harness

POLICY = """
boundaries:
  custom_actions: [restart_pods]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity]
    approval: [rollback, customer_comms, resolve, restart_pods]
    never: [postmortem_conclusions]
"""
TRIAGE, ALICE = Actor.agent("triage"), Actor.human("alice")
STEP = 59_000_000
"""A time step as the gateway attests it with a code (what `StepUp.check` returns)."""
HOW = "with --code from your authenticator app, or from Slack"


def config_text(extra: str = "") -> str:
    return BASE_CONFIG.replace("routing: {default_service: checkout}\n", "") + POLICY + extra


@pytest.fixture
async def h(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, make_config(sink.url, base=config_text()), http)
        async with hh.worker:
            yield hh


async def asked(h: Harness, action: str, n: int = 1) -> str:
    wid = await open_incident(h)
    for i in range(n):
        reply = await h.incidents.request(wid, TRIAGE, action, "v42 is the only change", {"version": f"v4{i}"})
        assert reply.approval_id == f"A{i + 1}"
    return wid


def status(st: IncidentState, approval_id: str) -> ApprovalStatus:
    found = st.approval(approval_id)
    assert found is not None
    return found.status


async def test_a_rollback_approved_with_a_token_alone_is_refused_and_stays_pending(h: Harness) -> None:
    wid = await asked(h, "rollback")
    with pytest.raises(Refused) as refused:
        await h.incidents.acting(Method.TOKEN).approve(wid, ALICE, "A1")
    assert refused.value.verdict == "step_up" and refused.value.rule == "boundaries.step_up"
    assert f"rollback needs you present, not only your token: approve it {HOW}" in str(refused.value)
    with pytest.raises(Refused, match="deny it with --code"):
        await h.incidents.acting(Method.TOKEN).deny(wid, ALICE, "A1", "not the deploy")
    st = await state(h, wid)
    assert status(st, "A1") is ApprovalStatus.PENDING
    assert [e.data["action"] for e in entries(st, "refused")] == ["approve A1", "deny A1"]
    assert [(r.verdict, r.action) for r in st.refusals] == [("step_up", "approve A1"), ("step_up", "deny A1")]
    # with a code from alice's authenticator it is approved, and the timeline says how she proved it
    reply = await h.incidents.acting(Method.TOTP, totp_step=STEP).approve(wid, ALICE, "A1")
    assert reply.ok
    st = await state(h, wid)
    assert status(st, "A1") is ApprovalStatus.APPROVED
    assert [e.data for e in entries(st, "approval_approved")] == [{"approval": "A1", "via": "totp"}]


async def test_a_code_counts_once_per_run(h: Harness) -> None:
    wid = await asked(h, "rollback", n=2)
    with_code = h.incidents.acting(Method.TOTP, totp_step=STEP)
    assert (await with_code.approve(wid, ALICE, "A1")).ok
    with pytest.raises(Refused, match="that code was already used on this incident") as refused:
        await with_code.approve(wid, ALICE, "A2")
    assert refused.value.verdict == "step_up"
    assert status(await state(h, wid), "A2") is ApprovalStatus.PENDING
    assert (await h.incidents.acting(Method.TOTP, totp_step=STEP + 1).approve(wid, ALICE, "A2")).ok


async def test_a_decision_from_slack_is_accepted(h: Harness) -> None:
    wid = await asked(h, "rollback")
    assert (await h.incidents.acting(Method.SLACK).deny(wid, ALICE, "A1", "the database is the cause")).ok
    st = await state(h, wid)
    assert status(st, "A1") is ApprovalStatus.DENIED
    assert [e.data for e in entries(st, "approval_denied")] == [{"approval": "A1", "via": "slack"}]


async def test_an_action_step_up_does_not_name_is_approved_with_a_token(h: Harness) -> None:
    wid = await asked(h, "restart_pods")
    assert (await h.incidents.acting(Method.TOKEN).approve(wid, ALICE, "A1")).ok
    assert status(await state(h, wid), "A1") is ApprovalStatus.APPROVED


async def test_a_human_resolve_or_rollback_with_a_token_alone_is_refused(h: Harness) -> None:
    wid = await open_incident(h)
    token = h.incidents.acting(Method.TOKEN)
    with pytest.raises(Refused, match=f"resolve needs you present, not only your token: resolve it {HOW}"):
        await token.resolve(wid, ALICE, "fixed")
    with pytest.raises(Refused, match="rollback needs you present"):
        await token.request(wid, ALICE, "rollback", "", {"version": "v41"})
    st = await state(h, wid)
    assert st.open and not entries(st, "action_accepted")
    assert (await token.note(wid, ALICE, "looking at the deploy")).ok  # what is no judgment call needs no more
    await h.incidents.acting(Method.TOTP, totp_step=STEP).resolve(wid, ALICE, "fixed")
    st = await state(h, wid)
    assert not st.open and [e.data for e in entries(st, "resolved")] == [{"via": "totp"}]


async def test_confirming_a_customer_facing_severity_needs_the_person_present(h: Harness) -> None:
    wid = await open_incident(h)  # checkout is customer-facing
    with pytest.raises(Refused, match="confirm_severity needs you present"):
        await h.incidents.acting(Method.TOKEN).set_severity(wid, ALICE, Severity.SEV1, "all EU customers")
    assert (await state(h, wid)).severity_confirmed_by is None
    assert (await h.incidents.acting(Method.SLACK).set_severity(wid, ALICE, Severity.SEV1, "all EU customers")).ok
    st = await state(h, wid)
    assert st.severity_confirmed_by == "human:alice" and entries(st, "severity")[-1].data["via"] == "slack"


async def test_an_empty_step_up_list_turns_it_off(ts_env: WorkflowEnvironment, sink: Sink) -> None:
    text = config_text().replace(
        "  never: [postmortem_conclusions]\n", "  never: [postmortem_conclusions]\n  step_up: []\n"
    )
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url, base=text), http)
        async with h.worker:
            wid = await asked(h, "rollback")
            assert (await h.incidents.acting(Method.TOKEN).approve(wid, ALICE, "A1")).ok
            assert (await h.incidents.acting(Method.TOKEN).resolve(wid, ALICE, "fixed")).ok
