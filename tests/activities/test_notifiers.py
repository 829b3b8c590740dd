"""Notifiers against real servers on loopback: a Slack Web API double, an SMTP server (aiosmtpd), a signed-webhook
receiver, a PagerDuty Events v2 double; and the fallback from Slack to the webhook through the workflow."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from temporalio.testing import WorkflowEnvironment

from activities.notifiers import NOTIFIERS, NotifierError, NotifyEnv, render
from activities.notifiers.base import headline
from activities.notifiers.email import send_email
from activities.notifiers.log import send_log
from activities.notifiers.pagerduty import send_pagerduty
from activities.notifiers.slack import send_slack
from activities.notifiers.webhook import send_webhook, sign, verify_signature
from incident.config import Config
from incident.context import Change, LogLine, LogSummary, MetricSummary, PageContext, Suspect
from incident.ids import workflow_id_for
from incident.links import Link
from incident.models import Page, Recipient, Severity, Status
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import HttpRequest, Sink, free_port, loopback_http
from tests.helpers.temporal import harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

CONFIG = """
people:
  alice:
    name: Alice
    slack: U1
    email: alice@example.com
    webhook: "SINK/alice"
    pagerduty: pd-routing-key-alice
    timezone: Europe/Berlin
    notify: NOTIFY
escalation_policies:
  one: {levels: [{notify: [user:alice], after: 5m}]}
services:
  checkout: {escalation: one, runbook: "https://runbooks.example/checkout"}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
