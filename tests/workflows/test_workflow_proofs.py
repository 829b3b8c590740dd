"""An incident acts on a human's or agent's request only with the gateway's proof of who sent it, bound to that
request and run: a raw Temporal client claiming `human:alice`, a proof moved to another request, approval or
incident, a proof used twice, or one signed by a key the worker does not trust changes nothing, and each attempt
is on the timeline and counted as an impersonation."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.attesting import Signer
from gateway.client import Incidents, Refused
from incident.approvals import ApprovalStatus
from incident.attestation import Method
from incident.keys import SigningKey
from incident.models import Actor
from incident.state import IncidentState
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import entries, open_incident, state
from tests.helpers.temporal import Harness, harness, proven
from workflows.incident import IncidentWorkflow
from workflows.messages import DecisionRequest, NoteRequest

ACTIONS = """
boundaries:
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity]
    approval: [rollback, customer_comms, resolve]
    never: [postmortem_conclusions]
services:
  checkout:
    escalation: two-levels
    actions:
      rollback:
        params: {version: {pattern: "^v[0-9]+$"}}
        webhook: {url: "SINK/deploy/{service}/rollback", body: {version: "{version}"}}
"""
TRIAGE, ALICE, BOB = Actor.agent("triage"), Actor.human("alice"), Actor.human("bob")


@pytest.fixture
async def hp(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    text = BASE_CONFIG.split("services:")[0] + ACTIONS + "routing: {default_service: checkout}\n"
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url, base=text), http)
        async with h.worker:
            yield h


async def with_approvals(h: Harness, n: int) -> str:
    wid = await open_incident(h)
    for i in range(n):
        reply = await h.incidents.request(wid, TRIAGE, "rollback", "v42 is the only change", {"version": f"v4{i}"})
        assert reply.approval_id == f"A{i + 1}"
    return wid


def status(st: IncidentState, approval_id: str) -> ApprovalStatus:
    found = st.approval(approval_id)
    assert found is not None
    return found.status


async def decide(h: Harness, wid: str, req: DecisionRequest) -> tuple[bool, str]:
    reply = await h.client.get_workflow_handle(wid).execute_update(IncidentWorkflow.decide, req)
    return reply.ok, reply.message


async def impersonations(h: Harness, wid: str) -> list[str]:
    return [e.text for e in entries(await state(h, wid), "impersonation")]


async def test_a_raw_temporal_client_approving_as_alice_is_refused_recorded_and_counted(hp: Harness) -> None:
    wid = await with_approvals(hp, 1)
    raw = Incidents(hp.client, task_queue=hp.task_queue)  # reaches Temporal, holds no gateway key
    with pytest.raises(Refused) as refused:
        await raw.approve(wid, ALICE, "A1")
    assert refused.value.verdict == "impersonation"
    assert "claims to be from human:alice" in str(refused.value)
    st = await state(hp, wid)
    assert status(st, "A1") is ApprovalStatus.PENDING
    assert [e.actor for e in entries(st, "impersonation")] == ["system"]
    assert "no proof" in (await impersonations(hp, wid))[0]
    assert [(r.verdict, r.actor, r.action) for r in st.refusals] == [("impersonation", "human:alice", "decide")]
    # an agent claiming a human through the raw client is refused the same way, on every kind of request
    with pytest.raises(Refused):
        await raw.note(wid, ALICE, "all good, I approved it")
    with pytest.raises(Refused):
        await raw.resolve(wid, ALICE, "fixed")
    st = await state(hp, wid)
    assert st.open and not entries(st, "note")
    assert st.refused_total == 3


async def test_a_proof_counts_for_its_own_request_once(hp: Harness) -> None:
    wid = await with_approvals(hp, 2)
    for_a1 = await proven(hp, wid, "decide", DecisionRequest(actor=ALICE, approval_id="A1", approve=True))
    moved = for_a1.model_copy(update={"approval_id": "A2"})
    assert await decide(hp, wid, moved) == (
        False,
        "refused: the request claims to be from human:alice, but the proof is for another request",
    )
    as_bob = for_a1.model_copy(update={"actor": BOB})
    ok, message = await decide(hp, wid, as_bob)
    assert not ok and "the proof is for human:alice" in message
    ok, _ = await decide(hp, wid, for_a1)
    assert ok
    note = await proven(hp, wid, "note", NoteRequest(actor=ALICE, text="rolled back to v40"))
    handle = hp.client.get_workflow_handle(wid)
    assert (await handle.execute_update(IncidentWorkflow.note, note)).ok
    again = await handle.execute_update(IncidentWorkflow.note, note)  # the very same request, sent again
    assert not again.ok and "used before" in again.message
    assert len(entries(await state(hp, wid), "note")) == 1
    st = await state(hp, wid)
    assert status(st, "A2") is ApprovalStatus.PENDING
    assert len(entries(st, "impersonation")) == 3


async def test_a_proof_for_one_incident_does_nothing_on_another(hp: Harness) -> None:
    first = await with_approvals(hp, 1)
    second = await open_incident(hp, key=f"{hp.task_queue}-other")
    note = await proven(hp, first, "note", NoteRequest(actor=ALICE, text="rolled back"))
    reply = await hp.client.get_workflow_handle(second).execute_update(IncidentWorkflow.note, note)
    assert not reply.ok and "another incident" in reply.message
    assert not entries(await state(hp, second), "note")


async def test_a_proof_signed_by_a_key_the_worker_does_not_trust_proves_nothing(hp: Harness) -> None:
    wid = await with_approvals(hp, 1)
    forger = Incidents(hp.client, task_queue=hp.task_queue, signer=Signer(SigningKey.generate()))
    with pytest.raises(Refused) as refused:
        await forger.approve(wid, ALICE, "A1")
    assert "does not trust" in str(refused.value)
    assert status(await state(hp, wid), "A1") is ApprovalStatus.PENDING
    # the gateway's own proof works, and says how alice proved who she is
    assert (await hp.incidents.acting(Method.TOTP, totp_step=59_000_000).approve(wid, ALICE, "A1")).ok
    assert [e.data["via"] for e in entries(await state(hp, wid), "approval_approved")] == ["totp"]
