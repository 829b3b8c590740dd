"""The Slack app over real HTTP against the real dev server, with a local server playing Slack's Web API and the
response_url: signed requests built as Slack builds them, and what Slack would receive back."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from temporalio.testing import WorkflowEnvironment

from gateway.client import Incidents
from gateway.intake import create_app
from gateway.oncall import views
from gateway.slack.routes import slack_router
from gateway.slack.signing import ReplayCache, Unverified, signature, verify
from gateway.temporal import connect
from incident.config import Config
from incident.ids import workflow_id_for
from incident.models import Actor, Status
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import BASE_CONFIG, alert, make_config
from tests.helpers.http import HttpRequest, Sink, loopback_http, serving
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-bot-token"
TS = "1700000000.000100"
PEOPLE = BASE_CONFIG.replace("alice: {name: Alice,", "alice: {name: Alice, slack: UALICE,").replace(
    "bob:   {name: Bob,", "bob:   {name: Bob, slack: UBOB,"
)
SLACK = "  slack: {bot_token: env:TEST_SLACK_BOT_TOKEN, signing_secret: env:TEST_SLACK_SIGNING_SECRET, api_url: URL}\n"


# ---- Slack, played by a local HTTP server --------------------------------------------------------------------


@dataclass
class FakeSlack:
    """Slack's Web API under /api/ (views.open, chat.update) and response_urls under /hooks/."""

    url: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [c for c in self.calls if c["path"] == path]

    async def wait(self, path: str, count: int = 1) -> list[dict[str, Any]]:
        async def got() -> list[dict[str, Any]]:
            return self.to(path)

        return await until(got, lambda calls: len(calls) >= count)

    def hook(self) -> str:
        return f"{self.url}/hooks/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def slack() -> Any:
    fake = FakeSlack()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        with fake.lock:
            fake.calls.append(
                {
                    "path": req.path,
                    "headers": {k.lower(): v for k, v in req.headers.items()},
                    "json": json.loads(req.body or b"null"),
                }
            )
        if req.path.startswith("/api/views.open"):
            return 200, {"Content-Type": "application/json"}, b'{"ok": true, "view": {"id": "V0001"}}'
        if req.path.startswith("/api/"):
            return 200, {"Content-Type": "application/json"}, b'{"ok": true}'
        return 200, {"Content-Type": "text/plain"}, b"ok"

    with loopback_http(respond) as url:
        fake.url = url
        yield fake


def slack_config(sink: Sink, fake: FakeSlack) -> Config:
    return make_config(sink.url, extra=SLACK.replace("URL", f"'{fake.url}/api'"), base=PEOPLE)


