"""The HTTP intake on a real port against the real dev server: what sources see, good input and bad."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Incidents
from gateway.intake import create_app
from gateway.temporal import connect
from incident.models import Status
from tests.helpers.config import TOKEN, make_config
from tests.helpers.http import Sink, serving
from tests.helpers.temporal import Harness, intake_stack
from tests.helpers.wait import until

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def event(key: str, summary: str = "checkout 5xx above 5%", action: str = "trigger") -> dict:
    body: dict = {"routing_key": "checkout", "event_action": action, "dedup_key": key}
    if action == "trigger":
        body["payload"] = {"summary": summary, "source": "prom-1", "severity": "critical"}
    return body


@pytest.fixture
async def intake(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with intake_stack(dev_env, make_config(sink.url)) as stack:
        yield stack


async def test_a_trigger_is_accepted_and_opens_a_triggered_incident(intake: tuple[str, Harness]) -> None:
    url, h = intake
    key = f"k-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", json=event(key), headers=AUTH)
    assert resp.status_code == 202
    assert resp.json() == {"status": "success", "message": "Event processed", "dedup_key": key}
    rows = await until(lambda: _with_key(h.incidents, key))
    assert rows[0].status == Status.TRIGGERED.value and rows[0].severity == "SEV1" and rows[0].service == "checkout"
    st = await h.incidents.state(rows[0].incident_id)
    assert st.title == "checkout 5xx above 5%"


async def _with_key(incidents: Incidents, key: str) -> list:
    return [r for r in await incidents.search() if r.workflow_id.endswith(":" + key)]


async def test_a_trigger_without_dedup_key_gets_one_that_a_retry_reuses(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    body = event("x", summary=f"no key {uuid.uuid4()}")
    del body["dedup_key"]
    async with httpx.AsyncClient(base_url=url) as http:
        first = (await http.post("/v1/events", json=body, headers=AUTH)).json()["dedup_key"]
        again = (await http.post("/v1/events", json=body, headers=AUTH)).json()["dedup_key"]
    assert first == again and len(first) == 32


async def test_acknowledge_for_an_unknown_key_opens_nothing(intake: tuple[str, Harness]) -> None:
    url, h = intake
    key = f"ghost-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", json=event(key, action="acknowledge"), headers=AUTH)
    assert resp.status_code == 202
    assert "no open incident" in resp.json()["message"]
    assert await _with_key(h.incidents, key) == []


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "Authorization: Bearer"),
        ({"Authorization": "Bearer wrong"}, "not valid"),
        ({"Authorization": TOKEN}, "Bearer"),
    ],
    ids=["missing", "wrong", "not-bearer"],
)
async def test_without_a_valid_token_the_answer_is_401(intake: tuple[str, Harness], headers: dict, detail: str) -> None:
    url, h = intake
    key = f"k-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", json=event(key), headers=headers)
    assert resp.status_code == 401
    assert resp.json()["error"] == "unauthorized" and detail in resp.json()["message"]
    assert resp.headers["www-authenticate"] == "Bearer"
    assert await _with_key(h.incidents, key) == []


async def test_invalid_json_is_400(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", content=b"{not json", headers=AUTH | {"content-type": "application/json"})
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_json"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["payload"].pop("summary"), "payload.summary"),
        (lambda b: b["payload"].update(severity="urgent"), "payload.severity"),
        (lambda b: b.update(event_action="explode"), "event_action"),
        (lambda b: b.pop("payload"), "payload is required"),
        (lambda b: b.pop("routing_key"), "routing_key"),
    ],
    ids=["no-summary", "bad-severity", "bad-action", "trigger-without-payload", "no-routing-key"],
)
async def test_a_malformed_event_is_422_naming_the_field(intake: tuple[str, Harness], mutate, field: str) -> None:
    url, h = intake
    key = f"k-{uuid.uuid4().hex[:8]}"
    body = event(key)
    mutate(body)
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", json=body, headers=AUTH)
    assert resp.status_code == 422
    data = resp.json()
    assert data["error"] == "invalid_event"
    assert field in data["message"], data
    assert await _with_key(h.incidents, key) == []


async def test_a_body_over_one_megabyte_is_413(intake: tuple[str, Harness]) -> None:
    url, h = intake
    key = f"k-{uuid.uuid4().hex[:8]}"
    body = event(key, summary="x")
    body["payload"]["custom_details"] = {"blob": "x" * 1_100_000}
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", json=body, headers=AUTH)

        async def chunked():  # no Content-Length: the limit still holds
            yield b'{"pad": "' + b"x" * 600_000
            yield b"x" * 600_000 + b'"}'

        streamed = await http.post("/v1/events", content=chunked(), headers=AUTH)
    assert resp.status_code == 413 and resp.json()["error"] == "body_too_large"
    assert streamed.status_code == 413
    assert await _with_key(h.incidents, key) == []


@pytest.mark.integration
async def test_when_temporal_is_unreachable_the_answer_is_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    client = await connect("127.0.0.1:1", lazy=True)  # nothing listens on port 1
    async with serving(create_app(make_config(), Incidents(client))) as url, httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", json=event("k"), headers=AUTH)
        health = await http.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["error"] == "temporal_unavailable" and resp.headers["retry-after"] == "5"
    assert health.status_code == 503 and health.json()["temporal"] == "unreachable"


async def test_health_and_openapi(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok", "temporal": "ok"}
        spec = (await http.get("/openapi.json")).json()
    assert "/v1/events" in spec["paths"]


@pytest.mark.integration
async def test_an_unexpected_failure_is_a_503_the_source_retries_never_a_500(monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken Temporal client (not a down one) stands in for any bug behind the intake."""
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)

    class Broken(Incidents):
        async def send_batch(self, *args: object) -> bool:
            raise KeyError("a bug")

    client = await connect("127.0.0.1:1", lazy=True)
    async with serving(create_app(make_config(), Broken(client))) as url, httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", json=event("k"), headers=AUTH)
    assert resp.status_code == 503 and resp.json()["error"] == "not_recorded"
