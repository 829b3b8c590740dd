"""Record the workflow histories the replay test checks against: `python -m tests.helpers.record_histories [NAME...]`.

Re-record only for a deliberate, compatible change with nothing running on the old code; otherwise keep the
saved histories and use `workflow.patched` so running incidents replay.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from gateway.client import Incidents, Refused
from gateway.maintenance import Windows
from gateway.temporal import register_search_attributes
from gateway.up import installed_binary
from incident.attestation import Method
from incident.config import Config, Logs, ServiceContext
from incident.ids import workflow_id_for
from incident.maintenance import Matcher
from incident.models import Actor, AlertAction, Severity
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import BASE_CONFIG, alert, make_config
from tests.helpers.http import HttpRequest, loopback_http
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow
from workflows.maintenance import maintenance_id

HISTORIES = Path(__file__).parents[1] / "fixtures" / "histories"
Scenario = Callable[[WorkflowEnvironment, Harness, IncidentPolicy], Awaitable[str]]


async def record(scenario: Scenario, config: Config | None = None) -> str:
    """Run `scenario` (which returns the workflow id it drove to completion) with a worker on a fresh
    time-skipping server, and return that workflow's history as JSON."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    try:
        async with httpx.AsyncClient() as http:
            h = await harness(env, config or make_config(), http)
            async with h.worker:
                wid = await scenario(env, h, IncidentPolicy.snapshot(h.config, "checkout"))
                handle = env.client.get_workflow_handle(wid)
                await handle.result()
                return (await handle.fetch_history()).to_json()
    finally:
        await env.shutdown()


