"""Maintenance windows in virtual time, through the intake as a source and a person reach it: a window suppresses
pages and holds escalation, and at its end (planned or early) what still fires pages as usual."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from gateway.maintenance import Windows
from incident.ids import workflow_id_for
from incident.maintenance import WindowView
from incident.models import Actor, Status
from incident.state import IncidentState
from incident.timeline import Kind
from tests.helpers.config import BASE_CONFIG, PEOPLE_TOKENS, TOKEN, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import Harness, intake_stack
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

BASE = BASE_CONFIG.replace(
    "routing: {default_service: checkout}\n",
    "  billing: {escalation: two-levels, runbook: https://runbooks.example/billing}\n"
    "routing: {default_service: checkout}\n",
)
SOURCE = {"Authorization": f"Bearer {TOKEN}"}
ALICE = {"Authorization": f"Bearer {PEOPLE_TOKENS['alice']}"}


@pytest.fixture
async def stack(
    ts_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with (
        intake_stack(ts_env, make_config(sink.url, base=BASE)) as (url, h),
        httpx.AsyncClient(base_url=url, timeout=30) as http,
    ):
        yield http, h


def event(key: str, service: str = "checkout", action: str = "trigger") -> dict[str, Any]:
    body: dict[str, Any] = {"routing_key": service, "event_action": action, "dedup_key": key}
    if action == "trigger":
        body["payload"] = {"summary": f"{key} is failing", "source": "prom-1", "severity": "error"}
    return body


def wid(key: str, service: str = "checkout") -> str:
    return workflow_id_for(f"events:{service}", key)


async def incident(h: Harness, key: str, service: str = "checkout") -> IncidentState | None:
    handle = h.client.get_workflow_handle(wid(key, service))
    try:
        await handle.describe()
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    return await handle.query(IncidentWorkflow.state)


async def send(http: httpx.AsyncClient, key: str, service: str = "checkout", action: str = "trigger") -> str:
    resp = await http.post("/v1/events", json=event(key, service, action), headers=SOURCE)
    assert resp.status_code == 202, resp.text
    message: str = resp.json()["message"]
    return message


def pages(sink: Sink, person: str, key: str) -> list[dict[str, Any]]:
    return [r["json"] for r in sink.for_path(f"/{person}") if key in r["json"].get("title", "")]


async def start_window(http: httpx.AsyncClient, **body: Any) -> WindowView:
    resp = await http.post("/v1/maintenance", json=body, headers=ALICE)
    assert resp.status_code == 201, resp.text
    return WindowView.model_validate(resp.json())


async def test_a_window_suppresses_pages_holds_escalation_and_at_its_end_what_still_fires_pages(
    stack: tuple[httpx.AsyncClient, Harness], sink: Sink
) -> None:
    http, h = stack
    old, new, other = (f"{n}-{uuid.uuid4().hex[:6]}" for n in ("old", "new", "other"))
    await send(http, old)
    await until(lambda: incident(h, old), lambda s: s is not None and s.paged == ["alice"])

    window = await start_window(http, target="checkout", message="db migration", **{"for": "2h"})
    assert window.status == "open" and window.opened_by == "human:alice" and window.id.startswith("MW-")
    held = await until(lambda: incident(h, old), lambda s: s is not None and s.maintenance is not None)
    assert held.maintenance is not None and held.maintenance.window_id == window.id

    assert "maintenance window" in await send(http, new)
    assert await incident(h, new) is None, "a suppressed alert opened an incident"
    await send(http, other, service="billing")  # another service pages as usual
    await until(lambda: incident(h, other, "billing"), lambda s: s is not None and s.paged == ["alice"])

    await h.env.sleep(timedelta(minutes=90))
    st = await incident(h, old)
    assert st is not None and st.paged == ["alice"], "escalation went on during the window"
    assert pages(sink, "dave", old) == [] and len(pages(sink, "alice", old)) == 1
    assert pages(sink, "alice", new) == []
    view = WindowView.model_validate((await http.get(f"/v1/maintenance/{window.id}", headers=ALICE)).json())
    assert view.suppressed_total == 1 and view.still_firing == 1 and view.held == [wid(old)]
    assert view.suppressed[0].key == new

    await h.env.sleep(timedelta(minutes=31))
    opened = await until(
        lambda: incident(h, new),
        lambda s: s is not None and s.paged == ["alice"] and any(e.kind == Kind.MAINTENANCE_ENDED for e in s.timeline),
    )
    assert opened.status is Status.TRIGGERED
    resumed = await until(lambda: incident(h, old), lambda s: s is not None and len(pages(sink, "alice", old)) == 2)
    kinds = [e.kind for e in resumed.timeline]
    assert Kind.MAINTENANCE in kinds and Kind.MAINTENANCE_ENDED in kinds and resumed.maintenance is None
    await h.env.sleep(timedelta(minutes=6))
    await until(lambda: incident(h, old), lambda s: s is not None and "dave" in s.paged)  # escalates as usual
    ended = await Windows(h.client, h.task_queue).get(window.id)
    assert ended.status == "ended" and ended.reopened == [wid(new)]


async def test_an_early_end_opens_only_what_still_fires(stack: tuple[httpx.AsyncClient, Harness], sink: Sink) -> None:
    http, h = stack
    firing, recovered = (f"{n}-{uuid.uuid4().hex[:6]}" for n in ("firing", "recovered"))
    window = await start_window(http, target="checkout", **{"for": "4h"})
    await send(http, firing)
    await send(http, recovered)
    await send(http, recovered, action="resolve")
    view = WindowView.model_validate((await http.get(f"/v1/maintenance/{window.id}", headers=ALICE)).json())
    assert view.suppressed_total == 3 and view.still_firing == 1
    resp = await http.delete(f"/v1/maintenance/{window.id}", headers=ALICE)
    assert resp.status_code == 200 and resp.json()["status"] == "ended" and resp.json()["ended_by"] == "human:alice"
    await until(lambda: incident(h, firing), lambda s: s is not None and s.paged == ["alice"])
    await until(lambda: Windows(h.client, h.task_queue).get(window.id), lambda v: v.reopened == [wid(firing)])
    assert await incident(h, recovered) is None and pages(sink, "alice", recovered) == []
    assert "Event processed" in await send(http, f"after-{uuid.uuid4().hex[:6]}"), "the ended window still took it"


async def test_a_window_that_starts_later_suppresses_nothing_before_it_starts(
    stack: tuple[httpx.AsyncClient, Harness],
) -> None:
    http, h = stack
    now = await h.env.get_current_time()
    window = await start_window(http, target="checkout", start=(now + timedelta(hours=1)).isoformat(), **{"for": "1h"})
    assert window.status == "scheduled"
    before = f"before-{uuid.uuid4().hex[:6]}"
    assert "Event processed" in await send(http, before)
    await until(lambda: incident(h, before), lambda s: s is not None and s.paged == ["alice"])
    await h.env.sleep(timedelta(hours=1, minutes=1))
    await until(lambda: Windows(h.client, h.task_queue).get(window.id), lambda v: v.status == "open")
    during = f"during-{uuid.uuid4().hex[:6]}"
    assert "maintenance window" in await send(http, during)
    assert await incident(h, during) is None


async def test_a_person_still_pages_someone_into_a_held_incident(
    stack: tuple[httpx.AsyncClient, Harness], sink: Sink
) -> None:
    """The window holds escalation, not people: a page a person asks for during it goes out."""
    http, h = stack
    key = f"held-{uuid.uuid4().hex[:6]}"
    await send(http, key)
    await until(lambda: incident(h, key), lambda s: s is not None and s.paged == ["alice"])
    await start_window(http, target="checkout", **{"for": "1h"})
    await until(lambda: incident(h, key), lambda s: s is not None and s.maintenance is not None)
    reply = await h.incidents.request(wid(key), Actor.human("alice"), "page", "need a DBA", {"target": "user:dave"})
    assert reply.ok, reply.message
    await until(lambda: incident(h, key), lambda s: s is not None and "dave" in s.paged)
    assert len(pages(sink, "alice", key)) == 1, "escalation paged alice again during the window"
