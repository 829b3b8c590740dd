"""What the intake refuses, and how: every input a workflow could not take is a 4xx naming what is wrong, on a
real port against the real dev server."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from incident.ids import workflow_id_for
from tests.helpers.config import TOKEN, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import Harness, intake_stack
from tests.helpers.wait import until

AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOKENS = """
  changes: {token: env:TEST_INTAKE_TOKEN}
  alertmanager: {token: env:TEST_INTAKE_TOKEN}
  grafana: {token: env:TEST_INTAKE_TOKEN}
  datadog: {token: env:TEST_INTAKE_TOKEN}
"""


@pytest.fixture
async def intake(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with intake_stack(dev_env, make_config(sink.url, extra=TOKENS)) as stack:
        yield stack


def event(key: str, routing_key: str = "checkout", action: str = "trigger") -> dict:
    body: dict = {"routing_key": routing_key, "event_action": action, "dedup_key": key}
    if action == "trigger":
        body["payload"] = {"summary": "checkout 5xx above 5%", "source": "prom-1", "severity": "critical"}
    return body


def am(group: str, alerts: list[dict], **extra: object) -> dict:
    return {"version": "4", "groupKey": group, "status": "firing", "alerts": alerts, **extra}


def am_alert(fingerprint: str, **labels: str) -> dict:
    return {
        "status": "firing",
        "labels": {"alertname": "HighErrorRate", "service": "checkout", **labels},
        "annotations": {"summary": f"errors on {fingerprint}"},
        "startsAt": "2026-11-26T14:00:00Z",
        "fingerprint": fingerprint,
    }


async def _running(h: Harness, wid: str) -> bool:
    try:
        await h.client.get_workflow_handle(wid).describe()
    except Exception:
        return False
    return True


# ---- changes (items 5 and 6) -----------------------------------------------------------------------------------


async def test_a_change_without_a_zone_is_read_as_utc_and_the_log_keeps_working(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    naive = (datetime.now(UTC) - timedelta(minutes=5)).replace(tzinfo=None, microsecond=0)
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        first = await http.post("/v1/changes", json={"service": "checkout", "version": "n1", "time": naive.isoformat()})
        second = await http.post("/v1/changes", json={"service": "checkout", "version": "z1"})
        since = (naive - timedelta(minutes=1)).isoformat()
        listed = await http.get("/v1/changes/checkout", params={"since": since})
    assert first.status_code == 202 and first.json()["at"] == naive.isoformat() + "Z"
    assert second.status_code == 202
    assert listed.status_code == 200 and [c["version"] for c in listed.json()][-2:] == ["n1", "z1"]


@pytest.mark.parametrize("field", ["version", "author", "link", "description", "service", "kind"])
async def test_a_change_field_too_long_is_422_naming_it(intake: tuple[str, Harness], field: str) -> None:
    url, _ = intake
    body = {"service": "checkout", field: "x" * 900_000}
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        resp = await http.post("/v1/changes", json=body)
    assert resp.status_code == 422 and resp.json()["message"].startswith(field), resp.json()


# ---- ids (item 8) ----------------------------------------------------------------------------------------------


async def test_two_streams_that_joined_with_a_colon_are_two_incidents(intake: tuple[str, Harness]) -> None:
    url, h = intake
    tag = uuid.uuid4().hex[:6]
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        one = await http.post("/v1/events", json=event("5xx", routing_key=f"team{tag}:checkout"))
        two = await http.post("/v1/events", json=event("checkout:5xx", routing_key=f"team{tag}"))
    assert one.status_code == two.status_code == 202
    first = workflow_id_for(f"events:team{tag}:checkout", "5xx")
    second = workflow_id_for(f"events:team{tag}", "checkout:5xx")
    assert first != second
    assert await until(lambda: _running(h, first)) and await until(lambda: _running(h, second))
    assert second == f"incident:events:team{tag}:checkout:5xx", "an id in use today stays as it was"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (event("k\x00ey"), "dedup_key"),
        (event("key", routing_key="check\x1bout"), "routing_key"),
    ],
    ids=["nul-in-key", "escape-in-routing-key"],
)
async def test_control_characters_in_ids_are_422(intake: tuple[str, Harness], body: dict, field: str) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        resp = await http.post("/v1/events", json=body)
    assert resp.status_code == 422 and resp.json()["message"].startswith(field), resp.json()
    assert "control characters" in resp.json()["message"]


async def test_a_thousand_digit_org_is_refused_not_a_503(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    body = am(f"g-{uuid.uuid4().hex[:6]}", [am_alert("f1")], orgId=int("9" * 1000))
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        resp = await http.post(
            "/v1/alerts/grafana", content=json.dumps(body), headers={"content-type": "application/json"}
        )
    assert resp.status_code == 422 and resp.json()["message"].startswith("orgId")


# ---- one bad member (item 9, and 19's lone surrogate) ------------------------------------------------------------


def _raw(body: dict, surrogate_in: str) -> bytes:
    """JSON with a lone surrogate escape (`\\ud800`) where `surrogate_in` stands: valid JSON, invalid Unicode."""
    return json.dumps(body).replace(surrogate_in, "\\ud800").encode()


async def test_a_lone_surrogate_refuses_that_alert_alone_and_the_group_is_recorded(
    intake: tuple[str, Harness],
) -> None:
    url, h = intake
    group = f"g-{uuid.uuid4().hex[:6]}"
    body = am(group, [am_alert("good-1"), am_alert("bad-1", pod="SURROGATE"), am_alert("good-2")])
    json_headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        mixed = await http.post("/v1/alerts/alertmanager", content=_raw(body, "SURROGATE"), headers=json_headers)
        alone = am(f"{group}-alone", [am_alert("bad-2", pod="SURROGATE")])
        only_bad = await http.post("/v1/alerts/alertmanager", content=_raw(alone, "SURROGATE"), headers=json_headers)
    assert mixed.status_code == 202, mixed.json()
    assert mixed.json()["alerts"] == 2 and [r["index"] for r in mixed.json()["refused"]] == [1]
    assert "surrogate" in mixed.json()["refused"][0]["message"]
    st = await until(lambda: h.incidents.state(workflow_id_for("alertmanager", group)), lambda s: s.alert_count == 2)
    assert st.alert_count == 2
    assert only_bad.status_code == 422 and only_bad.json()["error"] == "invalid_event"
    assert not await _running(h, workflow_id_for("alertmanager", f"{group}-alone"))


async def test_a_single_event_that_would_not_cross_is_422(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    body = event(f"k-{uuid.uuid4().hex[:6]}")
    body["payload"]["custom_details"] = {"pod": "SURROGATE"}
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        resp = await http.post(
            "/v1/events", content=_raw(body, "SURROGATE"), headers={"content-type": "application/json"}
        )
    assert resp.status_code == 422 and "surrogate" in resp.json()["message"]


# ---- bad input, calmly (item 19) ---------------------------------------------------------------------------------


def datadog(**extra: object) -> dict:
    return {"alert_cycle_key": f"c-{uuid.uuid4().hex[:6]}", "transition": "Triggered", "title": "t", **extra}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/alerts/datadog", datadog(date="nan"), "date"),
        ("/v1/alerts/datadog", datadog(date="1e400"), "date"),
        ("/v1/alerts/datadog", datadog(date="99999999999999999999"), "date"),
        ("/v1/alerts/datadog", datadog(date=True), "date"),
        ("/v1/alerts/grafana", am("g", [am_alert("f")], orgId=False), "orgId"),
        ("/v1/alerts/alertmanager", am("g", [am_alert("f")], truncatedAlerts=True), "truncatedAlerts"),
    ],
    ids=["nan", "inf", "year-overflow", "date-bool", "orgId-false", "truncated-bool"],
)
async def test_values_of_the_wrong_kind_are_422(intake: tuple[str, Harness], path: str, body: dict, field: str) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        resp = await http.post(path, json=body)
    assert resp.status_code == 422 and resp.json()["message"].startswith(field), resp.json()


async def test_no_token_and_bad_json_is_401(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"})
        changes = await http.post("/v1/changes", content=b"{not json", headers={"content-type": "application/json"})
    assert resp.status_code == 401 and resp.json()["error"] == "unauthorized"
    assert changes.status_code == 401


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (json.dumps(event("k")).encode("utf-16"), {}),
        (b'{"routing_key": "caf\xe9"}', {}),
        (gzip.compress(json.dumps(event("k")).encode()), {"content-encoding": "gzip"}),
    ],
    ids=["utf-16", "latin-1", "gzip"],
)
async def test_bodies_that_are_not_utf8_json_are_400_in_the_one_shape(
    intake: tuple[str, Harness], content: bytes, headers: dict
) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url, headers=AUTH) as http:
        resp = await http.post("/v1/events", content=content, headers={"content-type": "application/json", **headers})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_json" and "message" in resp.json()


async def test_a_deeply_nested_event_is_refused_at_once_and_health_stays_up(
    intake: tuple[str, Harness], capfd: pytest.CaptureFixture[str]
) -> None:
    url, _ = intake
    nested = "[" * 900 + "]" * 900
    body = json.dumps(event(f"deep-{uuid.uuid4().hex[:6]}")).replace(
        '"critical"}', '"critical", "custom_details": {"d": ' + nested + "}}"
    )
    async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=30) as http:
        started = time.monotonic()
        resp, health = await asyncio.gather(
            http.post("/v1/events", content=body.encode(), headers={"content-type": "application/json"}),
            http.get("/healthz"),
        )
        took = time.monotonic() - started
    assert resp.status_code == 422 and "nested deeper than 32" in resp.json()["message"]
    assert health.status_code == 200 and took < 5
    out, err = capfd.readouterr()
    assert len(out) + len(err) < 100_000


async def test_an_unexpected_error_keeps_the_connection_open(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken façade (standing in for any bug behind the intake) answers 503, and the same keep-alive
    connection answers the next request."""
    from gateway.client import Incidents
    from gateway.intake import create_app
    from tests.helpers.http import serving

    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)

    class Broken(Incidents):
        async def record_change(self, *args: object) -> None:
            raise KeyError("a bug")

    app = create_app(make_config(extra=TOKENS), Broken(dev_env.client))
    async with serving(app) as url:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        body = json.dumps({"service": "checkout", "version": "v1"}).encode()
        request = (
            f"POST /v1/changes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        statuses = []
        for _ in range(2):
            writer.write(request)
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            fields = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:] if b":" in line)
            length = int({k.lower(): v for k, v in fields.items()}[b"content-length"])
            await reader.readexactly(length)
            statuses.append(int(head.split()[1]))
        writer.close()
    assert statuses == [503, 503]