@asynccontextmanager
async def slack_stack(env: WorkflowEnvironment, config: Config, deadline: float | None = None) -> AsyncIterator[Any]:
    """A worker and the intake (create_app, or only the Slack router with another deadline) on loopback."""
    async with httpx.AsyncClient() as http:
        h = await harness(env, config, http)
        if deadline is None:
            app = create_app(h.config, h.incidents)
        else:
            app = FastAPI()
            app.include_router(slack_router(h.config, h.incidents, deadline=deadline))
        async with h.worker, serving(app) as url, httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client, h


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, sink: Sink, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    monkeypatch.setenv("TEST_SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("TEST_SLACK_SIGNING_SECRET", SECRET)
    async with slack_stack(dev_env, slack_config(sink, slack)) as s:
        yield s


# ---- requests as Slack builds them ---------------------------------------------------------------------------


def signed(body: bytes, ts: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    sig = "v0=" + hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sig,
        "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
    }


def interaction_body(payload: dict[str, Any]) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def command_body(text: str, user: str, response_url: str) -> bytes:
    return urlencode(
        {
            "token": "legacy-verification-token",
            "team_id": "T0001",
            "team_domain": "acme",
            "channel_id": "C0001",
            "channel_name": "incidents",
            "user_id": user,
            "user_name": user.lower(),
            "command": "/baton",
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1111.2222.3333",
        }
    ).encode()


def page_blocks(iid: str, wid: str, approval_id: str | None = None) -> list[dict[str, Any]]:
    """The blocks of a page (or an approval message) as Slack hands them back in an interaction payload."""
    value: dict[str, str] = {"incident_id": iid, "workflow_id": wid}
    actions: dict[str, Any]
    if approval_id:
        value["approval_id"] = approval_id
        actions = {
            "type": "actions",
            "block_id": "baton_approval",
            "elements": [
                {"type": "button", "action_id": "baton_approve", "value": json.dumps(value), "style": "primary"},
                {"type": "button", "action_id": "baton_deny", "value": json.dumps(value), "style": "danger"},
            ],
        }
    else:
        actions = {
            "type": "actions",
            "block_id": "baton_actions",
            "elements": [
                {"type": "button", "action_id": "baton_ack", "value": json.dumps(value), "style": "primary"},
                {"type": "button", "action_id": "baton_resolve", "value": json.dumps(value)},
                {"type": "button", "action_id": "baton_open", "url": f"http://ui.example/{iid}"},
            ],
        }
    for element in actions["elements"]:
        element["text"] = {"type": "plain_text", "text": element["action_id"], "emoji": True}
    return [
        {"type": "header", "block_id": "h1", "text": {"type": "plain_text", "text": f"[SEV2] {iid} checkout"}},
        {"type": "section", "block_id": "s1", "text": {"type": "mrkdwn", "text": "checkout 5xx above 5%"}},
        actions,
    ]


def press(
    fake: FakeSlack, action_id: str, user: str, iid: str, wid: str, approval_id: str | None = None
) -> dict[str, Any]:
    """A `block_actions` payload: `user` pressed `action_id` on a page in a DM from the app."""
    blocks = page_blocks(iid, wid, approval_id)
    button = next(e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id)
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": TS, "channel_id": "D0001", "is_ephemeral": False},
        "trigger_id": f"{uuid.uuid4().int % 10**12}.1111.abcdef",
        "team": {"id": "T0001", "domain": "acme"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": "D0001", "name": "directmessage"},
        "message": {"type": "message", "user": "UBOT", "ts": TS, "text": f"[SEV2] {iid} checkout", "blocks": blocks},
        "state": {"values": {}},
        "response_url": fake.hook(),
        "actions": [{**button, "block_id": blocks[-1]["block_id"], "action_ts": f"{time.time():.6f}"}],
    }


def submission(fake_view: dict[str, Any], user: str, value: str) -> dict[str, Any]:
    """A `view_submission` for the modal Slack was asked to open, with `value` typed into its input."""
    field_id = next(b["block_id"] for b in fake_view["blocks"] if b["type"] == "input")
    return {
        "type": "view_submission",
        "team": {"id": "T0001", "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "trigger_id": "2222.3333.4444",
        "view": {
            "id": "V0001",
            "type": "modal",
            "callback_id": fake_view["callback_id"],
            "private_metadata": fake_view["private_metadata"],
            "blocks": fake_view["blocks"],
            "state": {"values": {field_id: {field_id: {"type": "plain_text_input", "value": value or None}}}},
            "hash": "156772938.1827394",
        },
        "response_urls": [],
    }


async def interact(http: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    body = interaction_body(payload)
    return await http.post("/v1/slack/interactions", content=body, headers=signed(body))


async def slash(http: httpx.AsyncClient, fake: FakeSlack, text: str, user: str = "UALICE") -> httpx.Response:
    body = command_body(text, user, fake.hook())
    return await http.post("/v1/slack/commands", content=body, headers=signed(body))


# ---- incidents -----------------------------------------------------------------------------------------------


async def open_incident(h: Harness, key: str | None = None, before: str | None = None) -> tuple[str, str]:
    """An incident whose first page has gone out (alice is paged): (incident id, workflow id). `before` is the
    incident this key opened last time, already resolved."""
    key = key or f"slack-{uuid.uuid4().hex[:8]}"
    await h.incidents.ingest(
        alert(key, summary=f"checkout errors {key}"), IncidentPolicy.snapshot(h.config, "checkout"), "slack"
    )
    wid = workflow_id_for("slack", key)
    rows = await until(lambda: _listed(h, wid, before))
    await until(lambda: h.incidents.state(wid), lambda st: st.paged and st.incident_id == rows[0].incident_id)
    return rows[0].incident_id, wid


async def _listed(h: Harness, wid: str, before: str | None = None) -> list:
    return [
        r
        for r in await h.incidents.search()
        if r.workflow_id == wid and r.incident_id != before and r.status == "triggered"
    ]


async def state(h: Harness, wid: str) -> IncidentState:
    return await h.incidents.state(wid)


def outcome_line(call: dict[str, Any]) -> str:
    last = call["json"]["blocks"][-1]
    assert last["type"] == "context" and last["block_id"] == "baton_outcome", last
    return last["elements"][0]["text"]


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    return [e.get("action_id", "") for b in blocks if b["type"] == "actions" for e in b["elements"]]


# ---- verification --------------------------------------------------------------------------------------------


def test_the_signature_is_the_one_in_slacks_documented_example() -> None:
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
        b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
        b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
        b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert signature(SECRET, "1531420618", body) == expected
    headers = {"x-slack-request-timestamp": "1531420618", "x-slack-signature": expected}
    replays = ReplayCache()
    verify(SECRET, headers, body, replays, now=1531420618 + 299)
    with pytest.raises(Unverified, match="replay"):
        verify(SECRET, headers, body, replays, now=1531420618 + 299)
    with pytest.raises(Unverified, match="five minutes"):
        verify(SECRET, headers, body, ReplayCache(), now=1531420618 + 301)
    with pytest.raises(Unverified, match="signature"):
        verify(SECRET, headers, body + b"x", ReplayCache(), now=1531420618)


def test_the_replay_cache_is_bounded_and_forgets_what_the_window_refuses_anyway() -> None:
    cache = ReplayCache(window=300, size=3)
    assert all(cache.first_time(f"s{i}", 1000, 1000) for i in range(5))
    assert len(cache._seen) == 3 and not cache.first_time("s4", 1000, 1000)
    assert cache.first_time("s4", 2000, 2000), "expired entries are dropped"


async def test_forged_stale_and_replayed_requests_are_401_and_change_nothing(
    stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    http, h = stack
    iid, wid = await open_incident(h)
    body = interaction_body(press(slack, "baton_ack", "UALICE", iid, wid))
    forged = await http.post("/v1/slack/interactions", content=body, headers=signed(body, secret="not-the-secret"))
    stale = await http.post("/v1/slack/interactions", content=body, headers=signed(body, ts=int(time.time()) - 360))
    unsigned = await http.post(
        "/v1/slack/interactions", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    for resp in (forged, stale, unsigned):
        assert resp.status_code == 401 and resp.json()["error"] == "unauthorized", resp.text
    assert "five minutes" in stale.json()["message"] and "signature" in forged.json()["message"]

    note = command_body(f"note {iid} checked the dashboards", "UALICE", slack.hook())
    headers = signed(note)
    first = await http.post("/v1/slack/commands", content=note, headers=headers)
    replayed = await http.post("/v1/slack/commands", content=note, headers=headers)
    assert first.status_code == 200 and first.json()["text"].startswith("note added")
    assert replayed.status_code == 401 and "replay" in replayed.json()["message"]

    st = await state(h, wid)
    assert st.status is Status.TRIGGERED and st.acknowledged_by is None
    assert [e.text for e in st.timeline if e.kind == "note"] == ["checked the dashboards"]
    assert slack.to("/api/chat.update") == []


async def test_without_a_signing_secret_slack_is_not_configured_never_a_500(
    monkeypatch: pytest.MonkeyPatch, sink: Sink, slack: FakeSlack
) -> None:
    client = await connect("127.0.0.1:1", lazy=True)
    body = command_body("help", "UALICE", slack.hook())
    monkeypatch.delenv("TEST_SLACK_SIGNING_SECRET", raising=False)
    for config, status in ((make_config(sink.url), 404), (slack_config(sink, slack), 503)):
        async with serving(create_app(config, Incidents(client))) as url, httpx.AsyncClient(base_url=url) as http:
            for path in ("/v1/slack/commands", "/v1/slack/interactions"):
                resp = await http.post(path, content=body, headers=signed(body))
                assert resp.status_code == status, resp.text
                assert "Slack is not configured" in resp.json()["message"]


# ---- buttons -------------------------------------------------------------------------------------------------


async def test_acknowledge_button_acknowledges_and_replaces_the_buttons(
    stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    http, h = stack
    iid, wid = await open_incident(h)
    resp = await interact(http, press(slack, "baton_ack", "UALICE", iid, wid))
    assert resp.status_code == 200
    st = await state(h, wid)
    assert st.status is Status.ACKNOWLEDGED and st.acknowledged_by == "human:alice"

    [update] = await slack.wait("/api/chat.update")
    assert update["headers"]["authorization"] == f"Bearer {BOT_TOKEN}"
    assert update["headers"]["content-type"].startswith("application/json")
    sent = update["json"]
    assert sent["channel"] == "D0001" and sent["ts"] == TS and sent["text"] == f"[SEV2] {iid} checkout"
    assert sent["blocks"][0]["type"] == "header", "the page stays; only the buttons go"
    assert action_ids(sent["blocks"]) == ["baton_open"], "the link to the incident stays"
    assert outcome_line(update).startswith(":white_check_mark: Acknowledged by Alice at ")
    assert outcome_line(update).endswith(" UTC")

    await interact(http, press(slack, "baton_ack", "UBOB", iid, wid))
    second = (await slack.wait("/api/chat.update", 2))[1]
    assert outcome_line(second) == "Already acknowledged by Alice"
    assert (await state(h, wid)).acknowledged_by == "human:alice"

    await interact(http, press(slack, "baton_open", "UBOB", iid, wid))  # a link: Slack tells, nothing happens
    assert len(slack.to("/api/chat.update")) == 2


async def test_approve_button_refused_for_who_may_not_decide_then_approved(
    stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    http, h = stack
    iid, wid = await open_incident(h)
    asked = await h.incidents.request(wid, Actor.agent("triage"), "rollback", "v42 is the only change", {"v": "41"})
    assert asked.approval_id == "A1"

    await interact(http, press(slack, "baton_approve", "UBOB", iid, wid, "A1"))
    [refused] = await slack.wait("/api/chat.update")
    assert "bob is not among those who may decide rollback" in outcome_line(refused)
    assert (await state(h, wid)).approval("A1").pending  # type: ignore[union-attr]

    await interact(http, press(slack, "baton_approve", "UALICE", iid, wid, "A1"))
    approved = (await slack.wait("/api/chat.update", 2))[1]
    assert outcome_line(approved).startswith(":white_check_mark: Approved by Alice at ")
    assert action_ids(approved["json"]["blocks"]) == []
    decided = (await state(h, wid)).approval("A1")
    assert decided is not None and decided.status.value == "approved" and decided.decided_by == "human:alice"

    await interact(http, press(slack, "baton_approve", "UALICE", iid, wid, "A1"))
    again = (await slack.wait("/api/chat.update", 3))[2]
    assert "A1 was already approved by human:alice" in outcome_line(again)


async def test_resolve_opens_a_modal_whose_submission_resolves(
    stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    http, h = stack
    iid, wid = await open_incident(h)
    pressed = press(slack, "baton_resolve", "UALICE", iid, wid)
    assert (await interact(http, pressed)).status_code == 200
    [opened] = await slack.wait("/api/views.open")
    assert opened["headers"]["authorization"] == f"Bearer {BOT_TOKEN}"
    assert opened["json"]["trigger_id"] == pressed["trigger_id"]
    view = opened["json"]["view"]
    assert view["type"] == "modal" and view["callback_id"] == "baton_resolve" and len(view["title"]["text"]) <= 24
    meta = json.loads(view["private_metadata"])
    assert meta["w"] == wid and meta["c"] == "D0001" and meta["t"] == TS and meta["r"] == pressed["response_url"]
    assert (await state(h, wid)).status is Status.TRIGGERED, "pressing Resolve only asks"

    resp = await interact(http, submission(view, "UALICE", "rolled back checkout v2.41"))
    assert resp.status_code == 200 and resp.content == b"", "an empty 200 closes the modal"
    st = await state(h, wid)
    assert st.status is Status.RESOLVED and st.resolved_by == "human:alice"
    assert st.resolution == "rolled back checkout v2.41"
    [update] = await slack.wait("/api/chat.update")
    assert update["json"]["channel"] == "D0001" and update["json"]["ts"] == TS
    assert update["json"]["blocks"][0]["type"] == "header", "the original message comes back without its buttons"
    line = outcome_line(update)
    assert line.startswith(":white_check_mark: Resolved by Alice at ") and line.endswith(": rolled back checkout v2.41")


async def test_deny_needs_a_reason_in_the_modal(stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack) -> None:
    http, h = stack
    iid, wid = await open_incident(h)
    await h.incidents.request(wid, Actor.agent("triage"), "rollback", "v42 is the only change")
    await interact(http, press(slack, "baton_deny", "UALICE", iid, wid, "A1"))
    [opened] = await slack.wait("/api/views.open")
    view = opened["json"]["view"]
    assert view["callback_id"] == "baton_deny" and json.loads(view["private_metadata"])["a"] == "A1"

    blank = await interact(http, submission(view, "UALICE", "   "))
    assert blank.status_code == 200
    assert blank.json()["response_action"] == "errors" and "needs a reason" in blank.json()["errors"]["reason"]
    assert (await state(h, wid)).approval("A1").pending  # type: ignore[union-attr]

    resp = await interact(http, submission(view, "UALICE", "v42 is not deployed yet"))
    assert resp.status_code == 200 and resp.content == b""
    denied = (await state(h, wid)).approval("A1")
    assert denied is not None and denied.status.value == "denied" and denied.reason == "v42 is not deployed yet"
    [update] = await slack.wait("/api/chat.update")
    assert outcome_line(update).endswith(": v42 is not deployed yet") and "Denied by Alice at " in outcome_line(update)
    assert action_ids(update["json"]["blocks"]) == []


async def test_an_unmapped_user_reads_but_cannot_decide(
    stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    http, h = stack
    iid, wid = await open_incident(h)
    pressed = press(slack, "baton_ack", "UNOBODY", iid, wid)
    assert (await interact(http, pressed)).status_code == 200
    hook = pressed["response_url"].removeprefix(slack.url)
    [told] = await slack.wait(hook)
    assert told["json"]["response_type"] == "ephemeral"
    assert told["json"]["text"] == (
        "your Slack user UNOBODY is not a person in baton's config; ask an admin to add `slack: UNOBODY`"
    )
    await interact(http, press(slack, "baton_resolve", "UNOBODY", iid, wid))
    assert slack.to("/api/views.open") == [], "no modal for someone who cannot decide"

    cmd = (await slash(http, slack, f"ack {iid}", user="UNOBODY")).json()
    assert cmd["response_type"] == "ephemeral" and "is not a person in baton's config" in cmd["text"]
    assert (await state(h, wid)).status is Status.TRIGGERED
    assert slack.to("/api/chat.update") == []

    read = (await slash(http, slack, f"status {iid}", user="UNOBODY")).json()
    assert read["response_type"] == "ephemeral" and iid in read["text"] and "checkout errors" in read["text"]
    assert "*triggered*" in read["text"] and "paged: alice" in read["text"]
    assert "on call now" in (await slash(http, slack, "oncall", user="UNOBODY")).json()["text"]


async def test_yesterdays_buttons_do_nothing_to_the_incident_open_now_on_the_same_key(
    stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    """The workflow id is the alert key's, so it is reused once an incident is resolved: a button is for the
    incident it was sent for, and on a closed one it says so and changes nothing."""
    http, h = stack
    key = f"slack-{uuid.uuid4().hex[:8]}"
    old, wid = await open_incident(h, key)
    agent = Actor.agent("triage")
    asked = await h.incidents.request(wid, agent, "rollback", "v42 is the only change", {"v": "41"})
    assert asked.approval_id == "A1"
    await h.incidents.resolve(wid, Actor.human("alice"), "rolled back")
    await until(lambda: h.incidents.find(wid), lambda found: not found.open)

    new, same_wid = await open_incident(h, key, before=old)
    assert same_wid == wid and new != old
    assert (await h.incidents.request(wid, agent, "rollback", "v43 broke it", {"v": "42"})).approval_id == "A1"

    await interact(http, press(slack, "baton_ack", "UALICE", old, wid))
    await interact(http, press(slack, "baton_approve", "UALICE", old, wid, "A1"))
    await interact(http, press(slack, "baton_resolve", "UALICE", old, wid))
    updates = await slack.wait("/api/chat.update", 3)
    for update in updates:
        assert outcome_line(update) == f":warning: {old} is already resolved", outcome_line(update)
        assert action_ids(update["json"]["blocks"]) in (["baton_open"], []), "the buttons go, the link stays"
    assert slack.to("/api/views.open") == [], "no form for a closed incident"

    st = await state(h, wid)
    assert st.incident_id == new and st.status is Status.TRIGGERED and st.acknowledged_by is None
    assert st.approval("A1").pending  # type: ignore[union-attr]
    assert not [e for e in st.timeline if e.actor == "human:alice"], "nothing was done to the open incident"

    await interact(http, press(slack, "baton_ack", "UALICE", new, wid))  # today's button acts on today's incident
    await until(lambda: state(h, wid), lambda st: st.acknowledged_by == "human:alice")


# ---- /baton --------------------------------------------------------------------------------------------------


async def test_slash_commands(stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack) -> None:
    http, h = stack
    iid, wid = await open_incident(h)

    async def say(text: str, user: str = "UALICE") -> str:
        resp = await slash(http, slack, text, user)
        assert resp.status_code == 200 and resp.json()["response_type"] == "ephemeral", resp.text
        return resp.json()["text"]

    listed = await say("status")
    assert "*Open incidents*" in listed and f"*{iid}* `triggered`" in listed

    assert await say(f"ack {iid.lower()}") == f"{iid} acknowledged by human:alice; alice leads"
    assert await say(f"ack {iid}", user="UBOB") == "already acknowledged by human:alice"
    assert await say(f"note {iid} rolling back checkout <v2.41>") == f"note added to {iid}"
    assert "a note needs text" in await say(f"note {iid}")
    st = await state(h, wid)
    assert st.acknowledged_by == "human:alice"
    assert any(e.kind == "note" and e.text == "rolling back checkout <v2.41>" for e in st.timeline)

    one = await say(f"status {iid}")
    assert f"*{iid}*" in one and "*acknowledged*" in one and "Acknowledged by Alice" in one
    assert "rolling back checkout &lt;v2.41&gt;" in one, "mrkdwn control characters are escaped"
    assert "no incident INC-000000" in await say("status INC-000000")

    on_call = views(h.config, "primary", None)[0]
    expected = h.config.people[on_call.on_call or ""].name
    assert f"*primary*: *{expected}* on call now; next: " in await say("oncall primary")
    assert "unknown schedule 'nope' (known: primary)" in await say("oncall nope")

    unknown = await say("reboot everything")
    assert unknown.startswith("unknown subcommand `reboot`") and "`/baton ack INC-7K2Q9M`" in unknown
    assert "`/baton status`" in await say("help") and "`/baton status`" in await say("")

    assert await say(f"resolve {iid} rollback fixed it") == f"{iid} resolved by human:alice"
    assert (await state(h, wid)).resolution == "rollback fixed it"
    assert await say(f"note {iid} after the fact") == f"{iid} is already resolved"
    await until(lambda: say("status"), lambda text: iid not in text)


async def test_slow_answers_are_acknowledged_at_once_and_finished_in_the_background(
    dev_env: WorkflowEnvironment, sink: Sink, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no time to wait, the request is answered empty and the result arrives through Slack afterwards."""
    monkeypatch.setenv("TEST_SLACK_BOT_TOKEN", BOT_TOKEN)
    monkeypatch.setenv("TEST_SLACK_SIGNING_SECRET", SECRET)
    async with slack_stack(dev_env, slack_config(sink, slack), deadline=0) as (http, h):
        iid, _ = await open_incident(h)
        hook = slack.hook()
        body = command_body(f"ack {iid}", "UALICE", hook)
        resp = await http.post("/v1/slack/commands", content=body, headers=signed(body))
        assert resp.status_code == 200 and resp.content == b""
        [late] = await slack.wait(hook.removeprefix(slack.url))
        assert late["json"] == {"response_type": "ephemeral", "text": f"{iid} acknowledged by human:alice; alice leads"}

        iid2, wid2 = await open_incident(h)
        assert (await interact(http, press(slack, "baton_ack", "UBOB", iid2, wid2))).status_code == 200
        [update] = await slack.wait("/api/chat.update")
        assert outcome_line(update).startswith(":white_check_mark: Acknowledged by Bob at ")


async def test_a_maintenance_window_from_slack(stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack) -> None:
    http, h = stack
    _, wid = await open_incident(h)

    async def say(text: str, user: str = "UALICE") -> str:
        resp = await slash(http, slack, text, user)
        assert resp.status_code == 200 and resp.json()["response_type"] == "ephemeral", resp.text
        return resp.json()["text"]

    opened = await say("maintenance checkout 2h db <migration>")
    assert " open for checkout until " in opened and "maintenance end MW-" in opened
    window = opened.split()[0]
    await until(lambda: state(h, wid), lambda st: st.maintenance is not None and st.maintenance.window_id == window)
    listed = await say("maintenance")
    assert f"*{window}* checkout — open" in listed and "db &lt;migration&gt;" in listed
    assert "no service 'nope'" in await say("maintenance nope 2h")
    assert "at most 7d" in await say("maintenance checkout 9d")
    assert "open for" not in await say("maintenance checkout 1h", user="UNOBODY"), "a Slack user who is nobody"
    assert (await say(f"maintenance end {window.lower()}")).startswith(f"{window} ended")
    await until(lambda: state(h, wid), lambda st: st.maintenance is None)
