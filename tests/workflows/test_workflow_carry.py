"""What an incident holds while work is under way: actions run from the main loop (never inside an update, never
twice), nothing queued is lost when the run continues-as-new, and every action has a key of its own."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from incident.config import Logs, ServiceContext
from incident.ids import workflow_id_for
from incident.models import Actor
from incident.state import IncidentInput, IncidentPolicy, IncidentState
from tests.helpers.config import BASE_CONFIG, alert, make_config
from tests.helpers.http import HttpRequest, Sink, loopback_http, recording_sink
from tests.helpers.incidents import SCOPE, entries, paged_count
from tests.helpers.temporal import Harness, harness, proven
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow
from workflows.messages import ActionRequest

TRIAGE = Actor.agent("triage")
ALICE = Actor.human("alice")
QUERY_TIMEOUT = timedelta(seconds=3)

ACTIONS = """
boundaries:
  custom_actions: [restart_pods]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity, restart_pods]
    approval: [rollback, customer_comms, resolve]
  approvers: {default: [oncall]}
  approval_timeout: 15m
services:
  checkout:
    escalation: two-levels
    actions:
      rollback:
        params: {version: {pattern: "^v[0-9]+$"}}
        webhook: {url: "SINK/deploy/{service}/rollback", body: {version: "{version}"}}
      restart_pods:
        webhook: {url: "SINK/deploy/{service}/restart"}
"""
QUICK = """  quick:
    levels:
      - {notify: [user:alice], after: 3s}
      - {notify: [user:dave], after: 10m}
