"""The first minute, end to end on the dev server: a deploy, then an alert; the page names the deploy."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from incident.config import Logs, MetricQuery, ServiceContext
from incident.ids import workflow_id_for
from tests.helpers.config import TOKEN, make_config
from tests.helpers.http import HttpRequest, Sink, loopback_http
from tests.helpers.temporal import Harness, intake_stack
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOKENS = "\n  changes: {token: env:TEST_INTAKE_TOKEN}\n"


@pytest.fixture
async def intake(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with intake_stack(dev_env, make_config(sink.url, extra=TOKENS)) as stack:
        yield stack


async def test_a_deploy_before_the_alert_is_named_as_a_suspect_on_the_page(
    intake: tuple[str, Harness], sink: Sink
) -> None:
    url, h = intake
    key = f"first-minute-{uuid.uuid4().hex[:8]}"
    deployed = datetime.now(UTC) - timedelta(minutes=20)
    old = datetime.now(UTC) - timedelta(hours=3)
    async with httpx.AsyncClient(base_url=url) as http:
        for body in (
            {
                "service": "checkout",
                "version": "v2.41",
                "author": "bob",
                "time": deployed.isoformat(),
                "description": "new payment retry logic",
                "link": "https://ci.example/runs/41",
            },
            {"service": "checkout", "version": "v2.40", "author": "carol", "time": old.isoformat()},
        ):
            assert (await http.post("/v1/changes", json=body, headers=AUTH)).status_code == 202
        event = {
            "routing_key": "checkout",
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {"summary": "checkout 5xx above 5%", "source": "prom", "severity": "critical"},
        }
        assert (await http.post("/v1/events", json=event, headers=AUTH)).status_code == 202

    page = (await until(lambda: _pages(sink, key), timeout=30))[0]
    suspects = page["context"]["suspects"]
    assert [s["change"]["version"] for s in suspects] == ["v2.41"], "only changes inside the window are suspects"
    wid = workflow_id_for("events:checkout", key)
    handle = h.client.get_workflow_handle(wid)
    st = await until(lambda: handle.query(IncidentWorkflow.state), lambda s: s.seconds_to_first_page)
    gathered = next(e for e in st.timeline if e.kind == "context")
    assert "checkout v2.41 deployed by bob 20 min before the alert" in gathered.text
    assert 0 < st.seconds_to_first_page < 10
    assert [e.actor for e in st.timeline if e.kind == "coordination"] == ["agent:baton"]
    async with httpx.AsyncClient(base_url=url) as http:
        listed = await http.get("/v1/changes/checkout", params={"since": old.isoformat()}, headers=AUTH)
    assert [c["version"] for c in listed.json()][-2:] == ["v2.40", "v2.41"]


async def _pages(sink: Sink, key: str) -> list[dict]:
    return [
        r["json"]
        for r in sink.for_path("/alice")
        if r["json"]["workflow_id"].endswith(key) and r["json"].get("kind", "page") == "page"
    ]


async def test_a_change_for_an_unknown_service_is_refused(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/changes", json={"service": "chekout", "version": "v1"}, headers=AUTH)
        missing = await http.post("/v1/changes", json={"version": "v1"}, headers=AUTH)
    assert resp.status_code == 422 and "unknown service 'chekout'" in resp.json()["message"]
    assert missing.status_code == 422 and "service" in missing.json()["message"]


# ---- with real Prometheus, and a slow log store ------------------------------------------------------------------

from tests.helpers.prometheus import Prom  # noqa: E402

LOKI_ANSWER_AFTER_S = 4.0


@pytest.fixture
def slow_loki() -> Iterator[str]:
    """A Loki that answers `query_range` correctly, but only after LOKI_ANSWER_AFTER_S seconds."""

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        time.sleep(LOKI_ANSWER_AFTER_S)  # the server under test is baton; this one is slow on purpose
        now = time.time_ns()
        values = [[str(now - i * 1_000_000), f"ERROR payment timeout order={i}"] for i in range(7)]
        body = {
            "status": "success",
            "data": {"resultType": "streams", "result": [{"stream": {"service": "checkout"}, "values": values}]},
        }
        return 200, {"content-type": "application/json"}, json.dumps(body).encode()

    with loopback_http(respond) as url:
        yield url


async def test_the_page_carries_the_suspect_and_real_metrics_and_late_logs_follow_it(
    dev_env: WorkflowEnvironment,
    sink: Sink,
    prometheus: Prom,
    slow_loki: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    extra = TOKENS + f'  prometheus: {{url: "{prometheus.url}"}}\n  loki: {{url: "{slow_loki}"}}\n'
    config = make_config(sink.url, extra=extra)
    config.services["checkout"].context = ServiceContext(
        metrics=[MetricQuery(name="targets up", query="up")],
        logs=Logs(query='{service="checkout"} |= "ERROR"'),
        deadline=timedelta(seconds=2),
    )
    key = f"e2e-{uuid.uuid4().hex[:8]}"
    async with intake_stack(dev_env, config) as (url, h), httpx.AsyncClient(base_url=url) as api:
        change = {
            "service": "checkout",
            "version": "v2.41",
            "author": "bob",
            "time": (datetime.now(UTC) - timedelta(minutes=20)).isoformat(),
        }
        assert (await api.post("/v1/changes", json=change, headers=AUTH)).status_code == 202
        event = {
            "routing_key": "checkout",
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {"summary": "checkout 5xx above 5%", "source": "prom", "severity": "critical"},
        }
        assert (await api.post("/v1/events", json=event, headers=AUTH)).status_code == 202

        page = (await until(lambda: _pages(sink, key), timeout=30))[0]
        ctx = page["context"]
        assert [s["change"]["version"] for s in ctx["suspects"]] == ["v2.41"], ctx["missing"]
        assert ctx["metrics"][0]["name"] == "targets up" and ctx["metrics"][0]["current"] == 1.0
        assert ctx["metrics"][0]["link"].startswith(prometheus.url)
        assert ctx["logs"] is None and any(m.startswith("logs: no answer") for m in ctx["missing"])

        wid = workflow_id_for("events:checkout", key)
        handle = h.client.get_workflow_handle(wid)
        st = await until(lambda: handle.query(IncidentWorkflow.state), lambda s: s.seconds_to_first_page)
        assert st.seconds_to_first_page < LOKI_ANSWER_AFTER_S, "the slow provider held the page back"

        update = (await until(lambda: _updates(sink, key), timeout=30))[0]
        assert update["context"]["logs"]["total"] == 7
        assert "payment timeout" in update["context"]["logs"]["top"][0]["text"]
        st = await until(
            lambda: handle.query(IncidentWorkflow.state),
            lambda s: any(e.kind == "page_updated" for e in s.timeline),
        )
        assert [e.kind for e in st.timeline].count("page_updated") == 1


async def _updates(sink: Sink, key: str) -> list[dict]:
    return [
        r["json"]
        for r in sink.for_path("/alice")
        if r["json"]["workflow_id"].endswith(key) and r["json"].get("kind") == "update"
    ]
