"""`/metrics` on the gateway: no token, honest in the OpenAPI, and counting what sources were answered (accepted,
503, refused), what reached incidents (opened, duplicate, ignored), and how long answers took."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.testing import WorkflowEnvironment

from gateway.client import Incidents
from gateway.intake import create_app
from gateway.metrics import parse_address
from gateway.temporal import connect
from tests.helpers.config import TOKEN, make_config
from tests.helpers.http import Sink, serving
from tests.helpers.temporal import Harness, intake_stack

AUTH = {"Authorization": f"Bearer {TOKEN}"}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def event(key: str, action: str = "trigger") -> dict:
    body: dict = {"routing_key": "checkout", "event_action": action, "dedup_key": key}
    if action == "trigger":
        body["payload"] = {"summary": "checkout 5xx above 5%", "source": "prom-1", "severity": "critical"}
    return body


async def scrape(http: httpx.AsyncClient) -> Samples:
    resp = await http.get("/metrics")  # no token: like /healthz
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def get(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= ls)


@pytest.fixture
async def intake(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with intake_stack(dev_env, make_config(sink.url)) as stack:
        yield stack


async def test_alerts_are_counted_by_what_became_of_them(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    key = f"metrics-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=url) as http:
        before = await scrape(http)
        assert (await http.post("/v1/events", json=event(key), headers=AUTH)).status_code == 202
        assert (await http.post("/v1/events", json=event(key), headers=AUTH)).status_code == 202
        unknown = event(f"none-{uuid.uuid4().hex[:8]}", "acknowledge")
        assert (await http.post("/v1/events", json=unknown, headers=AUTH)).status_code == 202
        assert (await http.post("/v1/events", json=event(key))).status_code == 401
        after = await scrape(http)

    def delta(name: str, **labels: str) -> float:
        return get(after, name, **labels) - get(before, name, **labels)

    assert delta("baton_alerts_received_total", source="events", outcome="accepted") == 3
    assert delta("baton_alerts_received_total", outcome="refused") == 0  # a 401 is not an alert received
    assert delta("baton_incidents_opened_total", source="events") == 1
    assert delta("baton_alerts_delivered_total", source="events", result="opened") == 1
    assert delta("baton_alerts_delivered_total", source="events", result="duplicate") == 1
    assert delta("baton_alerts_delivered_total", source="events", result="ignored") == 1
    route = {"route": "/v1/events", "method": "POST"}
    assert delta("baton_intake_request_duration_seconds_count", **route, status="202") == 3
    assert delta("baton_intake_request_duration_seconds_count", **route, status="401") == 1
    assert delta("baton_intake_request_duration_seconds_count", route="/metrics") == 0  # scrapes are not timed


async def test_open_incidents_and_pending_approvals_are_read_from_temporal(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/v1/events", json=event(f"open-{uuid.uuid4().hex[:8]}"), headers=AUTH)).is_success
        from gateway.intake.metrics import OPEN_INCIDENTS

        OPEN_INCIDENTS.scanned_at = 0.0  # read again now, not SCAN_EVERY seconds after the last scrape
        samples = await scrape(http)
    assert get(samples, "baton_incidents_open") >= 1
    assert get(samples, "baton_approvals_pending") == 0
    assert {dict(ls)["severity"] for (n, ls) in samples if n == "baton_incidents_open"} >= {"SEV0", "SEV4"}


@pytest.mark.integration
async def test_503s_are_counted_by_error_and_metrics_need_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    client = await connect("127.0.0.1:1", lazy=True)  # nothing listens on port 1
    async with serving(create_app(make_config(), Incidents(client))) as url, httpx.AsyncClient(base_url=url) as http:
        before = await scrape(http)
        resp = await http.post("/v1/events", json=event("k"), headers=AUTH)
        after = await scrape(http)
        spec = (await http.get("/openapi.json")).json()
    assert resp.status_code == 503
    unavailable = ("baton_intake_unavailable_total", frozenset({("error", "temporal_unavailable")}))
    assert after[unavailable] - before[unavailable] == 1
    received = ("baton_alerts_received_total", frozenset({("source", "events"), ("outcome", "unavailable")}))
    assert after[received] - before[received] == 1
    # Temporal cannot be read: no number rather than a stale or made-up one
    assert get(after, "baton_incidents_open") == 0 and not any(n == "baton_approvals_pending" for n, _ in after)
    documented = spec["paths"]["/metrics"]["get"]
    assert "security" not in documented
    assert [c.split(";")[0] for c in documented["responses"]["200"]["content"]] == ["text/plain"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("127.0.0.1:9464", ("127.0.0.1", 9464)), (":9464", ("0.0.0.0", 9464)), ("[::1]:9464", ("::1", 9464))],
)
def test_metrics_addresses_are_host_and_port(value: str, expected: tuple[str, int]) -> None:
    assert parse_address(value, "BATON_METRICS_ADDRESS") == expected


@pytest.mark.parametrize("value", ["9464", "localhost:", "localhost:http", "localhost:70000"])
def test_a_bad_metrics_address_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="BATON_METRICS_ADDRESS"):
        parse_address(value, "BATON_METRICS_ADDRESS")
