"""The first minute, end to end on the dev server: a deploy, then an alert; the page names the deploy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.http import create_app
from incident.ids import workflow_id_for
from tests.conftest import TOKEN, Harness, Sink, harness, make_config, serving, until
from workflows.incident import IncidentWorkflow

AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOKENS = "\n  changes: {token: env:TEST_INTAKE_TOKEN}\n"


@pytest.fixture
async def intake(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url, extra=TOKENS), http)
        async with h.worker, serving(create_app(h.config, h.incidents)) as url:
            yield url, h


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
    st = await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state)
    gathered = next(e for e in st.timeline if e.kind == "context")
    assert "checkout v2.41 deployed by bob 20 min before the alert" in gathered.text
    assert st.seconds_to_first_page is not None and 0 < st.seconds_to_first_page < 10
    assert [e.actor for e in st.timeline if e.kind == "coordination"] == ["agent:baton"]


async def _pages(sink: Sink, key: str) -> list[dict]:
    return [r["json"] for r in sink.for_path("/alice") if r["json"]["workflow_id"].endswith(key)]


async def test_a_change_for_an_unknown_service_is_refused(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/changes", json={"service": "chekout", "version": "v1"}, headers=AUTH)
        missing = await http.post("/v1/changes", json={"version": "v1"}, headers=AUTH)
    assert resp.status_code == 422 and "unknown service 'chekout'" in resp.json()["message"]
    assert missing.status_code == 422 and "service" in missing.json()["message"]
