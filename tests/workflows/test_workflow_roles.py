"""Who leads, in virtual time: the first human to acknowledge, a hand-over, the incident commanders paged when
nobody leads in time (once), and agents that may only propose."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.ids import workflow_id_for
from incident.models import Actor
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import SCOPE, entries, idle, open_incident, paged_count, state
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from tests.workflows.test_workflow_carry import fill_history, start
from workflows import search_attributes as sa

ALICE, BOB, DAVE, TRIAGE = Actor.human("alice"), Actor.human("bob"), Actor.human("dave"), Actor.agent("triage")
LEAD_WITHIN = timedelta(minutes=10)
COORDINATION = """
coordination:
  roles: [comms, scribe]
  lead_within: {SEV2: 10m}
boundaries:
  roles: {incident-commander: [bob]}
"""


@pytest.fixture
async def rh(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    """A worker whose config has roles, `lead_within: {SEV2: 10m}` and bob as the incident commander."""
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, make_config(sink.url, COORDINATION), http)
        async with hh.worker:
            yield hh


def roles_of(st: IncidentState) -> list[tuple[str, dict[str, object]]]:
    return [(e.text, e.data) for e in entries(st, "role")]


async def test_the_first_human_to_acknowledge_leads(rh: Harness, sink: Sink) -> None:
    wid = await open_incident(rh)
    await rh.incidents.acknowledge(wid, TRIAGE)  # an agent's acknowledgement is coordination: it makes no lead
    assert (await state(rh, wid)).lead is None
    reply = await rh.incidents.acknowledge(wid, ALICE)
    assert reply.message.endswith("; alice leads"), reply.message
    await rh.incidents.acknowledge(wid, DAVE)  # already acknowledged: the lead stays alice's
    st = await state(rh, wid)
    assert st.roles == {"lead": "alice"}
    assert roles_of(st) == [
        ("alice takes lead: the first to acknowledge", {"role": "lead", "person": "alice", "from": None})
    ]
    attrs = await until(
        lambda: _attrs(rh, wid), lambda a: a.get(sa.INCIDENT_LEAD) == "alice"
    )  # the search attribute follows
    assert attrs.get(sa.INCIDENT_LEAD) == "alice"


async def test_someone_leading_before_the_ack_stays_lead(rh: Harness) -> None:
    wid = await open_incident(rh)
    await rh.incidents.set_role(wid, DAVE, "lead")
    await rh.incidents.acknowledge(wid, ALICE)
    st = await state(rh, wid)
    assert st.lead == "dave" and st.acknowledged_by == "human:alice"
    assert [t for t, _ in roles_of(st)] == ["dave takes lead"]


async def test_a_hand_over_and_the_other_roles(rh: Harness, sink: Sink) -> None:
    wid = await open_incident(rh)
    await rh.incidents.set_role(wid, ALICE, "lead")
    reply = await rh.incidents.set_role(wid, ALICE, "lead", "dave")
    assert reply.message.startswith("dave leads INC-"), reply.message
    await rh.incidents.set_role(wid, DAVE, "comms", "bob")
    await rh.incidents.set_role(wid, BOB, "scribe")
    again = await rh.incidents.set_role(wid, DAVE, "lead")
    assert again.message == "dave already leads"
    st = await state(rh, wid)
    assert st.roles == {"lead": "dave", "comms": "bob", "scribe": "bob"}
    assert roles_of(st) == [
        ("alice takes lead", {"role": "lead", "person": "alice", "from": None}),
        ("alice hands lead to dave", {"role": "lead", "person": "dave", "from": "alice"}),
        ("dave hands comms to bob", {"role": "comms", "person": "bob", "from": None}),
        ("bob takes scribe", {"role": "scribe", "person": "bob", "from": None}),
    ]
    await until(lambda: _attrs(rh, wid), lambda a: a.get(sa.INCIDENT_LEAD) == "dave")
    # A later page says who leads.
    await rh.incidents.request(wid, ALICE, "page", "need bob's eyes", {"target": "bob"})
    page = await until(lambda: asyncio.sleep(0, sink.to("/bob", "page")))
    assert page[0]["json"]["lead"] == "dave"


async def test_a_role_or_person_the_incident_does_not_have_is_turned_away(rh: Harness) -> None:
    wid = await open_incident(rh)
    with pytest.raises(Refused, match=r"unknown role 'commander' \(known: comms, lead, scribe\)"):
        await rh.incidents.set_role(wid, ALICE, "commander")
    with pytest.raises(Refused, match=r"unknown person 'zed' in the config \(known: alice, bob, dave\)"):
        await rh.incidents.set_role(wid, ALICE, "lead", "zed")
    st = await state(rh, wid)
    assert st.roles == {} and not entries(st, "role")


async def test_nobody_leading_pages_the_incident_commanders_once_at_lead_within(rh: Harness, sink: Sink) -> None:
    wid = await open_incident(rh)
    await idle(rh, wid)
    await rh.env.sleep(LEAD_WITHIN - timedelta(seconds=5))
    st = await state(rh, wid)
    assert not entries(st, "lead_missing") and not st.commanders_paged
    assert not sink.to("/bob"), "bob is no responder of this incident before the lead is missing"

    await rh.env.sleep(timedelta(seconds=10))
    page = await until(lambda: asyncio.sleep(0, sink.to("/bob", "page")))
    assert page[0]["json"]["level"] == 0 and page[0]["json"]["via"] == "role:incident-commander"
    assert "you are paged as incident commander" in page[0]["json"]["notice"]
    st = await until(lambda: state(rh, wid), lambda s: bool(entries(s, "paged") and s.commanders_paged))
    missing = entries(st, "lead_missing")
    assert len(missing) == 1
    assert timedelta(0) <= missing[0].at - (st.opened_at + LEAD_WITHIN) < timedelta(seconds=1), "at lead_within"
    assert missing[0].data == {"within": 600, "people": ["bob"]}
    assert missing[0].text == "nobody has taken the lead 10m after opening; paging the incident commanders: bob"
    st = await until(lambda: state(rh, wid), lambda s: any(e.data.get("person") == "bob" for e in entries(s, "paged")))
    assert "bob" in st.paged, "a commander who was reached is a responder"

    await idle(rh, wid)
    await rh.env.sleep(timedelta(hours=1))
    st = await state(rh, wid)
    assert len(entries(st, "lead_missing")) == 1
    assert len(sink.to("/bob", "page")) == 1, "the commanders are paged once"
    # The commander takes the lead, from the page.
    await rh.incidents.set_role(wid, BOB, "lead")
    assert (await state(rh, wid)).lead == "bob"


async def test_a_lead_in_time_pages_no_commander(rh: Harness, sink: Sink) -> None:
    wid = await open_incident(rh)
    await rh.incidents.set_role(wid, DAVE, "lead")
    await idle(rh, wid)
    await rh.env.sleep(LEAD_WITHIN * 3)
    st = await state(rh, wid)
    assert not entries(st, "lead_missing") and not st.commanders_paged
    assert not sink.to("/bob")


async def test_without_incident_commanders_it_says_nobody_could_be_paged(ts_env: WorkflowEnvironment) -> None:
    no_commanders = COORDINATION.replace("  roles: {incident-commander: [bob]}\n", "  roles: {}\n")
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(extra=no_commanders), http)
        assert h.config.warnings(), "`baton config check` warns of it"
        async with h.worker:
            wid = await open_incident(h)
            await idle(h, wid)
            await h.env.sleep(LEAD_WITHIN + timedelta(seconds=5))
            st = await until(lambda: state(h, wid), lambda s: bool(entries(s, "lead_missing")))
            assert "nobody could be paged" in entries(st, "lead_missing")[0].text
            assert st.commanders_paged


async def test_an_agent_may_propose_a_lead_never_take_or_assign_a_role(rh: Harness, sink: Sink) -> None:
    wid = await open_incident(rh)
    with pytest.raises(Refused, match=r"coordination\.roles: humans only") as taking:
        await rh.incidents.set_role(wid, TRIAGE, "lead")
    assert taking.value.verdict == "never"
    with pytest.raises(Refused, match=r"coordination\.roles: humans only"):
        await rh.incidents.set_role(wid, TRIAGE, "comms", "dave")
    reply = await rh.incidents.set_role(wid, TRIAGE, "lead", "dave", propose=True, reason="dave owns checkout")
    assert reply.message == "proposed dave as lead; a human decides"
    with pytest.raises(Refused, match="a proposal needs a reason"):
        await rh.incidents.set_role(wid, TRIAGE, "lead", "dave", propose=True)

    st = await state(rh, wid)
    assert st.roles == {}, "nothing was taken or assigned"
    assert st.refused_total == 2
    assert {(r.actor, r.action, r.rule) for r in st.refusals} == {
        ("agent:triage", "take lead", "coordination.roles: humans only"),
        ("agent:triage", "assign comms", "coordination.roles: humans only"),
    }
    assert entries(st, "refused")[0].text.startswith("agent:triage asked to take lead: refused by")
    proposed = entries(st, "role_proposed")
    assert [e.text for e in proposed] == ["agent:triage proposes dave as lead: dave owns checkout"]
    assert proposed[0].data == {"role": "lead", "person": "dave", "by": "agent:triage"}
    # The responders and the person proposed are told; a human then decides.
    told = await until(lambda: asyncio.sleep(0, sink.to("/dave", "notice")))
    assert "proposes dave as lead" in told[0]["json"]["notice"]
    assert any("proposes dave as lead" in n["json"]["notice"] for n in sink.to("/alice", "notice"))
    await rh.incidents.set_role(wid, DAVE, "lead")
    assert (await state(rh, wid)).lead == "dave"


async def test_roles_survive_continue_as_new(ts_env: WorkflowEnvironment, sink: Sink) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url, COORDINATION), http)
        async with h.worker:
            wid, handle = await start(h, "roles-carry", history_limit=100)
            first_run = (await handle.describe()).run_id
            await h.incidents.set_role(wid, ALICE, "comms")
            await fill_history(handle, "roles-carry")
            st = await until(lambda: _state(h, wid), lambda s: s is not None and s.runs >= 2, timeout=30)
            assert (await handle.describe()).run_id != first_run
            assert st.roles == {"comms": "alice"}
            # The lead deadline is the state's: the next run pages the commanders when it comes, once.
            await idle(h, wid)
            await h.env.sleep(LEAD_WITHIN + timedelta(seconds=5))
            st = await until(lambda: _state(h, wid), lambda s: s is not None and s.commanders_paged)
            assert len(entries(st, "lead_missing")) == 1
            await h.incidents.set_role(wid, ALICE, "lead", "dave")
            assert (await state(h, wid)).roles == {"comms": "alice", "lead": "dave"}


async def test_an_incident_opened_before_coordination_has_no_roles(h: Harness) -> None:
    """A policy snapshot without `coordination` (as every incident opened before it has): no role, no lead."""
    policy = IncidentPolicy.snapshot(h.config, "checkout").model_copy(update={"coordination": None})
    key = f"{h.task_queue}-old"
    await h.incidents.ingest(alert(key), policy, SCOPE)
    wid = workflow_id_for(SCOPE, key)
    await until(lambda: paged_count(h, wid, level=1))
    with pytest.raises(Refused, match=r"has no roles: it opened before `coordination`.*baton reload"):
        await h.incidents.set_role(wid, ALICE, "lead")
    await h.incidents.acknowledge(wid, ALICE)
    assert (await state(h, wid)).roles == {}


async def _attrs(h: Harness, wid: str) -> object:
    return (await h.client.get_workflow_handle(wid).describe()).typed_search_attributes


async def _state(h: Harness, wid: str) -> IncidentState | None:
    try:
        return await state(h, wid)
    except Exception:
        return None