async def full_lifecycle(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """An incident through every path: pages, escalation, a refusal, recovery, ack, ack timeout, resolve."""
    await h.incidents.ingest(alert("replay"), policy, "replay")
    wid = workflow_id_for("replay", "replay")
    await asyncio.sleep(1)
    await env.sleep(timedelta(minutes=5, seconds=1))
    await h.incidents.acknowledge(wid, Actor.agent("triage"))
    await h.incidents.ingest(alert("replay", summary="again"), policy, "replay")
    await h.incidents.ingest(alert("replay", action=AlertAction.RESOLVE), policy, "replay")
    await h.incidents.ingest(alert("replay", summary="and again"), policy, "replay")
    with contextlib.suppress(Exception):
        await h.incidents.resolve(wid, Actor.agent("triage"), "done?")
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    await env.sleep(timedelta(minutes=31))
    await h.incidents.note(wid, Actor.human("bob"), "rolled back")
    await h.incidents.acknowledge(wid, Actor.human("bob"))
    await h.incidents.resolve(wid, Actor.human("bob"), "rollback fixed it")
    return wid


async def approvals(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """Boundaries at work: an agent's rollback waits, escalates unanswered, is approved and runs; an undefined
    action is refused; the agent's resolve becomes an approval a human gives."""
    await h.incidents.ingest(alert("approvals"), policy, "replay")
    wid = workflow_id_for("replay", "approvals")
    await asyncio.sleep(1)
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    triage = Actor.agent("triage")
    await h.incidents.request(wid, triage, "rollback", "v42 is the only change", {"version": "v41"})
    with contextlib.suppress(Exception):
        await h.incidents.request(wid, triage, "drop_database", "it is corrupt")
    await env.sleep(timedelta(minutes=16))
    await h.incidents.approve(wid, Actor.human("dave"), "A1")
    await asyncio.sleep(1)
    await h.incidents.resolve(wid, triage, "error rate at baseline")
    await h.incidents.approve(wid, Actor.human("alice"), "A2")
    return wid


async def step_up(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """Proofs and step-up: an unproven approval is an impersonation; a rollback approved with a token alone is
    refused, then with a one-time code approved (the same code again refused); the resolve comes from Slack."""
    await h.incidents.ingest(alert("step-up"), policy, "replay")
    wid = workflow_id_for("replay", "step-up")
    await asyncio.sleep(1)
    triage, alice = Actor.agent("triage"), Actor.human("alice")
    await h.incidents.request(wid, triage, "rollback", "v42 is the only change", {"version": "v41"})
    await h.incidents.request(wid, triage, "rollback", "or v40", {"version": "v40"})
    for unproven in (Incidents(h.client, task_queue=h.task_queue), h.incidents.acting(Method.TOKEN)):
        with contextlib.suppress(Refused):
            await unproven.approve(wid, alice, "A1")
    await h.incidents.acting(Method.TOTP, totp_step=59_000_000).approve(wid, alice, "A1")
    with contextlib.suppress(Refused):
        await h.incidents.acting(Method.TOTP, totp_step=59_000_000).deny(wid, alice, "A2", "one is enough")
    await h.incidents.acting(Method.SLACK).resolve(wid, alice, "rolled back to v41")
    return wid


async def approval_retry(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """An agent's rollback asked again with the same request id while it waits and after it is approved (before
    the fold, each repeat was an approval of its own), then resolved."""
    await h.incidents.ingest(alert("approval-retry"), policy, "replay")
    wid = workflow_id_for("replay", "approval-retry")
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    triage = Actor.agent("triage")
    for _ in range(2):
        await h.incidents.request(wid, triage, "rollback", "v42 is the only change", {"version": "v41"}, None, "a-1")
    await h.incidents.approve(wid, Actor.human("alice"), "A1")
    await until(lambda: _state(h, wid), _has("action_ran"), timeout=30)
    await h.incidents.request(wid, triage, "rollback", "v42 is the only change", {"version": "v41"}, None, "a-1")
    await h.incidents.resolve(wid, Actor.human("alice"), "rolled back by hand")
    return wid


ACTIONS = """
boundaries:
  custom_actions: [restart_pods]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity, restart_pods]
    approval: [rollback, customer_comms, resolve]
services:
  checkout:
    escalation: two-levels
    actions:
      rollback:
        params: {version: {pattern: "^v[0-9]+$"}}
        webhook: {url: "SINK/deploy/{service}/rollback", body: {version: "{version}"}}
      restart_pods: {webhook: {url: "SINK/deploy/{service}/restart"}}
routing: {default_service: checkout}
"""


async def actions(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """Actions run from the main loop: two auto actions accepted at once (one asked twice with the same request
    id), an approved rollback started in the background, and a resolve."""
    await h.incidents.ingest(alert("actions"), policy, "replay")
    wid = workflow_id_for("replay", "actions")
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    triage = Actor.agent("triage")
    await h.incidents.request(wid, triage, "restart_pods", "stuck pods", request_id="r-1")
    await h.incidents.request(wid, triage, "restart_pods", "stuck pods", request_id="r-1")
    await h.incidents.request(wid, triage, "restart_pods", "still stuck", request_id="r-2")
    await h.incidents.request(wid, triage, "rollback", "v42 is the only change", {"version": "v41"})
    await h.incidents.approve(wid, Actor.human("alice"), "A1")
    await until(lambda: _state(h, wid), lambda st: sum(e.kind == "action_ran" for e in st.timeline) == 3)
    await h.incidents.resolve(wid, Actor.human("alice"), "restarted and rolled back")
    return wid


async def record_actions() -> str:
    """`actions` with the runners' webhooks answered on loopback."""
    with loopback_http(lambda req: (200, {}, b"{}")) as url:
        text = BASE_CONFIG.split("services:")[0] + ACTIONS + "integrations:\n  events: {token: env:TEST_INTAKE_TOKEN}\n"
        return await record(actions, make_config(url, base=text))


PARAM_ACTIONS = ACTIONS.replace(
    'restart_pods: {webhook: {url: "SINK/deploy/{service}/restart"}}',
    'restart_pods: {params: {deployment: {values: [api]}}, webhook: {url: "SINK/deploy/restart/{deployment}"}}',
)


async def action_params(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """Requests refused for their parameters (an auto action's and an approval's) around one that fits and runs."""
    await h.incidents.ingest(alert("params"), policy, "replay")
    wid = workflow_id_for("replay", "params")
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    triage = Actor.agent("triage")
    with contextlib.suppress(Refused):
        await h.incidents.request(wid, triage, "restart_pods", "stuck pods", {"deployment": "--all"})
    await h.incidents.request(wid, triage, "restart_pods", "stuck pods", {"deployment": "api"})
    with contextlib.suppress(Refused):
        await h.incidents.request(wid, triage, "rollback", "bad deploy", {"version": "v41 --force"})
    await until(lambda: _state(h, wid), _has("action_ran"))
    await h.incidents.resolve(wid, Actor.human("alice"), "restarted")
    return wid


async def record_action_params() -> str:
    with loopback_http(lambda req: (200, {}, b"{}")) as url:
        text = BASE_CONFIG.split("services:")[0] + PARAM_ACTIONS
        text += "integrations:\n  events: {token: env:TEST_INTAKE_TOKEN}\n"
        return await record(action_params, make_config(url, base=text))


async def _state(h: Harness, wid: str) -> IncidentState:
    st: IncidentState = await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state)
    return st


def _has(kind: str, prefix: str = "") -> Callable[[IncidentState], bool]:
    return lambda st: any(e.kind == kind and e.text.startswith(prefix) for e in st.timeline)


async def storm_late_reload(
    env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy, loki_answers: threading.Event
) -> str:
    """Late context, an alert storm and a reload: the page goes out without the logs (Loki answers only after
    the context deadline) and the logs follow it; a storm arrives in batches and single signals, past the
    timeline's one-by-one alert entries; an agent's reload is refused and a human's applies a changed policy."""
    key = "storm"
    await h.incidents.ingest(alert(key), policy, "replay")
    wid = workflow_id_for("replay", key)
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    assert not _has("context", "late context")(await _state(h, wid))
    loki_answers.set()
    await until(lambda: _state(h, wid), _has("page_updated"), timeout=30)

    handle = h.client.get_workflow_handle(wid)
    storm = [alert(key, summary=f"checkout 5xx burst {i}", alert_key=f"pod-{i % 3}") for i in range(12)]
    await h.incidents.send_batch(wid, storm[:6], policy)
    for a in storm[6:9]:
        await handle.signal(IncidentWorkflow.alert, a)
    await h.incidents.send_batch(wid, storm[9:], policy)
    more = [alert(key, summary=f"checkout 5xx burst {i}", alert_key=f"pod-{i % 3}") for i in range(12, 24)]
    await handle.signal(IncidentWorkflow.alerts, more)
    await handle.signal(IncidentWorkflow.alert, alert(key, action=AlertAction.RESOLVE, alert_key="pod-0"))
    await until(lambda: _state(h, wid), lambda st: st.alert_count == 25 and _has("alert_recovered")(st))

    with contextlib.suppress(Exception):
        await h.incidents.reload(wid, Actor.agent("triage"), policy)
    escalation = policy.escalation.model_copy(update={"ack_timeout": timedelta(minutes=20)})
    await h.incidents.reload(wid, Actor.human("alice"), policy.model_copy(update={"escalation": escalation}))
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    await h.incidents.resolve(wid, Actor.human("alice"), "storm over")
    return wid


async def record_storm_late_reload() -> str:
    """`storm_late_reload` against a Loki on loopback that holds its answer until the scenario lets it go."""
    loki_answers = threading.Event()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        loki_answers.wait(timeout=30)
        values = [[str(time.time_ns() - i * 1_000_000), f"ERROR payment timeout order={i}"] for i in range(3)]
        body = {"status": "success", "data": {"resultType": "streams", "result": [{"stream": {}, "values": values}]}}
        return 200, {"content-type": "application/json"}, json.dumps(body).encode()

    with loopback_http(respond) as url:
        config = make_config(extra=f'  loki: {{url: "{url}"}}\n')
        config.services["checkout"].context = ServiceContext(
            logs=Logs(query='{service="checkout"} |= "ERROR"'), deadline=timedelta(seconds=1)
        )
        try:
            return await record(partial(storm_late_reload, loki_answers=loki_answers), config)
        finally:
            loki_answers.set()


async def escalate_severity(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy, held: threading.Event) -> str:
    """`escalate` while level 1 is being paged (its webhook holds the page), a more severe alert joining, an
    approval that escalates on its own level (to level 3), then `escalate` bringing level 3 in, and resolve."""
    key = "escalate-severity"
    await h.incidents.ingest(alert(key), policy, "replay")
    wid = workflow_id_for("replay", key)
    await until(lambda: _arrived(held), timeout=30)
    await h.incidents.request(wid, Actor.human("alice"), "escalate", "alice is in a meeting")
    held.set()
    await until(lambda: _state(h, wid), lambda st: st.top_level == 2, timeout=30)
    worse = alert(key, summary="down everywhere").model_copy(update={"severity": Severity.SEV1})
    await h.incidents.ingest(worse, policy, "replay")
    await until(lambda: _state(h, wid), _has("severity_proposed"), timeout=30)
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    await h.incidents.request(wid, Actor.agent("triage"), "rollback", "v42 is the only change", {"version": "v41"})
    await env.sleep(timedelta(minutes=16))
    await until(lambda: _state(h, wid), _has("approval_escalated"), timeout=30)
    await h.incidents.request(wid, Actor.human("alice"), "escalate", "bring in bob")
    await until(lambda: _state(h, wid), lambda st: st.top_level == 3, timeout=30)
    await h.incidents.resolve(wid, Actor.human("alice"), "rolled back by hand")
    return wid


async def _arrived(event: threading.Event) -> bool:
    return event.is_set()


async def record_escalate_severity() -> str:
    """`escalate_severity` with alice's first page held by a webhook on loopback until the scenario lets it go."""
    arrived, held = threading.Event(), threading.Event()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        if req.path == "/alice" and not arrived.is_set():
            arrived.set()
            held.wait(timeout=30)
        return 200, {}, b""

    with loopback_http(respond) as url:
        config = make_config(url)
        levels = config.escalation_policies["two-levels"].levels
        levels.append(levels[1].model_copy(update={"notify": ["user:bob"]}))  # a third level, for the approval
        try:
            return await record(partial(escalate_severity, held=arrived), config)
        finally:
            held.set()


async def _maybe_state(h: Harness, wid: str) -> IncidentState | None:
    """The state, or None while there is none to be had: a query that reaches a run as it continues-as-new goes
    unanswered on the test server, so ask again rather than wait."""
    try:
        st: IncidentState = await h.client.get_workflow_handle(wid).query(
            IncidentWorkflow.state, rpc_timeout=timedelta(seconds=3)
        )
        return st
    except Exception:
        return None


async def record_reopen() -> str:
    """A recovery that resolves and a trigger in one batch: the resolved incident's run opens the next incident
    with the policy the worker's config has now (its history is the one saved: it ends continuing as new)."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"), data_converter=pydantic_data_converter
    )
    await register_search_attributes(env.client)
    try:
        config = make_config()
        config.services["checkout"].on_recovery = "resolve"
        async with httpx.AsyncClient() as http:
            h = await harness(env, config, http)
            async with h.worker:
                policy = IncidentPolicy.snapshot(config, "checkout")
                wid = workflow_id_for("replay", "reopen")
                await h.incidents.send_batch(wid, [alert("reopen")], policy)
                first = await until(lambda: _maybe_state(h, wid), lambda st: st is not None, timeout=30)
                run_id = (await env.client.get_workflow_handle(wid).describe()).run_id
                config.services["checkout"].runbook = "https://runbooks.example/checkout-v2"
                batch = [alert("reopen", action=AlertAction.RESOLVE), alert("reopen", summary="flapped again")]
                await h.incidents.send_batch(wid, batch, policy)
                await until(
                    lambda: _maybe_state(h, wid), lambda st: st and st.incident_id != first.incident_id, timeout=30
                )
                return (await env.client.get_workflow_handle(wid, run_id=run_id).fetch_history()).to_json()
    finally:
        await env.shutdown()


PAGING_CONFIG = """
people:
  alice: {name: Alice, webhook: "SINK/alice", notify: [webhook]}
  dave:  {name: Dave, pagerduty: pd-routing-key-dave, notify: [pagerduty]}
escalation_policies:
  two-levels:
    levels:
      - {notify: [user:alice], after: 5m}
      - {notify: [user:dave], after: 10m}
services:
  checkout: {escalation: two-levels}
routing: {default_service: checkout}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
  pagerduty: {url: "SINK/v2/enqueue"}
"""


async def paging_outage(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy, alice_up: threading.Event) -> str:
    """A notifier outage: alice's webhook answers 500 through her level's time, so dave (via PagerDuty) is paged
    and told she was unreachable; her page goes out late once the webhook recovers; dave's acknowledgement and
    resolve are told to PagerDuty."""
    await h.incidents.ingest(alert("paging"), policy, "replay")
    wid = workflow_id_for("replay", "paging")
    await until(lambda: _state(h, wid), _has("page_failed"), timeout=30)
    await env.sleep(timedelta(minutes=5, seconds=5))
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    alice_up.set()
    await env.sleep(timedelta(minutes=3))
    await until(lambda: _state(h, wid), lambda st: sum(e.kind == "paged" for e in st.timeline) == 2, timeout=30)
    await h.incidents.acknowledge(wid, Actor.human("dave"))
    await until(lambda: _state(h, wid), _has("forwarded"), timeout=30)
    await h.incidents.resolve(wid, Actor.human("dave"), "webhook receiver fixed")
    return wid


async def record_paging_outage() -> str:
    """`paging_outage` against a receiver on loopback: alice's webhook fails until the scenario lets it recover,
    and PagerDuty's Events API accepts everything."""
    alice_up = threading.Event()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        if req.path == "/alice" and not alice_up.is_set():
            return 500, {}, b""
        return (202 if req.path == "/v2/enqueue" else 200), {"content-type": "application/json"}, b"{}"

    with loopback_http(respond) as url:
        return await record(partial(paging_outage, alice_up=alice_up), make_config(url, base=PAGING_CONFIG))


ROLES_CONFIG = """
coordination: {roles: [comms], lead_within: {SEV2: 10m}}
boundaries: {roles: {incident-commander: [bob]}}
"""


async def roles(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """Who leads: an agent's take refused and its proposal told, nobody leading pages the incident commander at
    `lead_within`, who takes the lead and hands it over; a role given; the first ack leads nobody new."""
    await h.incidents.ingest(alert("roles"), policy, "replay")
    wid = workflow_id_for("replay", "roles")
    await until(lambda: _maybe_state(h, wid), lambda s: s is not None and bool(s.paged))
    triage = Actor.agent("triage")
    with contextlib.suppress(Refused):
        await h.incidents.set_role(wid, triage, "lead")
    await h.incidents.set_role(wid, triage, "lead", "dave", propose=True, reason="dave owns checkout")
    await h.incidents.set_role(wid, Actor.human("alice"), "comms")
    await env.sleep(timedelta(minutes=10, seconds=5))
    await until(lambda: _state(h, wid), _has("paged", "paged bob"))
    await h.incidents.set_role(wid, Actor.human("bob"), "lead")
    await h.incidents.set_role(wid, Actor.human("bob"), "lead", "dave")
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    await h.incidents.resolve(wid, Actor.human("dave"), "rolled back")
    return wid


CHANNEL_CONFIG = """
people:
  alice: {name: Alice, slack: U0ALICE, webhook: "SINK/alice", notify: [webhook]}
  dave:  {name: Dave, slack: U0DAVE, webhook: "SINK/dave", notify: [webhook]}
escalation_policies:
  two-levels: {levels: [{notify: [user:alice], after: 5m}, {notify: [user:dave], after: 10m}]}
services:
  checkout: {escalation: two-levels, runbook: "https://runbooks.example/checkout"}
coordination:
  slack: {channel: {announce: "#incidents", archive_after: 7d}}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
  slack: {bot_token: BOT, api_url: "API"}
"""


async def channel(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """The incident's channel: created, alice invited, the summary, topic, announcement and bookmarks; a note and an
    acknowledgement mirrored, the topic changed, and the close handed to its child workflow at the resolve."""
    await h.incidents.ingest(alert("channel"), policy, "replay")
    wid = workflow_id_for("replay", "channel")
    await until(lambda: _state(h, wid), lambda st: bool(st.channel and st.channel.bookmarked), timeout=30)
    await h.incidents.note(wid, Actor.human("alice"), "rolling back v2.41")
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    await until(lambda: _state(h, wid), lambda st: bool(st.channel and st.channel.mirrored >= len(st.timeline)))
    await until(lambda: _state(h, wid), lambda st: bool(st.channel and "acknowledged" in (st.channel.topic or "")))
    await h.incidents.resolve(wid, Actor.human("alice"), "rolled back")
    return wid


async def record_channel() -> str:
    """`channel` against the Slack Web API double on loopback."""
    from tests.helpers.slack_web import BOT_TOKEN, slack_web

    with slack_web() as slack, loopback_http(lambda req: (200, {}, b"{}")) as sink:
        slack.add_channel("incidents")
        text = CHANNEL_CONFIG.replace("BOT", BOT_TOKEN).replace("API", slack.api)
        return await record(channel, make_config(sink, base=text))


CONTACT_CONFIG = """
people:
  alice:
    name: Alice
    webhook: "SINK/alice"
    notify: [webhook]
    contact: {high: [{method: webhook, after: 0s}, {method: log, after: 2m}, {method: webhook, after: 5m}]}
  dave: {name: Dave, webhook: "SINK/dave", notify: [webhook]}
escalation_policies:
  two-levels: {levels: [{notify: [user:alice], after: 10m}, {notify: [user:dave], after: 10m}]}
services:
  checkout: {escalation: two-levels}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
"""


async def contact_rules(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """Alice's contact rule: the webhook at once, the log at 2 minutes, then an acknowledgement before the third
    step's timer fires, and the resolve."""
    await h.incidents.ingest(alert("contact").model_copy(update={"severity": Severity.SEV1}), policy, "replay")
    wid = workflow_id_for("replay", "contact")
    await until(lambda: _state(h, wid), _has("paged"))
    await env.sleep(timedelta(minutes=2, seconds=10))
    await until(lambda: _state(h, wid), lambda st: sum(e.kind == "paged" for e in st.timeline) >= 2)
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    await env.sleep(timedelta(minutes=5))
    await h.incidents.resolve(wid, Actor.human("alice"), "fixed")
    return wid


async def record_contact_rules() -> str:
    with loopback_http(lambda req: (200, {}, b"{}")) as sink:
        return await record(contact_rules, make_config(sink, base=CONTACT_CONFIG))


SHADOW = """
  shadow:
    custom_actions: [restart_pods]
    agent:
      auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity]
      approval: [rollback, customer_comms, resolve, postmortem_conclusions]
      never: [restart_pods]
"""


async def shadow_record(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """A shadow policy beside the enforced one (a disagreement recorded, the memo upserted), and the agent's
    record told when the incident completes."""
    await h.incidents.ingest(alert("shadow"), policy, "replay")
    wid = workflow_id_for("replay", "shadow")
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    triage = Actor.agent("triage")
    await h.incidents.request(wid, triage, "restart_pods", "stuck pods")
    await h.incidents.note(wid, triage, "error rate falling")
    await until(lambda: _state(h, wid), _has("action_ran"), timeout=30)
    await h.incidents.resolve(wid, Actor.human("alice"), "restarted")
    return wid


async def record_shadow_record() -> str:
    """`shadow_record` with the runner's webhook answered on loopback."""
    with loopback_http(lambda req: (200, {}, b"{}")) as url:
        bounds = ACTIONS.replace("services:", SHADOW.lstrip("\n") + "services:", 1)
        text = BASE_CONFIG.split("services:")[0] + bounds + "integrations:\n  events: {token: env:TEST_INTAKE_TOKEN}\n"
        return await record(shadow_record, make_config(url, base=text))


async def severities(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """An agent's requests at three severities, decided by the snapshot: at SEV3 an auto action, a note, a `never`
    and an approval; a human raises it to SEV1 (the auto action needs approval) and SEV0 (read only: refused)."""
    await h.incidents.ingest(alert("severities").model_copy(update={"severity": Severity.SEV3}), policy, "replay")
    wid = workflow_id_for("replay", "severities")
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    triage, alice, present = Actor.agent("triage"), Actor.human("alice"), h.incidents.acting(Method.SLACK)
    await h.incidents.request(wid, triage, "restart_pods", "stuck pods")
    await h.incidents.note(wid, triage, "pods restarted")
    with contextlib.suppress(Refused):
        await h.incidents.request(wid, triage, "postmortem_conclusions", "root cause is the deploy")
    await h.incidents.request(wid, triage, "rollback", "v42 is the only change", {"version": "v41"})
    await until(lambda: _state(h, wid), _has("action_ran"), timeout=30)
    await present.set_severity(wid, alice, Severity.SEV1, "customers see errors")
    await h.incidents.request(wid, triage, "restart_pods", "stuck again")
    await h.incidents.note(wid, triage, "error rate rising")
    await present.set_severity(wid, alice, Severity.SEV0, "checkout is down")
    for action in ("restart_pods", "escalate"):
        with contextlib.suppress(Refused):
            await h.incidents.request(wid, triage, action, "still down")
    await h.incidents.note(wid, triage, "waiting for a human")
    await present.resolve(wid, alice, "rolled back by hand")
    return wid


async def record_severities() -> str:
    """`severities` with the runners' webhooks answered on loopback."""
    with loopback_http(lambda req: (200, {}, b"{}")) as url:
        text = BASE_CONFIG.split("services:")[0] + ACTIONS + "integrations:\n  events: {token: env:TEST_INTAKE_TOKEN}\n"
        return await record(severities, make_config(url, base=text))


LADDER = """
  autonomy:
    SEV3: full
    SEV2: {start: approval, full_after: {clean: 1, at: SEV2}}
  owners: [user:bob]
"""


async def earned_autonomy(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
    """An autonomy ladder: the agents' levels read beside the first page and fixed in the policy, a request
    decided at the ladder's start, and the ladders told to the agent's record when the incident completes."""
    await h.incidents.ingest(alert("ladder"), policy, "replay")
    wid = workflow_id_for("replay", "ladder")
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    await until(lambda: h.client.get_workflow_handle(wid).query(IncidentWorkflow.policy), _earned, timeout=30)
    triage = Actor.agent("triage")
    await h.incidents.request(wid, triage, "restart_pods", "stuck pods")  # approval: SEV2 at its start
    await h.incidents.note(wid, triage, "error rate falling")
    await h.incidents.resolve(wid, Actor.human("alice"), "recovered")
    return wid


def _earned(policy: IncidentPolicy) -> bool:
    return policy.boundaries.earned is not None


async def record_earned_autonomy() -> str:
    """`earned_autonomy` with triage configured (levels are read for the config's agents)."""
    with loopback_http(lambda req: (200, {}, b"{}")) as url:
        bounds = ACTIONS.replace("services:", LADDER.lstrip("\n") + "services:", 1)
        agents = "agents:\n  triage: {token: triage-token-0123456789abcdef}\n"
        text = (
            BASE_CONFIG.split("services:")[0]
            + agents
            + bounds
            + "integrations:\n  events: {token: env:TEST_INTAKE_TOKEN}\n"
        )
        return await record(earned_autonomy, make_config(url, base=text))


async def maintenance(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy, window: list[str]) -> str:
    """A maintenance window of the service holds an open incident (escalation and pages stop), its end lets the
    unacknowledged incident page and escalate again, and a person resolves it."""
    await h.incidents.ingest(alert("maintenance"), policy, "replay")
    wid = workflow_id_for("replay", "maintenance")
    await until(lambda: _state(h, wid), _has("paged"), timeout=30)
    windows = Windows(h.client, h.task_queue)
    view = await windows.start(Matcher(service="checkout"), timedelta(hours=1), "db migration", Actor.human("alice"))
    window.append(view.id)
    await until(lambda: _state(h, wid), _has("maintenance"), timeout=30)
    await env.sleep(timedelta(minutes=20))
    await windows.end(view.id, Actor.human("alice"))
    await until(lambda: _state(h, wid), _has("maintenance_ended"), timeout=30)
    await until(lambda: _state(h, wid), lambda st: sum(e.kind == "paged" for e in st.timeline) == 2, timeout=30)
    await env.sleep(timedelta(minutes=5, seconds=5))
    await until(lambda: _state(h, wid), lambda st: "dave" in st.paged, timeout=30)
    await h.incidents.resolve(wid, Actor.human("alice"), "migration done")
    return wid


async def record_maintenance() -> str:
    return await record(partial(maintenance, window=[]))


async def record_maintenance_window() -> str:
    """The window's own workflow in the same scenario: started, held one incident, ended early."""
    window: list[str] = []

    async def scenario(env: WorkflowEnvironment, h: Harness, policy: IncidentPolicy) -> str:
        await maintenance(env, h, policy, window)
        return maintenance_id(h.task_queue, window[0])

    return await record(scenario)


RECORDINGS: dict[str, Callable[[], Coroutine[Any, Any, str]]] = {
    "incident_paging_outage": record_paging_outage,
    "incident_full_lifecycle": partial(record, full_lifecycle),
    "incident_approvals": partial(record, approvals),
    "incident_approval_retry": partial(record, approval_retry),
    "incident_storm_late_reload": record_storm_late_reload,
    "incident_escalate_severity": record_escalate_severity,
    "incident_reopen_fresh_policy": record_reopen,
    "incident_actions": record_actions,
    "incident_action_params": record_action_params,
    "incident_step_up": partial(record, step_up),
    "incident_roles": partial(record, roles, make_config(extra=ROLES_CONFIG)),
    "incident_channel": record_channel,
    "incident_contact_rules": record_contact_rules,
    "incident_shadow_record": record_shadow_record,
    "incident_severities": record_severities,
    "incident_baseline": partial(record, full_lifecycle),
    "incident_earned_autonomy": record_earned_autonomy,
    "incident_maintenance": record_maintenance,
    "maintenance_window": record_maintenance_window,
}
"""`incident_baseline` is `full_lifecycle` again, run since the baseline version (one marker for every change made
before it), the local first attempt and the kept deadline timer: it replays as the code now runs a new incident."""


def main() -> None:
    """Record the histories named on the command line (default: all of them)."""
    HISTORIES.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or list(RECORDINGS):
        path = HISTORIES / f"{name}.json"
        path.write_text(asyncio.run(RECORDINGS[name]()))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
