"""Stakeholder updates over MCP, as an agent in an editor reaches them through the gateway: get_incident shows the
next update's due time and draft, coordinate words it (the responders are asked to send it) or, where the
boundaries let the agent, sends it to the internal audiences."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.gateway.test_mcp import Agent, Stack, gateway_and_worker, stdio_session
from tests.helpers.config import BASE_CONFIG
from tests.helpers.http import Sink
from tests.helpers.wait import until

UPDATES = """coordination:
  updates:
    every: {SEV2: 1h}
"""


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path) -> AsyncIterator[Stack]:
    async with gateway_and_worker(dev_env, sink, tmp_path, BASE_CONFIG + UPDATES) as s:
        yield s


async def test_an_agent_reads_the_next_update_and_words_or_sends_it(stack: Stack, sink: Sink) -> None:
    h = stack.h
    key = f"mcp-updates-{uuid.uuid4().hex[:8]}"
    async with stdio_session(stack.env, "--agent", "triage") as session:
        agent = Agent(session)
        opened = await agent(
            "open_incident", service="checkout", summary="checkout p99 over 4s", idempotency_key=key, severity="SEV2"
        )
        iid = opened["incident_id"]
        st = await until(lambda: h.incidents.state(iid), lambda s: s.updates is not None)
        shown = await agent("get_incident", incident_id=iid)
        nxt = shown["stakeholder_update"]
        assert nxt["number"] == 1 and nxt["due"] is False and nxt["draft"] is None
        due_at = (st.opened_at + timedelta(hours=1)).replace(microsecond=0)
        assert nxt["due_at"] == due_at.isoformat().replace("+00:00", "Z")

        wording = "Checkout is slow for some customers; we are looking at the latest deploy."
        proposed = await agent("coordinate", incident_id=iid, update=wording)
        assert proposed["ok"] and "is asked to send it" in proposed["message"]
        nxt = (await agent("get_incident", incident_id=iid))["stakeholder_update"]
        assert nxt["draft"] == {"untrusted": wording} and nxt["draft_by"] == "agent:triage"
        told = await until(lambda: _told(sink, "/alice", "proposes the wording"))
        assert wording in told

        # Posting internally is machine work at SEV2 (autonomy full): the agent sends, and the draft is used up.
        sent = await agent("coordinate", incident_id=iid, update="Still slow; rollback under way.", send=True)
        assert sent["ok"] and "update 1 sent" in sent["message"]
        nxt = (await agent("get_incident", incident_id=iid))["stakeholder_update"]
        assert nxt["sent"] == 1 and nxt["number"] == 2 and nxt["draft"] is None
        st = await h.incidents.state(iid)
        entry = next(e for e in st.timeline if e.kind == "update_sent")
        assert entry.actor == "agent:triage" and (entry.data or {})["text"] == "Still slow; rollback under way."

        declined = await agent("request_action", incident_id=iid, action="internal_update", rationale="post it")
        assert declined["ok"] is False and "use coordinate" in declined["message"]


async def _told(sink: Sink, path: str, needle: str) -> str | None:
    return next(
        (r["json"].get("notice") for r in sink.to(path, "notice") if needle in (r["json"].get("notice") or "")), None
    )


async def test_an_agent_proposes_a_lead_and_never_takes_one(stack: Stack, sink: Sink) -> None:
    h = stack.h
    key = f"mcp-lead-{uuid.uuid4().hex[:8]}"
    async with stdio_session(stack.env, "--agent", "triage") as session:
        agent = Agent(session)
        opened = await agent(
            "open_incident", service="checkout", summary="checkout p99 over 4s", idempotency_key=key, severity="SEV2"
        )
        iid = opened["incident_id"]
        proposed = await agent("coordinate", incident_id=iid, lead="dave", reason="dave owns the checkout database")
        assert proposed["ok"] and "a human decides" in proposed["message"]
        st = await h.incidents.state(iid)
        entry = next(e for e in st.timeline if e.kind == "role_proposed")
        assert entry.actor == "agent:triage" and (entry.data or {})["person"] == "dave"
        assert st.lead is None, "a proposal makes nobody lead"
        assert (await agent("get_incident", incident_id=iid))["lead"] is None
        told = await until(lambda: _told(sink, "/dave", "proposes dave as lead"))
        assert "dave owns the checkout database" in told
        assert "one of lead" in await agent.error("coordinate", incident_id=iid)
        assert "one of lead" in await agent.error("coordinate", incident_id=iid, lead="dave", update="x", reason="y")
        assert "say why" in await agent.error("coordinate", incident_id=iid, lead="dave")
        assert "only ever proposed" in await agent.error(
            "coordinate", incident_id=iid, lead="dave", reason="r", send=True
        )
