"""Several gateways side by side, against one Temporal: what one of them saw counts for all (docs/deploy.md, "Many
hosts"). Each gateway here is its own app with its own façade, as a separate process would have them; only
Temporal is shared.

- a signed Slack request replayed to another gateway is refused there too;
- a Slack form opened through one gateway and submitted through another puts the whole message back;
- a one-time code used through one gateway is refused by another, even on another incident;
- many gateways sending one incident more updates at once than Temporal takes lose none of them;
- the shared memo stays bounded: entries expire, and the oldest go first past its limits.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pyotp
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.intake import create_app
from gateway.memo import SharedMemo
from incident.ids import workflow_id_for
from incident.models import Actor
from tests.gateway import test_slack_app
from tests.gateway.test_slack_app import (
    BOT_TOKEN,
    PEOPLE,
    SECRET,
    SLACK,
    FakeSlack,
    command_body,
    interact,
    open_incident,
    outcome_line,
    press,
    signed,
    state,
    submission,
)
from tests.helpers.config import PEOPLE_TOKENS, TOKEN, make_config
from tests.helpers.http import Sink, serving
from tests.helpers.temporal import Harness, gateway, harness
from tests.helpers.wait import until
from workflows import memo

TOTP_SECRET = pyotp.random_base32()
slack = test_slack_app.slack
"""The fixture playing Slack's Web API and response URLs."""


