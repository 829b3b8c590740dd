"""Every source through the real intake on a real port, against the real dev server: auth, limits, storms,
repeats, and Temporal going away and coming back."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path

import httpx
import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from gateway.client import Incidents
from gateway.intake import create_app
from gateway.temporal import connect
from gateway.up import dev_server_args, installed_binary, port_open
from incident.ids import workflow_id_for
from incident.state import IncidentState
from tests.helpers.config import TOKEN, make_config
from tests.helpers.http import Sink, free_port, serving
from tests.helpers.temporal import Harness, intake_stack
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

FIXTURES = Path(__file__).parents[1] / "fixtures"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
OTHER = "another-token-for-datadog"
TOKENS = """
  alertmanager: {token: env:TEST_INTAKE_TOKEN}
  grafana: {token: env:TEST_INTAKE_TOKEN}
  datadog: {token: env:TEST_DATADOG_TOKEN}
"""


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def am_payload(group: str, fingerprints: list[str], status: str = "firing") -> dict:
    body = fixture("alertmanager_firing.json")
    template = body["alerts"][0]
    body["groupKey"] = f'{{}}:{{alertname="{group}"}}'
    body["status"] = status
    body["alerts"] = [
        template | {"fingerprint": fp, "status": status, "labels": template["labels"] | {"alertname": group, "i": fp}}
        for fp in fingerprints
    ]
    return body


@pytest.fixture
async def intake(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_DATADOG_TOKEN", OTHER)
    async with intake_stack(dev_env, make_config(sink.url, extra=TOKENS)) as stack:
        yield stack


async def state(h: Harness, wid: str) -> IncidentState | None:
    """The incident's state, or None while it does not exist yet (a storm's alerts may take the buffer)."""
    try:
        return await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state)
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            return None
        raise


def counted(n: int) -> Callable[[IncidentState | None], bool]:
    return lambda s: s is not None and s.alert_count == n


async def test_alertmanager_group_makes_one_incident_and_a_repeat_is_not_counted(
    intake: tuple[str, Harness],
) -> None:
    url, h = intake
    group = f"G{uuid.uuid4().hex[:8]}"
    body = am_payload(group, ["fp1", "fp2", "fp3"])
    async with httpx.AsyncClient(base_url=url) as http:
        first = await http.post("/v1/alerts/alertmanager", json=body, headers=AUTH)
        repeat = await http.post("/v1/alerts/alertmanager", json=body, headers=AUTH)  # repeat_interval re-send
    assert first.status_code == 202 and first.json() == {"status": "success", "alerts": 3, "incidents": 1}
    assert repeat.status_code == 202
    wid = workflow_id_for("alertmanager", body["groupKey"])
    st = await until(lambda: state(h, wid), lambda s: s is not None and s.alert_count + s.duplicates == 6)
    assert st.alert_count == 3 and st.duplicates == 3 and set(st.alerts) == {"fp1", "fp2", "fp3"}

    async with httpx.AsyncClient(base_url=url) as http:
        resolved = await http.post(
            "/v1/alerts/alertmanager", json=am_payload(group, ["fp1", "fp2", "fp3"], "resolved"), headers=AUTH
        )
    assert resolved.status_code == 202
    st = await until(lambda: state(h, wid), lambda s: any(e.kind == "recovered" for e in s.timeline), timeout=30)
    assert st.status.value == "triggered" and not st.escalation.active


async def test_grafana_and_datadog_with_query_token(intake: tuple[str, Harness]) -> None:
    url, h = intake
    grafana = fixture("grafana_firing.json")
    grafana["groupKey"] += uuid.uuid4().hex
    datadog = fixture("datadog_triggered.json") | {"alert_cycle_key": uuid.uuid4().hex}
    async with httpx.AsyncClient(base_url=url) as http:
        g = await http.post("/v1/alerts/grafana", json=grafana, headers=AUTH)
        d = await http.post(f"/v1/alerts/datadog?token={OTHER}", json=datadog)
    assert g.status_code == 202 and g.json()["alerts"] == 2 and g.json()["incidents"] == 1
    assert d.status_code == 202
    gst = await until(lambda: state(h, workflow_id_for("grafana:1", grafana["groupKey"])), counted(2))
    assert gst.service == "checkout" and gst.severity.value == "SEV1" and gst.alert_count == 2
    dst = await until(lambda: state(h, workflow_id_for("datadog:480312", datadog["alert_cycle_key"])), counted(1))
    assert dst.service == "checkout" and dst.severity.value == "SEV2"  # the test config has only `checkout`


@pytest.mark.parametrize(
    ("path", "headers", "status", "error"),
    [
        ("/v1/alerts/alertmanager", {}, 401, "unauthorized"),
        ("/v1/alerts/alertmanager", {"Authorization": "Bearer nope"}, 401, "unauthorized"),
        ("/v1/alerts/alertmanager", {"Authorization": f"Bearer {OTHER}"}, 403, "forbidden"),
        ("/v1/alerts/grafana", {}, 401, "unauthorized"),
        ("/v1/alerts/datadog", AUTH, 403, "forbidden"),
        ("/v1/alerts/datadog", {}, 401, "unauthorized"),
    ],
)
async def test_auth_answers(intake: tuple[str, Harness], path: str, headers: dict, status: int, error: str) -> None:
    url, _ = intake
    body = fixture("datadog_triggered.json") if "datadog" in path else fixture("alertmanager_firing.json")
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post(path, json=body, headers=headers)
    assert resp.status_code == status and resp.json()["error"] == error, resp.text


async def test_an_invalid_payload_without_a_token_is_401_not_a_schema_lesson(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/alerts/alertmanager", json={"nonsense": True})
    assert resp.status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/alerts/alertmanager", {"status": "firing", "alerts": []}, "groupKey"),
        ("/v1/alerts/alertmanager", am_payload("x", []), "alerts"),
        ("/v1/alerts/grafana", am_payload("x", ["a"]) | {"status": "pending"}, "status"),
        ("/v1/alerts/datadog", {"title": "t", "transition": "Triggered"}, "alert_cycle_key"),
    ],
)
async def test_malformed_payloads_are_422_naming_the_field(
    intake: tuple[str, Harness], path: str, body: dict, field: str
) -> None:
    url, _ = intake
    headers = {"Authorization": f"Bearer {OTHER}"} if "datadog" in path else AUTH
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post(path, json=body, headers=headers)
    assert resp.status_code == 422 and field in resp.json()["message"], resp.text


async def test_oversized_alertmanager_payload_is_413(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    body = am_payload("big", [f"fp{i}" for i in range(4000)])
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/alerts/alertmanager", json=body, headers=AUTH)
    assert resp.status_code == 413 and resp.json()["error"] == "body_too_large"


async def test_a_large_group_under_the_limit_is_split_into_batches_not_refused(intake: tuple[str, Harness]) -> None:
    """Normalised alerts take more room than the webhook: 2,500 alerts in one notification still all count."""
    url, h = intake
    body = am_payload(f"Big{uuid.uuid4().hex[:6]}", [f"fp{i}" for i in range(2500)])
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        resp = await http.post("/v1/alerts/alertmanager", json=body, headers=AUTH)
    assert resp.status_code == 202 and resp.json()["alerts"] == 2500
    wid = workflow_id_for("alertmanager", body["groupKey"])
    st = await until(lambda: state(h, wid), counted(2500), timeout=60)
    assert len(st.alerts) == 200 and st.alerts_untracked == 2300


async def test_a_storm_makes_exactly_one_incident_per_key(intake: tuple[str, Harness]) -> None:
    """A scaled-down storm: 2,000 events across 20 keys, 64 at a time, one event per POST."""
    url, h = intake
    run = uuid.uuid4().hex[:6]
    keys = [f"storm-{run}-{k}" for k in range(20)]
    events = [
        {
            "routing_key": "checkout",
            "event_action": "trigger",
            "dedup_key": keys[i % 20],
            "payload": {"summary": f"error {i}", "source": "storm", "severity": "error"},
        }
        for i in range(2000)
    ]
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as http:
        sem = asyncio.Semaphore(64)

        async def post(body: dict) -> int:
            async with sem:
                return (await http.post("/v1/events", json=body, headers=AUTH)).status_code

        codes = await asyncio.gather(*(post(e) for e in events))
    assert codes.count(202) == 2000
    counts = []
    for key in keys:
        st = await until(partial(state, h, workflow_id_for("events:checkout", key)), counted(100), timeout=60)
        counts.append(st.alert_count)
        assert sum(1 for e in st.timeline if e.kind == "opened") == 1
    assert counts == [100] * 20
    listed = [r for r in await h.incidents.search(limit=500) if f"storm-{run}-" in r.workflow_id]
    assert len(listed) == 20


@pytest.mark.integration
async def test_503_while_temporal_is_down_then_the_retry_makes_exactly_one_incident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    port = free_port()
    cmd = [installed_binary("temporal"), *dev_server_args(tmp_path / "t.db", port, None)]
    body = am_payload("Outage", ["o1", "o2"])

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return proc

    server = start()
    try:
        await until(lambda: _open(port), timeout=30)
        client = await connect(f"127.0.0.1:{port}", lazy=True)
        incidents = Incidents(client, task_queue=f"outage-{uuid.uuid4().hex[:6]}")
        async with (
            serving(create_app(make_config(extra=TOKENS), incidents)) as url,
            httpx.AsyncClient(base_url=url) as http,
        ):
            server.terminate()
            server.wait(timeout=20)
            down = await http.post("/v1/alerts/alertmanager", json=body, headers=AUTH)
            assert down.status_code == 503 and down.json()["error"] == "temporal_unavailable"

            server = start()
            await until(lambda: _open(port), timeout=30)
            up = await until(
                lambda: http.post("/v1/alerts/alertmanager", json=body, headers=AUTH),
                lambda r: r.status_code == 202,
                timeout=30,
            )
            assert up.json()["incidents"] == 1
            again = await http.post("/v1/alerts/alertmanager", json=body, headers=AUTH)  # the source retries too
            assert again.status_code == 202
        wid = workflow_id_for("alertmanager", body["groupKey"])
        runs = [w async for w in client.list_workflows(f'WorkflowId = "{wid}"')]
        assert len(runs) == 1
    finally:
        server.terminate()
        server.wait(timeout=20)


async def _open(port: int) -> bool:
    return port_open(port)