async def test_the_openapi_documents_every_answer(intake: tuple[str, Harness]) -> None:
    url, _ = intake
    async with httpx.AsyncClient(base_url=url) as http:
        spec = (await http.get("/openapi.json")).json()
    for path in ("/v1/events", "/v1/alerts/alertmanager", "/v1/alerts/grafana", "/v1/alerts/datadog", "/v1/changes"):
        documented = set(spec["paths"][path]["post"]["responses"])
        assert {"202", "400", "401", "403", "413", "422", "503"} <= documented, (path, documented)
    assert "503" in spec["paths"]["/healthz"]["get"]["responses"]
    assert {"401", "404", "503"} <= set(spec["paths"]["/v1/changes/{service}"]["get"]["responses"])


SLACK_SECRET = "slack-signing-secret-for-tests"


def _signed(body: bytes) -> dict[str, str]:
    import hashlib
    import hmac

    stamp = str(int(time.time()))
    sig = "v0=" + hmac.new(SLACK_SECRET.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": sig,
    }


@pytest.mark.parametrize(
    "payload",
    [
        [1, 2],
        {"type": 5},
        {"type": "block_actions", "actions": "not a list", "user": {"id": "U1"}},
        {"type": "block_actions", "actions": [5]},
        {"type": "view_submission", "view": "not a view", "user": {"id": "U1"}},
    ],
    ids=["a-list", "type-not-text", "actions-not-a-list", "action-not-an-object", "view-not-an-object"],
)
async def test_signed_slack_requests_with_wrong_field_types_are_400(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch, payload: object
) -> None:
    from urllib.parse import urlencode

    from gateway.client import Incidents
    from gateway.intake import create_app
    from tests.helpers.http import serving

    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    monkeypatch.setenv("TEST_SLACK_SIGNING_SECRET", SLACK_SECRET)
    monkeypatch.setenv("TEST_SLACK_BOT_TOKEN", "xoxb-test")
    slack = "  slack: {bot_token: env:TEST_SLACK_BOT_TOKEN, signing_secret: env:TEST_SLACK_SIGNING_SECRET}\n"
    app = create_app(make_config(extra=slack), Incidents(dev_env.client))
    body = urlencode({"payload": json.dumps(payload)}).encode()
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as http:
        resp = await http.post("/v1/slack/interactions", content=body, headers=_signed(body))
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_payload", resp.text