@pytest.fixture
async def two(
    dev_env: WorkflowEnvironment, sink: Sink, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, Harness]]:
    """A worker and two gateways (each its own app and façade) over one dev server."""
    monkeypatch.setenv("TEST_SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("TEST_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    people = PEOPLE.replace("alice: {name: Alice,", f"alice: {{name: Alice, totp: {TOTP_SECRET},")
    config = make_config(sink.url, extra=SLACK.replace("URL", f"'{slack.url}/api'"), base=people)
    async with httpx.AsyncClient() as web:
        h = await harness(dev_env, config, web)
        other = gateway(h.client, h.task_queue)
        async with (
            h.worker,
            serving(create_app(h.config, h.incidents)) as url_a,
            serving(create_app(h.config, other)) as url_b,
            httpx.AsyncClient(base_url=url_a, timeout=30) as a,
            httpx.AsyncClient(base_url=url_b, timeout=30) as b,
        ):
            yield a, b, h


async def test_a_slack_request_replayed_to_another_gateway_is_refused_there(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    a, b, h = two
    iid, wid = await open_incident(h)
    note = command_body(f"note {iid} checked the dashboards", "UALICE", slack.hook())
    headers = signed(note)
    first = await a.post("/v1/slack/commands", content=note, headers=headers)
    assert first.status_code == 200 and first.json()["text"].startswith("note added"), first.text
    replayed = await b.post("/v1/slack/commands", content=note, headers=headers)
    assert replayed.status_code == 401 and "replay" in replayed.json()["message"], replayed.text
    st = await state(h, wid)
    assert [e.text for e in st.timeline if e.kind == "note"] == ["checked the dashboards"]


async def test_a_form_opened_through_one_gateway_and_submitted_through_another_keeps_the_message(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    a, b, h = two
    iid, wid = await open_incident(h)
    pressed = await interact(a, press(slack, "baton_resolve", "UALICE", iid, wid))
    assert pressed.status_code == 200, pressed.text
    view = (await slack.wait("/api/views.open"))[-1]["json"]["view"]
    submitted = await interact(b, submission(view, "UALICE", "rolled back v42"))
    assert submitted.status_code == 200, submitted.text
    call = (await slack.wait("/api/chat.update"))[-1]
    update = call["json"]
    assert "Resolved by Alice" in outcome_line(call)
    kept = [blk.get("block_id") for blk in update["blocks"]]
    assert kept[:2] == ["h1", "s1"], f"the page's own blocks are put back, not only the outcome: {kept}"
    assert "baton_resolve" not in json.dumps(update["blocks"]), "the buttons are gone"
    assert (await state(h, wid)).status.value == "resolved"


async def test_a_one_time_code_used_through_one_gateway_is_refused_by_another(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient, Harness],
) -> None:
    a, b, h = two
    first_iid, _ = await open_incident(h)
    second_iid, _ = await open_incident(h)
    code = pyotp.TOTP(TOTP_SECRET).now()
    alice = {"Authorization": f"Bearer {PEOPLE_TOKENS['alice']}"}
    body = {"severity": "SEV1", "reason": "customers see errors", "code": code}
    taken = await a.post(f"/v1/incidents/{first_iid}/severity", json=body, headers=alice)
    assert taken.status_code == 200 and taken.json()["ok"], taken.text
    again = await b.post(f"/v1/incidents/{second_iid}/severity", json=body, headers=alice)
    assert again.status_code == 403, again.text
    assert again.json()["error"] == "step_up_refused" and "already used" in again.json()["message"]
    assert (await h.incidents.state(second_iid)).severity.value == "SEV2", "nothing was sent"


async def test_more_updates_at_once_than_temporal_takes_from_many_gateways_lose_none(h_dev: Harness) -> None:
    """Each façade lets 4 updates per incident fly at once; Temporal takes 10. Three gateways sending 12 notes
    each at the same moment go past that: the façades wait and retry (`patiently`), and every note is recorded."""
    h = h_dev
    iid, wid = await open_incident(h)
    facades = [gateway(h.client, h.task_queue) for _ in range(3)]
    notes = [(f, f"note {n} from gateway {g}") for g, f in enumerate(facades) for n in range(12)]
    replies = await asyncio.gather(*(f.note(wid, Actor.human("alice"), text) for f, text in notes))
    assert all(r.ok for r in replies)
    st = await state(h, wid)
    assert sorted(e.text for e in st.timeline if e.kind == "note") == sorted(text for _, text in notes)
    assert iid == st.incident_id


@pytest.fixture
async def h_dev(dev_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as web:
        hh = await harness(dev_env, make_config(sink.url), web)
        async with hh.worker:
            yield hh


async def test_the_shared_memo_forgets_what_expired_and_keeps_within_its_limits(
    h: Harness, ts_env: WorkflowEnvironment
) -> None:
    shared = SharedMemo(h.client, h.task_queue, f"test-{uuid.uuid4().hex[:6]}")
    now = await ts_env.get_current_time()
    assert await shared.first("sig-1", now + timedelta(minutes=5))
    assert not await shared.first("sig-1", now + timedelta(minutes=5)), "seen before, not expired"
    assert await shared.put("C1:1.0", "the message", now + timedelta(hours=2))
    assert await shared.take("C1:1.0") == "the message"
    assert await shared.take("C1:1.0") is None, "taken once"
    assert not await shared.put("big", "x" * (memo.MAX_VALUE + 1), now + timedelta(hours=2)), "too large to keep"
    await ts_env.sleep(timedelta(minutes=6))
    assert await shared.first("sig-1", now + timedelta(minutes=20)), "expired: forgotten"

    handle = h.client.get_workflow_handle(shared.workflow_id)
    later = now + timedelta(days=1)
    for n in range(30):
        await shared.put(f"k{n}", "v" * 40_000, later)
    size = await handle.query(memo.MemoWorkflow.size)
    assert size == memo.MAX_BYTES // (64 + 40_000), f"{size} entries of 40 kB kept (keys are sha256 in hex)"
    assert await shared.take("k29") is not None and await shared.take("k0") is None, "the oldest went first"


async def test_an_alert_through_either_gateway_joins_the_same_incident(
    two: tuple[httpx.AsyncClient, httpx.AsyncClient, Harness],
) -> None:
    a, b, h = two
    key = f"both-{uuid.uuid4().hex[:6]}"
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for n, http in enumerate((a, b, a, b)):
        body = {"routing_key": "checkout", "event_action": "trigger", "dedup_key": key}
        body["payload"] = {"summary": f"{key} {n}", "source": "test", "severity": "error"}  # type: ignore[assignment]
        resp = await http.post("/v1/events", json=body, headers=bearer)
        assert resp.status_code == 202, resp.text
    wid = workflow_id_for("events:checkout", key)
    st = await until(lambda: h.incidents.state(wid), lambda s: s.alert_count == 4)
    assert len([r for r in await h.incidents.search() if r.workflow_id == wid]) == 1
    assert st.alert_count == 4
