"""Stakeholder updates in virtual time: due at the cadence for the severity, drafted from the timeline, sent (edited
or as drafted) to a Slack channel and an email list on loopback servers that check what they receive, reminded and
escalated when nobody sends one, and decided by the boundaries when an agent sends one."""

from __future__ import annotations

import asyncio
import functools
import json
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.ids import workflow_id_for
from incident.models import Actor, Severity
from incident.state import IncidentInput, IncidentPolicy, IncidentState
from tests.activities.test_notifiers import Mailbox
from tests.helpers.config import BASE_CONFIG, alert, make_config
from tests.helpers.http import HttpRequest, Sink, free_port, loopback_http
from tests.helpers.incidents import SCOPE, entries, idle, open_incident, outcome, paged_count, state
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

ALICE, BOB, DAVE = Actor.human("alice"), Actor.human("bob"), Actor.human("dave")
TRIAGE = Actor.agent("triage")
BOT = "xoxb-updates-test"
UPDATES = """
coordination:
  updates:
    every: {SEV1: 15m, SEV2: 30m}
    internal: ["slack:#support", "email:support@example.com"]
"""


@dataclass
class SlackApi:
    """A Slack Web API on loopback: records every call, answers `chat.postMessage` with a message's `ts`, and
    fails the first `fail[channel]` posts to a channel with HTTP 500."""

    url: str = ""
    calls: list[HttpRequest] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def posts(self, channel: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            bodies = [json.loads(c.body) for c in self.calls if c.path == "/api/chat.postMessage"]
        return [b for b in bodies if channel is None or b.get("channel") == channel]


@pytest.fixture
def slack() -> Iterator[SlackApi]:
    api = SlackApi()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        with api.lock:
            api.calls.append(req)
        if req.headers.get("Authorization") != f"Bearer {BOT}" or req.path != "/api/chat.postMessage":
            return 200, {"Content-Type": "application/json"}, b'{"ok": false, "error": "invalid_auth"}'
        channel = json.loads(req.body).get("channel", "")
        with api.lock:
            if api.fail.get(channel, 0) > 0:
                api.fail[channel] -= 1
                return 500, {"Content-Type": "text/plain"}, b"upstream trouble"
        answer = {"ok": True, "channel": "C0SUPPORT", "ts": "1700000000.000100"}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    with loopback_http(respond) as url:
        api.url = url
        yield api


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@asynccontextmanager
async def stack(
    env: WorkflowEnvironment,
    sink: Sink,
    slack: SlackApi,
    port: int,
    updates: str = UPDATES,
    ack_timeout: bool = True,
    boundaries: str = "",
) -> AsyncIterator[Harness]:
    base = BASE_CONFIG if ack_timeout else BASE_CONFIG.replace("    ack_timeout: 30m\n", "")
    integrations = (
        f'  slack: {{bot_token: "{BOT}", api_url: "{slack.url}/api"}}\n'
        f"  smtp: {{host: 127.0.0.1, port: {port}, sender: baton@example.com, starttls: false}}\n"
    )
    config = make_config(sink.url, integrations + updates + boundaries, base=base)
    async with httpx.AsyncClient() as http:
        h = await harness(env, config, http)
        async with h.worker:
            yield h


def told(sink: Sink, person: str) -> list[str]:
    return [r["json"].get("notice") or "" for r in sink.to(f"/{person}", "notice")]


def kinds(st: IncidentState, kind: str) -> list[Any]:
    return entries(st, kind)


async def due(h: Harness, wid: str, n: int = 1) -> IncidentState:
    st: IncidentState = await until(lambda: state(h, wid), lambda s: len(kinds(s, "update_due")) >= n)
    return st


async def test_an_update_falls_due_at_the_cadence_drafted_from_the_timeline(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    async with stack(ts_env, sink, slack, smtp[1]) as h:
        wid = await open_incident(h)
        await h.incidents.note(wid, BOB, "only eu-west is affected")
        st = await state(h, wid)
        assert st.updates is not None and st.updates.due_at == st.opened_at + timedelta(minutes=30)
        await h.env.sleep(timedelta(minutes=29))
        assert not kinds(await state(h, wid), "update_due"), "due before the cadence ran out"
        await idle(h, wid)
        await h.env.sleep(timedelta(minutes=1, seconds=2))
        st = await due(h, wid)
        entry = kinds(st, "update_due")[0]
        assert timedelta(minutes=30) <= entry.at - st.opened_at < timedelta(minutes=30, seconds=3)
        draft = entry.data["draft"]
        assert st.updates is not None and st.updates.draft == draft and st.updates.pending
        for said in (
            f"Update 1 on {st.incident_id} (SEV2",
            "Impact: checkout (customer-facing), affected since",
            "checkout 5xx above 5%",
            "only eu-west is affected (bob)",
            "Responding: alice, dave.",
            "Next update by",
        ):
            assert said in draft, (said, draft)
        # Nobody leads: everyone paged is asked, with the draft and how to send it.
        assert entry.data["asked"] == ["user:alice", "user:dave"]
        for person in ("alice", "dave"):
            ask = await until(functools.partial(_told, sink, person, "--send"))
            assert f"baton update {st.incident_id} --send" in ask and "only eu-west is affected" in ask


async def _told(sink: Sink, person: str, needle: str) -> str | None:
    return next((t for t in told(sink, person) if needle in t), None)


async def test_sent_with_edits_posted_once_to_each_audience_and_the_next_due_every_later(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    slack.fail["#support"] = 1  # the first post fails: its retry posts there once, and email is not posted again
    async with stack(ts_env, sink, slack, port) as h:
        wid = await open_incident(h)
        await h.env.sleep(timedelta(minutes=30, seconds=2))
        await due(h, wid)
        text = "Checkout errors in eu-west <!channel> & co. Next update at 03:00."
        reply = await h.incidents.stakeholder_update(wid, ALICE, text)
        assert reply.ok and "update 1 sent to slack:#support, email:support@example.com" in reply.message
        st = await until(lambda: state(h, wid), lambda s: bool(kinds(s, "update_posted")), timeout=30)
        sent = kinds(st, "update_sent")[0]
        assert sent.actor == "human:alice" and sent.data["text"] == text and sent.data["update"] == 1
        assert sent.data["audiences"] == ["slack:#support", "email:support@example.com"]
        posted = kinds(st, "update_posted")[0]
        assert sorted(posted.data["posted"]) == ["email:support@example.com", "slack:#support"]
        assert posted.data["failed"] == {}
        posts = slack.posts("#support")
        assert len(posts) == 2, "one failed attempt, one post"
        assert posts[-1]["text"] == "Checkout errors in eu-west &lt;!channel&gt; &amp; co. Next update at 03:00."
        assert len(box.messages) == 1, "email went out once, though Slack's attempt was retried"
        mail = box.messages[0]
        assert mail["To"] == "support@example.com" and mail["From"] == "baton@example.com"
        assert mail["Subject"] == f"[{st.incident_id}] Stakeholder update 1: checkout 5xx above 5%"
        assert mail.get_content().strip() == text
        assert st.updates is not None and not st.updates.pending and st.updates.draft is None
        assert st.updates.due_at == sent.at + timedelta(minutes=30)
        await idle(h, wid)
        await h.env.sleep(timedelta(minutes=29))
        assert len(kinds(await state(h, wid), "update_due")) == 1
        await idle(h, wid)
        await h.env.sleep(timedelta(minutes=1, seconds=2))
        st = await due(h, wid, 2)
        second = kinds(st, "update_due")[1]
        assert timedelta(minutes=30) <= second.at - sent.at < timedelta(minutes=30, seconds=3)
        assert "Update 2 on" in second.data["draft"]


async def test_an_unsent_update_is_reminded_then_escalated_like_an_approval(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    async with stack(ts_env, sink, slack, smtp[1], ack_timeout=False) as h:
        wid = await open_incident(h)
        await h.incidents.acknowledge(wid, ALICE)  # level 1 only: level 2 (dave) has not been paged
        await h.env.sleep(timedelta(minutes=30, seconds=2))
        st = await due(h, wid)
        assert st.lead == "alice", "the first human to acknowledge leads"
        assert kinds(st, "update_due")[0].data["asked"] == ["user:alice"], "the lead is asked"
        assert "What we are doing: alice leads." in kinds(st, "update_due")[0].data["draft"]
        await idle(h, wid)
        await h.env.sleep(timedelta(minutes=10))  # remind_after: a third of 30m
        st = await until(lambda: state(h, wid), lambda s: bool(kinds(s, "update_reminded")))
        reminded = kinds(st, "update_reminded")[0]
        assert timedelta(minutes=40) <= reminded.at - st.opened_at < timedelta(minutes=40, seconds=3)
        assert "unsent for 10m; reminding alice" in reminded.text
        await until(lambda: _told(sink, "alice", "Reminder: "))
        assert not told(sink, "dave")
        await idle(h, wid)
        await h.env.sleep(timedelta(minutes=10))
        st = await until(lambda: state(h, wid), lambda s: bool(kinds(s, "update_escalated")))
        escalated = kinds(st, "update_escalated")[0]
        assert timedelta(minutes=50) <= escalated.at - st.opened_at < timedelta(minutes=50, seconds=3)
        assert escalated.data == {"update": 1, "level": 2} and "asking level 2: user:dave" in escalated.text
        ask = await until(lambda: _told(sink, "dave", "--send"))
        assert f"baton update {st.incident_id} --send" in ask
        # Every level has been asked: nobody more is, and dave may send it as drafted.
        await idle(h, wid)
        await h.env.sleep(timedelta(minutes=30))
        assert len(kinds(await state(h, wid), "update_escalated")) == 1
        reply = await h.incidents.stakeholder_update(wid, DAVE)
        assert reply.ok
        st = await state(h, wid)
        assert kinds(st, "update_sent")[0].data["text"] == kinds(st, "update_due")[0].data["draft"]


async def test_a_severity_change_rereads_the_cadence(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    async with stack(ts_env, sink, slack, smtp[1]) as h:
        wid = await open_incident(h)
        await h.env.sleep(timedelta(minutes=10))
        await h.incidents.set_severity(wid, ALICE, Severity.SEV1, "all of eu-west")
        st = await state(h, wid)
        assert st.updates is not None and st.updates.due_at == st.opened_at + timedelta(minutes=15)
        await idle(h, wid)
        await h.env.sleep(timedelta(minutes=5, seconds=2))
        st = await due(h, wid)
        assert timedelta(minutes=15) <= kinds(st, "update_due")[0].at - st.opened_at < timedelta(minutes=15, seconds=3)
        assert "(every 15m)" in kinds(st, "update_due")[0].text


async def test_an_agent_posts_internally_alone_but_customers_need_a_human(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    async with stack(ts_env, sink, slack, smtp[1]) as h:
        wid = await open_incident(h)
        reply = await h.incidents.stakeholder_update(wid, TRIAGE, "Investigating checkout errors in eu-west.")
        assert reply.ok and "update 1 sent" in reply.message
        await until(lambda: asyncio.sleep(0, slack.posts("#support")))
        st = await state(h, wid)
        assert kinds(st, "update_sent")[0].actor == "agent:triage"
        # Customer-facing text: the agent's becomes a customer_comms approval request.
        asked = await h.incidents.stakeholder_update(wid, TRIAGE, "We are investigating checkout errors.", "customers")
        assert asked.ok and asked.approval_id == "A1"
        st = await state(h, wid)
        approval = st.approval("A1")
        assert approval is not None and approval.action == "customer_comms" and approval.pending
        assert approval.text == "We are investigating checkout errors."
        assert len(kinds(st, "update_sent")) == 1, "a request for approval is not an update sent"
        # A human's goes out as customer_comms (no runner here: recorded, done by hand), and counts as sent.
        mine = await h.incidents.stakeholder_update(wid, ALICE, "Checkout is degraded in Europe.", "customers")
        assert mine.ok and "update 2 sent to customers" in mine.message
        st = await until(lambda: state(h, wid), lambda s: bool(kinds(s, "action_ran")))
        sent = kinds(st, "update_sent")[1]
        assert sent.actor == "human:alice" and sent.data["audiences"] == ["customers (customer_comms R1)"]
        assert "customer_comms" in kinds(st, "action_ran")[0].text
        assert len(slack.posts()) == 1, "customer text never goes to the internal audiences"
        # The agent's customer text, approved by a human: now it is an update sent, and the cadence starts again.
        approved = await h.incidents.approve(wid, ALICE, "A1")
        assert approved.ok
        st = await until(lambda: state(h, wid), lambda s: len(kinds(s, "update_sent")) == 3)
        third = kinds(st, "update_sent")[2]
        assert third.actor == "agent:triage" and third.data["audiences"] == ["customers (customer_comms A1)"]
        assert (
            third.data["approved_by"] == "human:alice" and third.data["text"] == "We are investigating checkout errors."
        )
        assert st.updates is not None and st.updates.sent == 3 and not st.updates.customer_approvals


async def test_an_agent_at_a_severity_with_approval_autonomy_asks_and_sev0_refuses(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    strict = """
boundaries:
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity]
    approval: [rollback, customer_comms, resolve, internal_update]
"""
    async with stack(ts_env, sink, slack, smtp[1], boundaries=strict) as h:
        wid = await open_incident(h)
        asked = await h.incidents.stakeholder_update(wid, TRIAGE, "Investigating checkout errors.")
        assert asked.ok and asked.approval_id == "A1"
        assert not slack.posts()
        approved = await h.incidents.approve(wid, ALICE, "A1", "Investigating checkout errors in eu-west.")
        assert approved.ok
        st = await until(lambda: state(h, wid), lambda s: bool(kinds(s, "update_posted")), timeout=30)
        sent = kinds(st, "update_sent")[0]
        assert sent.actor == "agent:triage" and sent.data["approved_by"] == "human:alice"
        assert [p["text"] for p in slack.posts("#support")] == ["Investigating checkout errors in eu-west."]
        await h.incidents.set_severity(wid, ALICE, Severity.SEV0, "every region")
        with pytest.raises(Refused) as refused:
            await h.incidents.stakeholder_update(wid, TRIAGE, "All regions down.")
        assert "read_only" in (refused.value.rule or "")


async def test_an_agents_wording_becomes_the_draft_and_survives_continue_as_new(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    async with stack(ts_env, sink, slack, smtp[1]) as h:
        wid = await start(h, history_limit=100)
        await h.env.sleep(timedelta(minutes=30, seconds=2))
        await due(h, wid)
        wording = "Checkout payments fail for some EU customers; a fix is being rolled out."
        reply = await h.incidents.stakeholder_update(wid, TRIAGE, wording, propose=True)
        assert reply.ok and "alice, dave is asked to send it" in reply.message
        st = await state(h, wid)
        assert kinds(st, "update_proposed")[0].data == {"update": 1, "text": wording}
        assert st.updates is not None and st.updates.draft == wording and st.updates.draft_by == "agent:triage"
        await until(lambda: _told(sink, "alice", "proposes the wording"))
        # The run continues as new: the draft goes with the state.
        handle = h.client.get_workflow_handle(wid)
        first_run = (await handle.describe()).run_id
        for i in range(40):
            await handle.signal(IncidentWorkflow.alert, alert(h.key, summary=f"still failing {i}"))
        st = await until(lambda: _state_or_none(h, wid), lambda s: s is not None and s.runs >= 2, timeout=30)
        assert (await handle.describe()).run_id != first_run
        assert st.updates is not None and st.updates.draft == wording and st.updates.pending
        sent = await h.incidents.stakeholder_update(wid, ALICE)
        assert sent.ok
        st = await state(h, wid)
        assert kinds(st, "update_sent")[-1].data["text"] == wording


async def start(h: Harness, history_limit: int) -> str:
    """An incident whose run continues as new after `history_limit` events."""
    h.key = f"{h.task_queue}-carry"
    wid = workflow_id_for(SCOPE, h.key)
    await h.client.start_workflow(
        IncidentWorkflow.run,
        IncidentInput(
            policy=IncidentPolicy.snapshot(h.config, "checkout"), incident_id="INC-7K2Q9M", history_limit=history_limit
        ),
        id=wid,
        task_queue=h.task_queue,
        start_signal="alert",
        start_signal_args=[alert(h.key)],
    )
    await until(lambda: paged_count(h, wid, level=1))
    return wid


async def _state_or_none(h: Harness, wid: str) -> IncidentState | None:
    try:
        return await state(h, wid)
    except Exception:
        return None


async def test_nothing_to_send_and_nothing_configured_are_turned_away(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    async with stack(ts_env, sink, slack, smtp[1]) as h:
        wid = await open_incident(h)
        with pytest.raises(Refused, match="no update is due yet and there is no draft"):
            await h.incidents.stakeholder_update(wid, ALICE)
        with pytest.raises(Refused, match="a proposal needs the wording"):
            await h.incidents.stakeholder_update(wid, TRIAGE, None, propose=True)
        early = await h.incidents.stakeholder_update(wid, ALICE, "Early word: we are on it.")
        assert early.ok, "an update sent before it is due is sent, and the next one counts from it"
        st = await until(lambda: state(h, wid), lambda s: bool(kinds(s, "update_posted")))
        assert st.updates is not None and st.updates.due_at == kinds(st, "update_sent")[0].at + timedelta(minutes=30)


async def test_an_incident_without_updates_configured_has_none(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    async with stack(ts_env, sink, slack, smtp[1], updates="") as h:
        wid = await open_incident(h)
        with pytest.raises(Refused, match=r"no coordination\.updates"):
            await h.incidents.stakeholder_update(wid, ALICE, "hello")
        await h.env.sleep(timedelta(hours=2))
        st = await state(h, wid)
        assert st.updates is None and not kinds(st, "update_due")


async def test_an_update_sent_as_the_incident_resolves_still_reaches_its_audiences(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    async with stack(ts_env, sink, slack, port) as h:
        wid = await open_incident(h)
        final = "Resolved: checkout is back to normal since 02:41 UTC. No further updates."
        assert (await h.incidents.stakeholder_update(wid, ALICE, final)).ok
        await h.incidents.resolve(wid, ALICE, "rolled back v2.41")  # at once: the posting may not have begun
        result = await outcome(h, wid)
        assert [p["text"] for p in slack.posts("#support")] == [final]
        assert len(box.messages) == 1
        assert "## Stakeholder updates" in (result.postmortem or "") and "back to normal" in (result.postmortem or "")


async def test_whoever_holds_comms_is_asked_before_the_lead(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    updates = UPDATES.replace("coordination:\n", "coordination:\n  roles: [comms]\n")
    async with stack(ts_env, sink, slack, smtp[1], updates=updates) as h:
        wid = await open_incident(h)
        await h.incidents.acknowledge(wid, ALICE)
        await h.incidents.set_role(wid, ALICE, "comms", "bob")
        await h.env.sleep(timedelta(minutes=30, seconds=2))
        st = await due(h, wid)
        entry = kinds(st, "update_due")[0]
        assert entry.data["asked"] == ["user:bob"] and "Also on it: bob (comms)." in entry.data["draft"]
        ask = await until(functools.partial(_told, sink, "bob", "--send"))
        assert f"baton update {st.incident_id} --send" in ask
        assert not [t for t in told(sink, "alice") if "--send" in t], "the lead is not asked while comms is held"


async def test_an_incident_opened_before_coordination_runs_an_approved_internal_update_as_its_action(
    ts_env: WorkflowEnvironment, sink: Sink, slack: SlackApi, smtp: tuple[Mailbox, int]
) -> None:
    """Before coordination, `internal_update` could only be a team's own action: approved, it runs as one."""
    approval = """
boundaries:
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity]
    approval: [rollback, customer_comms, resolve, internal_update]
"""
    async with stack(ts_env, sink, slack, smtp[1], boundaries=approval) as h:
        key = f"{h.task_queue}-before"
        policy = IncidentPolicy.snapshot(h.config, "checkout").model_copy(update={"coordination": None})
        await h.incidents.ingest(alert(key), policy, SCOPE)
        wid = workflow_id_for(SCOPE, key)
        await until(lambda: paged_count(h, wid, level=1))
        asked = await h.incidents.request(wid, TRIAGE, "internal_update", "tell support", text="hello")
        assert asked.ok and asked.approval_id == "A1"
        assert (await h.incidents.approve(wid, ALICE, "A1")).ok
        st = await until(lambda: state(h, wid), lambda s: bool(kinds(s, "action_ran")))
        assert "internal_update" in kinds(st, "action_ran")[0].text and st.updates is None