"""


def receiver() -> AbstractContextManager[Sink]:
    """Pages and action webhooks on loopback. Paths under /deploy/ wait until `release` is set: a slow runner."""
    return recording_sink(hold=lambda req: req.path.startswith("/deploy/"))


@asynccontextmanager
async def stack(
    env: WorkflowEnvironment, rec: Sink, loki: str | None = None, quick: bool = False
) -> AsyncIterator[Harness]:
    """A worker whose actions go to `rec`. `quick`: level 2 comes 3 s after level 1, in real time (the test server
    does not skip time while an activity runs)."""
    actions = ACTIONS.replace("escalation: two-levels", "escalation: quick") if quick else ACTIONS
    text = BASE_CONFIG.split("services:")[0] + QUICK + actions + "routing: {default_service: checkout}\n"
    extra = f'integrations:\n  loki: {{url: "{loki}"}}\n' if loki else ""
    config = make_config(rec.url, base=text, extra=extra)
    if loki:
        config.services["checkout"].context = ServiceContext(
            logs=Logs(query='{service="checkout"} |= "ERROR"'), deadline=timedelta(seconds=1)
        )
    async with httpx.AsyncClient() as http:
        h = await harness(env, config, http)
        async with h.worker:
            yield h


def notices(rec: Sink, path: str) -> list[str]:
    return [r["json"].get("notice") or "" for r in rec.to(path, "notice")]


async def state(h: Harness, wid: str) -> IncidentState:
    st: IncidentState = await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
    return st


async def settled(h: Harness, wid: str) -> IncidentState | None:
    """The state, or None while a query finds no run to answer it (the run is continuing as new)."""
    try:
        return await state(h, wid)
    except Exception:
        return None


async def start(h: Harness, key: str, history_limit: int = 2_000) -> tuple[str, WorkflowHandle[Any, Any]]:
    policy = IncidentPolicy.snapshot(h.config, "checkout")
    wid = workflow_id_for(SCOPE, key)
    await h.client.start_workflow(
        IncidentWorkflow.run,
        IncidentInput(policy=policy, incident_id="INC-7K2Q9M", history_limit=history_limit),
        id=wid,
        task_queue=h.task_queue,
        start_signal="alert",
        start_signal_args=[alert(key)],
    )
    await until(lambda: paged_count(h, wid, level=1))
    return wid, h.client.get_workflow_handle(wid)


def ask(action: str, rationale: str = "the only change", request_id: str | None = None, **params: str) -> ActionRequest:
    return ActionRequest.model_validate(
        {"actor": TRIAGE, "action": action, "rationale": rationale, "params": params, "request_id": request_id}
    )


async def fill_history(handle: WorkflowHandle[Any, Any], key: str, signals: int = 40) -> None:
    """Enough alert events to take a run past a history limit of 100."""
    for i in range(signals):
        await handle.signal(IncidentWorkflow.alert, alert(key, summary=f"repeat {i}"))


async def test_an_auto_action_answers_at_once_and_a_retried_request_runs_it_once(ts_env: WorkflowEnvironment) -> None:
    with receiver() as rec:
        async with stack(ts_env, rec) as h:
            wid, handle = await start(h, "auto-once")
            first = await asyncio.wait_for(
                handle.execute_update(
                    IncidentWorkflow.request, await proven(h, wid, "request", ask("restart_pods", request_id="mcp-1"))
                ),
                timeout=5,
            )
            assert first.ok and "R1" in first.message, "accepted at once, with the id its outcome is recorded under"
            await until(lambda: asyncio.sleep(0, rec.to("/deploy/checkout/restart")))
            again = await asyncio.wait_for(
                handle.execute_update(
                    IncidentWorkflow.request, await proven(h, wid, "request", ask("restart_pods", request_id="mcp-1"))
                ),
                timeout=5,
            )
            assert again.ok and "R1" in again.message
            rec.release.set()
            st = await until(lambda: state(h, wid), lambda s: bool(entries(s, "action_ran")))
            assert entries(st, "action_ran")[0].data == {"action": "restart_pods", "ref": "R1"}
            await until(lambda: asyncio.sleep(0, [n for n in notices(rec, "/alice") if "restart_pods" in n]))
            assert len(rec.to("/deploy/checkout/restart")) == 1, "a retried request runs nothing new"
            assert len(entries(await state(h, wid), "action_accepted")) == 1


async def test_slow_actions_never_hold_the_escalation(ts_env: WorkflowEnvironment) -> None:
    with receiver() as rec:
        async with stack(ts_env, rec, quick=True) as h:
            wid, handle = await start(h, "slow-actions")
            await asyncio.wait_for(
                handle.execute_update(IncidentWorkflow.request, await proven(h, wid, "request", ask("restart_pods"))),
                timeout=5,
            )
            pending = await h.incidents.request(wid, TRIAGE, "rollback", "v42 is the only change", {"version": "v41"})
            await h.incidents.approve(wid, ALICE, pending.approval_id or "")
            await until(lambda: asyncio.sleep(0, len(rec.to("/deploy/checkout/rollback"))))
            # Both runners hang; level 2 is still paged when level 1's window runs out.
            await until(lambda: paged_count(h, wid, level=2), timeout=20)
            st = await state(h, wid)
            level2 = next(e for e in entries(st, "paged") if e.data["level"] == 2)
            assert level2.at - st.opened_at < timedelta(seconds=10)
            assert not entries(st, "action_ran")
            rec.release.set()
            st = await until(lambda: state(h, wid), lambda s: len(entries(s, "action_ran")) == 2)
            assert {e.data["ref"] for e in entries(st, "action_ran")} == {"R1", "A1"}


async def test_every_action_has_a_key_of_its_own(ts_env: WorkflowEnvironment) -> None:
    rec_keys: list[str]
    with receiver() as rec:
        rec.release.set()
        async with stack(ts_env, rec) as h:
            wid, handle = await start(h, "keys")
            asks = [await proven(h, wid, "request", ask("restart_pods")) for _ in "ab"]
            await asyncio.gather(*(handle.execute_update(IncidentWorkflow.request, a) for a in asks))
            first = await state(h, wid)
            pending = await h.incidents.request(wid, TRIAGE, "rollback", "bad deploy", {"version": "v41"})
            await h.incidents.approve(wid, ALICE, pending.approval_id or "")
            await until(lambda: state(h, wid), lambda s: len(entries(s, "action_ran")) == 3)
            await h.incidents.resolve(wid, ALICE, "fixed")
            await handle.result()
            # The next incident on the same dedup key: its A1 is another rollback, with another key.
            await h.incidents.ingest(alert("keys"), IncidentPolicy.snapshot(h.config, "checkout"), SCOPE)
            second = await until(
                lambda: settled(h, wid), lambda s: s is not None and s.incident_id != first.incident_id
            )
            await until(lambda: paged_count(h, wid, level=1))
            pending = await h.incidents.request(wid, TRIAGE, "rollback", "bad deploy again", {"version": "v40"})
            assert pending.approval_id == "A1"
            await h.incidents.approve(wid, ALICE, "A1")
            await until(lambda: asyncio.sleep(0, len(rec.to("/deploy/checkout/rollback")) == 2))
            rec_keys = [r["headers"]["Idempotency-Key"] for r in rec.received if r["path"].startswith("/deploy/")]
            assert second.incident_id != first.incident_id
    assert len(rec_keys) == 4 and len(set(rec_keys)) == 4, rec_keys
    assert all(k.startswith((first.incident_id + "/", second.incident_id + "/")) for k in rec_keys)


async def test_continue_as_new_in_the_middle_of_queued_work_loses_none_of_it(ts_env: WorkflowEnvironment) -> None:
    with receiver() as rec:
        async with stack(ts_env, rec) as h:
            wid, handle = await start(h, "carry", history_limit=100)
            first_run = (await handle.describe()).run_id
            # A slow auto action is under way while the run reaches its history limit.
            busy = asyncio.ensure_future(
                handle.execute_update(IncidentWorkflow.request, await proven(h, wid, "request", ask("restart_pods")))
            )
            await until(lambda: asyncio.sleep(0, rec.to("/deploy/checkout/restart")))
            await fill_history(handle, "carry")
            # Meanwhile: an approval asked for and one approved, a refusal, a page and an escalation requested.
            await h.incidents.request(wid, TRIAGE, "rollback", "v42 is the only change", {"version": "v41"})
            rollback = await h.incidents.request(wid, TRIAGE, "rollback", "or v40", {"version": "v40"})
            await h.incidents.approve(wid, ALICE, rollback.approval_id or "")
            await handle.execute_update(
                IncidentWorkflow.request, await proven(h, wid, "request", ask("drop_database", "it is corrupt"))
            )
            await h.incidents.request(wid, TRIAGE, "page", "need the database owner", {"target": "bob"})
            await h.incidents.acknowledge(wid, ALICE)
            await h.incidents.request(wid, TRIAGE, "escalate", "the database team too")
            rec.release.set()
            await busy
            st = await until(
                lambda: settled(h, wid),
                lambda s: s is not None and len(entries(s, "action_ran")) == 2 and s.runs >= 2,
                timeout=30,
            )
            assert (await handle.describe()).run_id != first_run
            asks = await until(lambda: asyncio.sleep(0, rec.to("/alice", "approval")), lambda a: len(a) == 2)
            assert {a["json"]["approval_id"] for a in asks} == {"A1", "A2"}
            told = notices(rec, "/alice")
            assert any("drop_database" in t for t in told), "the refusal notice"
            assert any("restart_pods" in t for t in told), "the action's result"
            assert rec.to("/bob", "page"), "the page asked for"
            assert await until(lambda: asyncio.sleep(0, rec.to("/dave", "page"))), "the escalation asked for"
            assert len(rec.to("/deploy/checkout/rollback")) == 1, "the approved rollback ran"
            a1 = st.approval("A1")
            assert a1 is not None and a1.pending


async def test_late_context_follows_the_page_across_continue_as_new(ts_env: WorkflowEnvironment) -> None:
    loki_answers = threading.Event()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        loki_answers.wait(timeout=30)
        values = [["1700000000000000000", "ERROR payment timeout order=1"]]
        body = {"status": "success", "data": {"resultType": "streams", "result": [{"stream": {}, "values": values}]}}
        return 200, {"content-type": "application/json"}, json.dumps(body).encode()

    with receiver() as rec, loopback_http(respond) as loki:
        rec.release.set()
        try:
            async with stack(ts_env, rec, loki=loki) as h:
                wid, handle = await start(h, "late", history_limit=100)
                first_run = (await handle.describe()).run_id
                await fill_history(handle, "late")
                loki_answers.set()
                await until(lambda: asyncio.sleep(0, rec.to("/alice", "update")), timeout=30)
                st = await until(lambda: settled(h, wid), lambda s: s is not None and s.runs >= 2, timeout=30)
                assert (await handle.describe()).run_id != first_run
                assert any("late context" in e.text for e in entries(st, "context"))
        finally:
            loki_answers.set()


async def test_a_resolve_while_an_action_runs_records_its_outcome_first(ts_env: WorkflowEnvironment) -> None:
    with receiver() as rec:
        async with stack(ts_env, rec) as h:
            wid, handle = await start(h, "resolve-busy")
            await handle.execute_update(IncidentWorkflow.request, await proven(h, wid, "request", ask("restart_pods")))
            await until(lambda: asyncio.sleep(0, rec.to("/deploy/checkout/restart")))
            await h.incidents.resolve(wid, ALICE, "it recovered")
            rec.release.set()
            await handle.result()
            st = await state(h, wid)
            assert entries(st, "action_ran") and st.status.value == "resolved"