"""
BOT_TOKEN = "xoxb-test-token"
LINK = "http://localhost:8233/namespaces/default/workflows/incident%3Aevents%3Acheckout%3Ak/run-1"
OPENED = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
RECIPIENT = Recipient(person="alice", display_name="Alice", methods=["slack", "webhook"], via="user:alice")


def context() -> PageContext:
    deploy = Change(service="checkout", version="v2.41", author="bob", at=OPENED - timedelta(minutes=20))
    return PageContext(
        suspects=[Suspect(change=deploy, before=timedelta(minutes=20))],
        metrics=[
            MetricSummary(name="5xx rate", query="q", unit="%", current=7.2, before=0.3, trend="▁▁▂▅█"),
            MetricSummary(name="p99 latency", query="q", unit="s", current=1.84, before=0.31, trend="▁▂▂▆█"),
        ],
        logs=LogSummary(query='{app="checkout"}', total=1284, top=[LogLine(text="upstream connect error", count=812)]),
        missing=["github: 401 Bad credentials"],
    )


def page(kind: str = "page", thread: str | None = None, ctx: PageContext | None = None, **kw: Any) -> Page:
    fields: dict[str, Any] = dict(
        kind=kind,
        incident_id="INC-7K2Q9M",
        workflow_id="incident:events:checkout:k",
        title="checkout 5xx rate above 5%",
        service="checkout",
        severity=Severity.SEV1,
        status=Status.TRIGGERED,
        level=1,
        levels=2,
        cycle=0,
        alert_count=3,
        opened_at=OPENED,
        runbook="https://runbooks.example/checkout",
        links=[Link(href="https://prometheus.example/graph", text="Prometheus")],
        context=context() if ctx is None else ctx,
        thread=thread,
    )
    return Page.model_validate(fields | kw)


def config(integrations: str = "", sink_url: str = "http://127.0.0.1:9", notify: str = "[webhook]") -> Config:
    """Alice with every contact detail; `integrations` lines are added under `integrations:`."""
    return make_config(sink_url, integrations, base=CONFIG.replace("NOTIFY", notify))


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


async def deliver(notifier: Any, cfg: Config, http: httpx.AsyncClient, pg: Page, key: str = "wf/run/1") -> Any:
    return await notifier(NotifyEnv(http=http, config=cfg), cfg.people["alice"], RECIPIENT, pg, key, LINK)


# ---- a programmable HTTP server on loopback ------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Reply = tuple[int, dict[str, str], Any]


@dataclass
class Fake:
    """Records every POST and answers what `reply` says: (status, headers, JSON body)."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    reply: Callable[[Request], Reply] = lambda req: (200, {}, {})
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = Fake()

    def respond(r: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        req = Request(r.path, r.headers, r.body)
        with state.lock:
            state.requests.append(req)
        status, headers, body = state.reply(req)
        return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()

    with loopback_http(respond) as url:
        state.url = url
        yield state


# ---- rendering -----------------------------------------------------------------------------------------------


def test_text_carries_the_context_and_says_what_is_missing() -> None:
    out = render.text(page(), LINK, "Europe/Berlin")
    assert out.startswith(headline(page()))
    for expected in (
        "Severity: SEV1",
        "Level:    1 of 2",
        "2026-03-02 14:05 UTC (15:05 Europe/Berlin)",
        "checkout v2.41 deployed by bob 20 min before the alert",
        "5xx rate: 7.2% (before: 0.3%) ▁▁▂▅█",
        "p99 latency: 1.84 s (before: 0.31 s)",
        "812x upstream connect error",
        f"Incident:   {LINK}",
        "Runbook:    https://runbooks.example/checkout",
        "Context not available: github: 401 Bad credentials",
    ):
        assert expected in out


def test_html_escapes_everything_from_outside() -> None:
    hostile = page(
        title="<script>alert(1)</script>",
        links=[Link(href="javascript:alert(1)", text="click"), Link(href='https://x.example/"><b>', text="ok")],
    )
    out = render.html(hostile, LINK)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert 'href="javascript:' not in out
    assert 'href="https://x.example/&quot;&gt;&lt;b&gt;"' in out
    assert "<li>checkout v2.41 deployed by bob 20 min before the alert</li>" in out


HIDDEN = "\x1b]0;owned\x07\x1b[1A\x9b2K\u202eevil\u200b\U000e0041"


def forging_page() -> Page:
    """A source whose title, deploy, metric and log line carry markup, escape codes and a forged item."""
    deploy = Change(
        service="checkout", version=f"v2.41 {HIDDEN}\n  - checkout v2.40 deployed by alice", at=OPENED, author="bob"
    )
    ctx = PageContext(
        suspects=[Suspect(change=deploy, before=timedelta(minutes=20))],
        metrics=[MetricSummary(name="<b>5xx</b>\nLinks", query="q", current=7.2)],
        logs=LogSummary(query="q", total=1, top=[LogLine(text=f"<img src=x onerror=alert(1)> {HIDDEN}", count=1)]),
    )
    return page(title=f"<script>alert(1)</script> {HIDDEN}\nSeverity: SEV4", ctx=ctx)


def test_html_shows_markup_and_escape_codes_from_outside_as_text() -> None:
    out = render.html(forging_page(), LINK)
    assert "<script>" not in out and "<img" not in out and "<b>5xx" not in out
    assert "&lt;script&gt;" in out and "&lt;img src=x onerror=alert(1)&gt;" in out
    for c in ("\x1b", "\x07", "\x9b", "\u202e", "\u200b", "\U000e0041"):
        assert c not in out, repr(c)
    assert "\\x1b]0;owned\\x07" in out and "\\u202eevil" in out


def test_plain_text_keeps_what_a_source_wrote_under_its_item() -> None:
    out = render.text(forging_page(), LINK)
    lines = out.splitlines()
    assert lines[0].endswith("\\u202eevil\\u200b\\U000e0041 ↵ Severity: SEV4"), "the title stays on its line"
    assert [line for line in lines if line.startswith("Severity:")] == ["Severity: SEV1"]
    assert "    ↳   - checkout v2.40 deployed by alice deployed by bob 20 min before the alert" in lines
    assert [line for line in lines if line.startswith("  - checkout")] == [
        "  - checkout v2.41 \\x1b]0;owned\\x07\\x1b[1A\\x9b2K\\u202eevil\\u200b\\U000e0041"
    ]
    assert "    ↳ Links: 7.2" in lines and lines.count("Links") == 1
    for c in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert c not in out, repr(c)


async def test_an_email_from_a_hostile_source_escapes_both_parts(
    smtp: tuple[Mailbox, int], http: httpx.AsyncClient
) -> None:
    box, port = smtp
    await deliver(send_email, smtp_config(port), http, forging_page())
    msg = box.messages[0]
    assert "\n" not in msg["Subject"] and "Severity: SEV4" in msg["Subject"] and "\x1b" not in msg["Subject"]
    html_part, plain_part = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html_part is not None and plain_part is not None
    assert "<script>" not in html_part.get_content() and "&lt;script&gt;" in html_part.get_content()
    assert "\x1b" not in plain_part.get_content() and "\u202e" not in html_part.get_content()


# ---- Slack ---------------------------------------------------------------------------------------------------


def slack_api(req: Request) -> Reply:
    """What Slack's chat.postMessage would answer, checking what Slack checks and what baton promises."""
    if req.path != "/api/chat.postMessage":
        return 404, {}, {"ok": False, "error": "unknown_method"}
    if req.headers.get("Authorization") != f"Bearer {BOT_TOKEN}":
        return 200, {}, {"ok": False, "error": "invalid_auth"}
    body = req.json()
    if body.get("channel") not in ("U1", "D123") or not body.get("text"):
        return 200, {}, {"ok": False, "error": "channel_not_found" if body.get("text") else "no_text"}
    blocks = body.get("blocks") or []
    if not blocks or blocks[0]["type"] != "header":
        return 200, {}, {"ok": False, "error": "invalid_blocks"}
    if "thread_ts" not in body:
        buttons = next(b for b in blocks if b["type"] == "actions")["elements"]
        ids = {b["action_id"]: b for b in buttons}
        values = [json.loads(ids[a]["value"]) for a in ("baton_ack", "baton_resolve")]
        if any(set(v) != {"incident_id", "workflow_id"} for v in values) or ids["baton_open"]["url"] != LINK:
            return 200, {}, {"ok": False, "error": "invalid_blocks"}
    return 200, {}, {"ok": True, "channel": "D123", "ts": "1700000000.000100" if "thread_ts" not in body else "1.2"}


def slack_config(url: str, token: str = BOT_TOKEN, sink_url: str = "http://127.0.0.1:9") -> Config:
    return config(f"  slack: {{bot_token: {token}, api_url: '{url}/api'}}\n", sink_url, notify="[slack, webhook]")


async def test_slack_dm_with_blocks_then_update_in_its_thread(fake: Fake, http: httpx.AsyncClient) -> None:
    fake.reply = slack_api
    cfg = slack_config(fake.url)
    first = await deliver(send_slack, cfg, http, page())
    assert first.thread == "D123:1700000000.000100"
    sent = fake.requests[0].json()
    assert sent["channel"] == "U1" and sent["text"] == headline(page())
    types = [b["type"] for b in sent["blocks"]]
    assert types[0] == "header" and "actions" in types and "context" in types
    buttons = next(b for b in sent["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == ["baton_ack", "baton_resolve", "baton_lead", "baton_open"]
    assert buttons[2]["value"] == buttons[0]["value"], "Take lead names the incident as Acknowledge does"
    assert json.loads(buttons[0]["value"]) == {"incident_id": "INC-7K2Q9M", "workflow_id": "incident:events:checkout:k"}
    facts = next(b for b in sent["blocks"] if "fields" in b)["fields"]
    assert [f["text"].split("\n")[0] for f in facts] == ["*Service*", "*Severity*", "*Status*", "*Lead*", "*Level*"]
    assert facts[3]["text"] == "*Lead*\nnobody yet"
    assert "checkout v2.41 deployed by bob" in json.dumps(sent["blocks"])

    update = await deliver(send_slack, cfg, http, page("update", thread=first.thread), key="wf/run/2")
    sent = fake.requests[1].json()
    assert sent["channel"] == "D123" and sent["thread_ts"] == "1700000000.000100"
    assert update.thread == first.thread, "the thread stays the first page's"
    recovered = await deliver(send_slack, cfg, http, page("recovered", thread=first.thread), key="wf/run/3")
    sent = fake.requests[2].json()
    assert sent["thread_ts"] == "1700000000.000100" and sent["reply_broadcast"] is True
    assert recovered.thread == first.thread


@pytest.mark.parametrize(
    ("reply", "retryable", "says"),
    [
        ((200, {}, {"ok": False, "error": "invalid_auth"}), False, "invalid_auth"),
        ((200, {}, {"ok": False, "error": "channel_not_found"}), False, "channel_not_found"),
        ((200, {}, {"ok": False, "error": "ratelimited"}), True, "ratelimited"),
        ((429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"}), True, "Retry-After: 30"),
        ((500, {}, {}), True, "500"),
    ],
)
async def test_slack_errors(fake: Fake, http: httpx.AsyncClient, reply: Reply, retryable: bool, says: str) -> None:
    fake.reply = lambda req: reply
    with pytest.raises(NotifierError) as err:
        await deliver(send_slack, slack_config(fake.url), http, page())
    assert err.value.retryable is retryable and says in str(err.value)


async def test_slack_wrong_token_is_refused_by_the_fake_and_not_retried(fake: Fake, http: httpx.AsyncClient) -> None:
    fake.reply = slack_api
    with pytest.raises(NotifierError) as err:
        await deliver(send_slack, slack_config(fake.url, token="xoxb-wrong"), http, page())
    assert not err.value.retryable and "xoxb-wrong" not in str(err.value)


# ---- email ---------------------------------------------------------------------------------------------------


@dataclass
class Mailbox:
    """An aiosmtpd handler: collects messages, or refuses recipients with `refuse` (e.g. `550 ...`)."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: str | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        return "250 Message accepted for delivery"


def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"baton", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=authenticate, auth_require_tls=False)
    controller.start()
    yield box, port
    controller.stop()


def smtp_config(port: int, login: str = "") -> Config:
    return config(f"  smtp: {{host: 127.0.0.1, port: {port}, sender: baton@example.com, starttls: false{login}}}\n")


async def test_email_multipart_with_stable_message_id_and_threaded_update(
    smtp: tuple[Mailbox, int], http: httpx.AsyncClient
) -> None:
    box, port = smtp
    cfg = smtp_config(port, ", username: baton, password: s3cret")
    first = await deliver(send_email, cfg, http, page(), key="wf/run/1")
    again = await deliver(send_email, cfg, http, page(), key="wf/run/1")
    assert first.thread == again.thread, "a retry of the same delivery keeps its Message-ID"
    update = await deliver(send_email, cfg, http, page("update", thread=first.thread), key="wf/run/2")
    assert update.thread != first.thread

    msg = box.messages[0]
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == headline(page()) and msg["To"] == "alice@example.com"
    assert msg["From"] == "baton@example.com" and msg["Message-ID"] == first.thread
    plain_part, html_part = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain_part is not None and html_part is not None
    plain = plain_part.get_content()
    assert "checkout v2.41 deployed by bob 20 min before the alert" in plain and "15:05 Europe/Berlin" in plain
    assert "<h3>Suspects</h3>" in html_part.get_content()
    assert box.messages[1]["Message-ID"] == first.thread
    reply = box.messages[2]
    assert reply["In-Reply-To"] == first.thread and reply["References"] == first.thread
    assert reply["Subject"] == f"Re: {headline(page())}"


@pytest.mark.parametrize(
    ("refuse", "login", "retryable", "says"),
    [
        ("550 5.1.1 mailbox unavailable", "", False, "550"),
        ("451 4.3.0 try again later", "", True, "451"),
        (None, ", username: baton, password: wrong", False, "535"),
    ],
)
async def test_email_errors(
    smtp: tuple[Mailbox, int], http: httpx.AsyncClient, refuse: str | None, login: str, retryable: bool, says: str
) -> None:
    box, port = smtp
    box.refuse = refuse
    with pytest.raises(NotifierError) as err:
        await deliver(send_email, smtp_config(port, login), http, page())
    assert err.value.retryable is retryable and says in str(err.value)
    assert box.messages == []


async def test_email_server_down_is_retryable(http: httpx.AsyncClient) -> None:
    with pytest.raises(NotifierError) as err:
        await deliver(send_email, smtp_config(free_port()), http, page())
    assert err.value.retryable


# ---- webhook -------------------------------------------------------------------------------------------------

SECRET = "whsec-test-0123"


def verifying_receiver(req: Request) -> Reply:
    ts, sig = req.headers.get("X-Baton-Timestamp", ""), req.headers.get("X-Baton-Signature", "")
    return (200, {}, {}) if verify_signature(SECRET, ts, req.body, sig) else (401, {}, {"error": "bad signature"})


async def test_webhook_is_signed_and_carries_the_context(fake: Fake, http: httpx.AsyncClient) -> None:
    fake.reply = verifying_receiver
    cfg = config(f"  webhook: {{secret: {SECRET}}}\n", sink_url=fake.url)
    delivered = await deliver(send_webhook, cfg, http, page(), key="wf/run/7")
    assert delivered.detail == "webhook answered 200"
    req = fake.requests[0]
    body = req.json()
    assert body["kind"] == "page" and body["page_id"] == "wf/run/7" and req.headers["Idempotency-Key"] == "wf/run/7"
    assert body["context"]["suspects"][0]["change"]["version"] == "v2.41"
    assert body["context"]["metrics"][0]["trend"] == "▁▁▂▅█"
    ts, sig = req.headers["X-Baton-Timestamp"], req.headers["X-Baton-Signature"]
    assert sig.startswith("v1=") and abs(int(ts) - time.time()) < 60

    tampered = req.body.replace(b'"level":1', b'"level":2')
    assert tampered != req.body and not verify_signature(SECRET, ts, tampered, sig)
    assert not verify_signature("another-secret", ts, req.body, sig)
    assert not verify_signature(SECRET, ts, req.body, sig, now=int(ts) + 301), "a stale timestamp is refused"
    assert verify_signature(SECRET, ts, req.body, sig, now=int(ts) + 299)
    assert verify_signature(SECRET, ts, req.body, f"v1=deadbeef, {sig}"), "rotation: any listed v1 may match"
    assert not verify_signature(SECRET, "not-a-number", req.body, sig)


async def test_webhook_without_signing_and_without_context(fake: Fake, http: httpx.AsyncClient) -> None:
    cfg = config(sink_url=fake.url)
    await deliver(send_webhook, cfg, http, page(ctx=PageContext()).model_copy(update={"context": None}))
    req = fake.requests[0]
    assert "X-Baton-Signature" not in req.headers and req.json()["context"] is None


async def test_webhook_refusals(fake: Fake, http: httpx.AsyncClient) -> None:
    fake.reply = verifying_receiver
    cfg = config(f"  webhook: {{secret: {SECRET}-rotated}}\n", sink_url=fake.url)
    with pytest.raises(NotifierError) as err:
        await deliver(send_webhook, cfg, http, page())
    assert not err.value.retryable and "401" in str(err.value)
    unset = config("  webhook: {secret: env:BATON_TEST_UNSET_WEBHOOK_SECRET}\n", sink_url=fake.url)
    with pytest.raises(NotifierError) as err:
        await deliver(send_webhook, unset, http, page())
    assert not err.value.retryable and len(fake.requests) == 1, "nothing unsigned goes out"


def test_signature_is_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", b"{}") == f"v1={expected}"


# ---- PagerDuty -----------------------------------------------------------------------------------------------


def pagerduty_api(req: Request) -> Reply:
    body = req.json()
    if req.path != "/v2/enqueue" or body.get("routing_key") != "pd-routing-key-alice":
        return 400, {}, {"status": "invalid event", "message": "Event object is invalid", "errors": ["routing_key"]}
    return 202, {}, {"status": "success", "message": "Event processed", "dedup_key": body["dedup_key"]}


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        (Severity.SEV0, "critical"),
        (Severity.SEV1, "critical"),
        (Severity.SEV2, "error"),
        (Severity.SEV3, "warning"),
        (Severity.SEV4, "info"),
    ],
)
async def test_pagerduty_events_v2(fake: Fake, http: httpx.AsyncClient, severity: Severity, expected: str) -> None:
    fake.reply = pagerduty_api
    cfg = config(f"  pagerduty: {{url: '{fake.url}/v2/enqueue'}}\n")
    delivered = await deliver(send_pagerduty, cfg, http, page(severity=severity))
    assert "accepted" in delivered.detail
    body = fake.requests[0].json()
    assert body["event_action"] == "trigger" and body["dedup_key"].startswith("baton/INC-7K2Q9M/")
    assert body["client"] == "baton" and body["client_url"] == LINK
    payload = body["payload"]
    assert payload["severity"] == expected and payload["source"] == "baton"
    assert payload["summary"] == headline(page(severity=severity))
    assert payload["custom_details"]["service"] == "checkout"
    assert payload["custom_details"]["suspects"] == ["checkout v2.41 deployed by bob 20 min before the alert"]
    assert payload["custom_details"]["metrics"][0].startswith("5xx rate: 7.2%")
    assert [lk["text"] for lk in body["links"]][:2] == ["Incident", "Runbook"]
    assert body["links"][0]["href"] == LINK


async def test_pagerduty_dedup_key_is_per_incident_and_within_the_limit(fake: Fake, http: httpx.AsyncClient) -> None:
    fake.reply = pagerduty_api
    cfg = config(f"  pagerduty: {{url: '{fake.url}/v2/enqueue'}}\n")
    long_id = "incident:events:checkout:" + "x" * 1000
    await deliver(send_pagerduty, cfg, http, page(workflow_id=long_id))
    await deliver(send_pagerduty, cfg, http, page(workflow_id=long_id, incident_id="INC-AAAAAA"))
    first, second = (r.json()["dedup_key"] for r in fake.requests)
    assert len(first) <= 255 and first.startswith("baton/INC-7K2Q9M/")
    assert second != first, "the next incident on the same workflow id folded into the first one's alert"


async def test_pagerduty_hears_the_acknowledgement_and_the_resolve(fake: Fake, http: httpx.AsyncClient) -> None:
    fake.reply = pagerduty_api
    cfg = config(f"  pagerduty: {{url: '{fake.url}/v2/enqueue'}}\n")
    await deliver(send_pagerduty, cfg, http, page())
    for status in (Status.ACKNOWLEDGED, Status.RESOLVED):
        delivered = await deliver(send_pagerduty, cfg, http, page("status", status=status))
        assert "accepted" in delivered.detail
    not_told = await deliver(send_pagerduty, cfg, http, page("status", status=Status.TRIGGERED))
    assert not_told.detail == "not forwarded"
    bodies = [r.json() for r in fake.requests]
    assert [b["event_action"] for b in bodies] == ["trigger", "acknowledge", "resolve"]
    assert len({b["dedup_key"] for b in bodies}) == 1
    assert bodies[1] == {
        "routing_key": "pd-routing-key-alice",
        "event_action": "acknowledge",
        "dedup_key": bodies[0]["dedup_key"],
    }


async def test_a_late_page_says_so_and_names_who_was_not_reached(fake: Fake, http: httpx.AsyncClient) -> None:
    late = page(late_since=OPENED + timedelta(minutes=5), unreachable="Level 1 (alice) could not be reached: x.")
    assert headline(late).startswith("LATE [SEV1]")
    text = render.text(late, LINK)
    assert "This page is late" in text and "14:10 UTC" in text and "Level 1 (alice) could not be reached" in text
    cfg = config(sink_url=fake.url)
    await deliver(send_webhook, cfg, http, late)
    body = fake.requests[0].json()
    assert body["late"] is True and body["unreachable"].startswith("Level 1 (alice)")
    assert body["late_since"] == (OPENED + timedelta(minutes=5)).isoformat()


async def test_pagerduty_forwards_only_pages(fake: Fake, http: httpx.AsyncClient) -> None:
    cfg = config(f"  pagerduty: {{url: '{fake.url}/v2/enqueue'}}\n")
    for kind in ("update", "recovered"):
        delivered = await deliver(send_pagerduty, cfg, http, page(kind, thread="x"))
        assert delivered.detail == "not forwarded"
    assert fake.requests == []


@pytest.mark.parametrize(
    ("status", "retryable"), [(400, False), (403, False), (408, True), (429, True), (500, True), (503, True)]
)
async def test_pagerduty_errors(fake: Fake, http: httpx.AsyncClient, status: int, retryable: bool) -> None:
    fake.reply = lambda req: (status, {}, {"status": "error", "message": "nope"})
    cfg = config(f"  pagerduty: {{url: '{fake.url}/v2/enqueue'}}\n")
    with pytest.raises(NotifierError) as err:
        await deliver(send_pagerduty, cfg, http, page())
    assert err.value.retryable is retryable and str(status) in str(err.value)
    assert "pd-routing-key-alice" not in str(err.value)


# ---- log -----------------------------------------------------------------------------------------------------


async def test_log_writes_one_record_with_the_rendered_page(http: httpx.AsyncClient) -> None:
    with structlog.testing.capture_logs() as logs:
        delivered = await deliver(send_log, config(), http, page())
    assert len(logs) == 1 and delivered.thread is None
    assert logs[0]["event"].startswith("PAGE [SEV1] INC-7K2Q9M checkout")
    assert "checkout v2.41 deployed by bob" in logs[0]["event"] and logs[0]["to"] == "alice"


def test_every_contact_method_has_a_notifier() -> None:
    assert list(NOTIFIERS) == ["slack", "email", "webhook", "pagerduty", "sms", "voice", "log"]


# ---- fallback through the workflow ---------------------------------------------------------------------------


async def test_slack_failing_falls_back_to_the_webhook(ts_env: WorkflowEnvironment, sink: Sink, fake: Fake) -> None:
    fake.reply = lambda req: (500, {}, {"ok": False, "error": "internal_error"})
    cfg = slack_config(fake.url, sink_url=sink.url)
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, cfg, http)
        async with h.worker:
            key = f"{h.task_queue}-checkout-5xx"
            await h.incidents.ingest(alert(key), IncidentPolicy.snapshot(cfg, "checkout"), "test")
            handle = h.client.get_workflow_handle(workflow_id_for("test", key))

            async def timeline() -> IncidentState:
                return await handle.query(IncidentWorkflow.state)

            st = await until(timeline, lambda s: any(e.kind == "paged" for e in s.timeline), timeout=30)
    failed = [e for e in st.timeline if e.kind == "page_failed"]
    paged = [e for e in st.timeline if e.kind == "paged"]
    assert [e.data["method"] for e in failed] == ["slack"] and "trying webhook" in failed[0].text
    assert [e.data["method"] for e in paged] == ["webhook"]
    assert len(fake.requests) == 1, "a failing method is passed over for the next at once, tried again next round"
    assert len(sink.for_path("/alice")) == 1
