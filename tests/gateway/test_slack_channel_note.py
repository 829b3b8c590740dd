"""`/baton note` in an incident's channel: the incident need not be named. The gateway finds it by the channel
(the `IncidentChannel` search attribute, so any replica does), on the real dev server, with the Slack Web API
played by a local double."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.intake import create_app
from incident.ids import workflow_id_for
from incident.state import IncidentPolicy, IncidentState
from tests.gateway.test_slack_app import SECRET, command_body, signed
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink, serving
from tests.helpers.slack_web import BOT_TOKEN, Slack, slack_web
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows import search_attributes as sa

CONFIG = """
people:
  alice: {name: Alice, slack: U0ALICE, webhook: "SINK/alice", notify: [webhook]}
  bob:   {name: Bob, webhook: "SINK/bob", notify: [webhook]}
escalation_policies:
  one: {levels: [{notify: [user:alice], after: 5m}]}
services:
  checkout: {escalation: one}
routing: {default_service: checkout}
coordination:
  slack: {channel: {name: "inc-{id}-{service}"}}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
"""


@pytest.fixture
def slack() -> Iterator[Slack]:
    with slack_web() as s:
        yield s


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, sink: Sink, slack: Slack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    monkeypatch.setenv("TEST_SLACK_SIGNING_SECRET", SECRET)
    extra = (
        f"  slack: {{bot_token: {BOT_TOKEN}, signing_secret: env:TEST_SLACK_SIGNING_SECRET, api_url: '{slack.api}'}}\n"
    )
    config = make_config(sink.url, extra, base=CONFIG)
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, config, http)
        app = create_app(h.config, h.incidents)
        async with h.worker, serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client, h


async def say(http: httpx.AsyncClient, slack: Slack, text: str, channel: str, user: str = "U0ALICE") -> str:
    body = command_body(text, user, f"{slack.url}/hooks/x").replace(
        b"channel_id=C0001", f"channel_id={channel}".encode()
    )
    resp = await http.post("/v1/slack/commands", content=body, headers=signed(body))
    assert resp.status_code == 200 and resp.json()["response_type"] == "ephemeral", resp.text
    return str(resp.json()["text"])


async def test_a_note_in_the_incidents_channel_needs_no_incident_id(
    stack: tuple[httpx.AsyncClient, Harness], slack: Slack
) -> None:
    http, h = stack
    key = f"note-{uuid.uuid4().hex[:8]}"
    await h.incidents.ingest(alert(key), IncidentPolicy.snapshot(h.config, "checkout"), "slack")
    wid = workflow_id_for("slack", key)
    st: IncidentState = await until(lambda: h.incidents.state(wid), lambda s: s.channel and s.channel.channel_id)
    cid = st.channel.channel_id if st.channel else ""
    assert cid
    await until(lambda: _channel_attribute(h, wid), lambda v: v == cid)

    assert await say(http, slack, "note rolled back v2.41, errors dropping", cid) == f"note added to {st.incident_id}"
    notes = [e for e in (await h.incidents.state(wid)).timeline if e.kind == "note"]
    assert [(e.actor, e.text) for e in notes] == [("human:alice", "rolled back v2.41, errors dropping")]

    # Elsewhere the incident is named, as before; an unnamed note outside an incident's channel asks which.
    assert (
        await say(http, slack, f"note {st.incident_id} from #general", "C0GENERAL") == f"note added to {st.incident_id}"
    )
    assert "is not an incident id" in await say(http, slack, "note just words", "C0GENERAL")
    assert "a note needs text" in await say(http, slack, "note", cid)
    assert "not a person in baton's config" in await say(http, slack, "note hi", cid, user="U0NOBODY")


async def _channel_attribute(h: Harness, wid: str) -> str | None:
    return (await h.client.get_workflow_handle(wid).describe()).typed_search_attributes.get(sa.INCIDENT_CHANNEL)
