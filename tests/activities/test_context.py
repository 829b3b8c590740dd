"""Context providers against real servers: Debian's Prometheus on loopback, and small HTTP servers that speak
Loki's and GitHub's documented APIs. Every failure is a ContextPart with a reason, never an exception, and a
provider that hangs is cut off at its deadline."""

from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
from temporalio import activity
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import ActivityEnvironment

from activities.context import (
    ContextActivities,
    ContextRequest,
    gather_deployments,
    gather_logs,
    gather_metrics,
    providers_for,
)
from activities.context.github import web_url
from activities.context.loki import LIMIT, nanos, normalise
from activities.context.prometheus import query_window, sparkline, sum_series
from incident.config import (
    Config,
    Deploys,
    GitHubIntegration,
    Logs,
    LokiIntegration,
    MetricQuery,
    PrometheusIntegration,
)
from incident.context import ContextPart
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import HttpRequest, free_port, loopback_http
from tests.helpers.prometheus import Prom


async def test_metrics_from_a_live_prometheus(prometheus: Prom) -> None:
    prom = PrometheusIntegration(url=prometheus.url)
    queries = [
        MetricQuery(name="targets up", query="up"),
        MetricQuery(name="samples appended", query="prometheus_tsdb_head_samples_appended_total", unit="samples"),
    ]
    now = datetime.now(UTC)
    async with httpx.AsyncClient() as http:
        part = await gather_metrics(http, prom, queries, now, now, timeout=5)
    assert part.ok and part.error is None, part.error
    up, appended = part.metrics
    assert up.name == "targets up" and up.current == 1.0
    assert up.before is None  # the server started seconds ago: nothing five minutes before the alert
    assert len(up.trend) == 12 and up.trend[-1] == "▄" and set(up.trend[:-2]) == {"·"}
    assert up.link == f"{prometheus.url}/graph?g0.expr=up&g0.tab=0&g0.range_input=1h"
    assert appended.unit == "samples" and appended.current is not None and appended.current > 0
    assert "prometheus_tsdb_head_samples_appended_total" in (appended.link or "")
    async with httpx.AsyncClient() as http:  # the link opens this Prometheus' graph page (Debian's adds a slash)
        assert (await http.get(up.link or "", follow_redirects=True)).status_code == 200


async def test_metrics_sum_series_and_compare_with_before_the_alert(prometheus: Prom) -> None:
    prom = PrometheusIntegration(url=prometheus.url)
    q = MetricQuery(name="errors", query="baton_test_errors", unit="/s")
    async with httpx.AsyncClient() as http:
        part = await gather_metrics(http, prom, [q], prometheus.backfill_alert_at, datetime.now(UTC), timeout=5)
    assert part.ok, part.error
    (m,) = part.metrics
    assert m.name == "errors (sum of 3 series)" and m.query == "baton_test_errors" and m.unit == "/s"
    assert m.before == 3.0 and m.current == 30.0
    assert len(m.trend) == 12 and m.trend.startswith("▁▁▁▁▁▁") and m.trend.endswith("███"), m.trend


async def test_a_bad_query_is_named_and_the_good_ones_kept(prometheus: Prom) -> None:
    prom = PrometheusIntegration(url=prometheus.url)
    bad = MetricQuery(name="error rate", query="sum(rate(http_requests_total[5m])")
    good = MetricQuery(name="targets up", query="up")
    now = datetime.now(UTC)
    async with httpx.AsyncClient() as http:
        only_bad = await gather_metrics(http, prom, [bad], now, now, timeout=5)
        mixed = await gather_metrics(http, prom, [good, bad], now, now, timeout=5)
    assert not only_bad.ok and only_bad.metrics == []
    assert "error rate (sum(rate(http_requests_total[5m])): bad_data:" in (only_bad.error or "")
    assert "parse error" in (only_bad.error or "")
    # Partial: what answered is kept and the part stays ok; the failure is still named.
    assert mixed.ok and [m.name for m in mixed.metrics] == ["targets up"]
    assert "sum(rate(http_requests_total[5m])" in (mixed.error or "") and "up (" not in (mixed.error or "")


async def test_metrics_when_prometheus_is_unreachable() -> None:
    prom = PrometheusIntegration(url=f"http://127.0.0.1:{free_port()}")
    now = datetime.now(UTC)
    async with httpx.AsyncClient() as http:
        part = await gather_metrics(http, prom, [MetricQuery(name="up", query="up")], now, now, timeout=2)
    assert not part.ok and "cannot reach Prometheus" in (part.error or "")


def test_query_window_has_at_most_about_60_points_and_evaluates_now() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC)
    for alert_ago in (timedelta(0), timedelta(seconds=7), timedelta(hours=3)):
        start, end, step = query_window(now - alert_ago, now)
        assert step >= 15 and (end - start) / step <= 61
        assert end == now.timestamp() and (end - start) % step == 0
        assert start <= (now - alert_ago - timedelta(minutes=30)).timestamp()


def test_sparkline_and_sums() -> None:
    pts = [(float(t), float(t)) for t in range(12)]
    assert sparkline(pts, 0, 12) == "▁▂▂▃▄▄▅▅▆▇▇█"
    assert sparkline([(float(t), 5.0) for t in range(12)], 0, 12) == "▄" * 12
    assert sparkline([(0.0, 1.0), (11.0, 1.0)], 0, 12) == "▄" + "·" * 10 + "▄"
    mixed = sparkline([(0.0, 0.0), (5.0, math.nan), (6.0, math.inf), (11.0, 2.0)], 0, 12)
    assert mixed[0] == "▁" and mixed[5] == "·" and mixed[6] == "█" and mixed[-1] == "█"
    assert sparkline([], 0, 12) == ""
    summed = sum_series([[(1.0, 1.0), (2.0, math.nan)], [(1.0, 2.0), (2.0, 3.0)], [(2.0, math.nan)]])
    assert summed == [(1.0, 3.0), (2.0, 3.0)]


# ---- small real HTTP servers speaking Loki's and GitHub's APIs ------------------------------------------------


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class FakeAPI:
    """A loopback server answering GETs with whatever `answer` returns, recording each request."""

    url: str = ""
    answer: Callable[[Seen], tuple[int, dict[str, str], bytes]] = lambda _: (404, {}, b"")
    seen: list[Seen] = field(default_factory=list)


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    state = FakeAPI()

    def respond(r: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(r.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        req = Seen(path=parts.path, query=query, headers={k.lower(): v for k, v in r.headers.items()})
        state.seen.append(req)
        return state.answer(req)

    with loopback_http(respond) as url:
        state.url = url
        yield state


def as_json(status: int, body: Any, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


# ---- Loki ----------------------------------------------------------------------------------------------------

ALERT_AT = datetime(2026, 3, 1, 12, 0, 0, 123_456, tzinfo=UTC)
NOW = ALERT_AT + timedelta(minutes=2)


def loki_lines() -> list[str]:
    """Log lines newest first, in six shapes: 40, 25, 10, 7 (long), 5, 3."""
    lines = []
    for i in range(40):
        trace = uuid.uuid4().hex
        lines.append(f'level=error msg="payment declined" order={1000 + i} trace={trace} took={i % 9 + 1}ms')
    for i in range(25):
        lines.append(
            f'2026-03-01T11:{50 + i % 10}:0{i % 10}.{i:03d}Z level=error msg="upstream timeout" '
            f"upstream=10.0.3.{i}:8080 request_id={uuid.uuid4()}"
        )
    lines += ["connection reset by peer"] * 10
    lines += [f"stack: {'x' * 400} at 0x7f{i:08x}" for i in range(7)]
    lines += [f"retrying in {i}s" for i in range(5)]
    lines += ["GET /healthz 200"] * 3
    return lines


def loki_answer(lines: list[str], start_ns: int) -> dict[str, Any]:
    """Two streams, each newest first, as Loki returns them with direction=backward."""
    stamped = [(str(start_ns - i * 1_000_000), line) for i, line in enumerate(lines)]
    return {
        "status": "success",
        "data": {
            "resultType": "streams",
            "result": [
                {"stream": {"app": "checkout", "pod": "checkout-1"}, "values": stamped[0::2]},
                {"stream": {"app": "checkout", "pod": "checkout-2"}, "values": stamped[1::2]},
            ],
            "stats": {},
        },
    }


async def test_logs_grouped_by_shape(api: FakeAPI) -> None:
    lines = loki_lines()
    api.answer = lambda req: as_json(200, loki_answer(lines, nanos(NOW)))
    logs = Logs(query='{app="checkout"} |= "error"')
    async with httpx.AsyncClient() as http:
        part = await gather_logs(http, LokiIntegration(url=api.url), logs, ALERT_AT, NOW, timeout=5)
    assert part.provider == "logs" and part.ok and part.error is None and part.logs is not None
    (req,) = api.seen
    assert req.path == "/loki/api/v1/query_range"
    assert req.query == {
        "query": '{app="checkout"} |= "error"',
        "start": str(nanos(ALERT_AT - timedelta(minutes=15))),
        "end": str(nanos(NOW)),
        "limit": "1000",
        "direction": "backward",
    }
    assert req.query["start"] == "1772365500123456000"  # 11:45:00.123456 UTC, in nanoseconds
    assert part.logs.total == 90 and part.logs.query == logs.query
    assert [t.count for t in part.logs.top] == [40, 25, 10, 7, 5]
    assert part.logs.top[0].text == lines[0]  # the newest example of its shape
    assert part.logs.top[2].text == "connection reset by peer"
    assert len(part.logs.top[3].text) == 300 and part.logs.top[3].text.endswith("…")
    link = urlsplit(part.logs.link or "")
    assert f"{link.scheme}://{link.netloc}{link.path}" == f"{api.url}/loki/api/v1/query_range"
    assert {k: v[0] for k, v in parse_qs(link.query).items()} == req.query


async def test_logs_link_into_grafana_explore_and_the_limit(api: FakeAPI) -> None:
    lines = [f"timeout after {i}ms" for i in range(LIMIT)]
    api.answer = lambda req: as_json(200, loki_answer(lines, nanos(NOW)))
    loki = LokiIntegration(url=api.url, explore_url="https://grafana.example.com/")
    async with httpx.AsyncClient() as http:
        part = await gather_logs(http, loki, Logs(query='{app="checkout"}'), ALERT_AT, NOW, timeout=5)
    assert part.ok and part.logs is not None
    assert part.logs.total == LIMIT and part.logs.top[0].count == LIMIT
    assert "1000+" in (part.error or "")  # hitting the limit is said, the part stays ok
    link = part.logs.link or ""
    assert link.startswith("https://grafana.example.com/explore?schemaVersion=1&panes=")
    pane = json.loads(unquote(link.split("panes=", 1)[1]))["baton"]
    assert pane["queries"][0]["expr"] == '{app="checkout"}'
    assert pane["range"] == {
        "from": str(nanos(ALERT_AT - timedelta(minutes=15)) // 10**6),
        "to": str(nanos(NOW) // 10**6),
    }


async def test_logs_errors_are_reasons(api: FakeAPI) -> None:
    loki = LokiIntegration(url=api.url)
    async with httpx.AsyncClient() as http:
        api.answer = lambda req: (400, {"Content-Type": "text/plain"}, b"parse error at line 1, col 6: syntax error\n")
        bad = await gather_logs(http, loki, Logs(query="{app=}"), ALERT_AT, NOW, timeout=5)
        metric = {"status": "success", "data": {"resultType": "matrix", "result": []}}
        api.answer = lambda req: as_json(200, metric)
        matrix = await gather_logs(http, loki, Logs(query='rate({app="x"}[1m])'), ALERT_AT, NOW, timeout=5)
        gone = LokiIntegration(url=f"http://127.0.0.1:{free_port()}")
        down = await gather_logs(http, gone, Logs(query='{app="x"}'), ALERT_AT, NOW, timeout=5)
    assert not bad.ok and bad.error == "HTTP 400 from Loki: parse error at line 1, col 6: syntax error"
    assert not matrix.ok and "returns matrix, not log lines" in (matrix.error or "")
    assert not down.ok and "cannot reach Loki" in (down.error or "")


def test_normalise_makes_similar_lines_equal() -> None:
    a = "2026-03-01T11:50:01.123Z req 5f0c1e2a-8d3b-4c1e-9a2b-3c4d5e6f7a8b took 12ms trace=4bf92f3577b34da6"
    b = "2026-03-01 11:52:09,999+01:00 req 0b9d3c7e-1a2b-4c3d-8e9f-a0b1c2d3e4f5 took 7.5ms trace=00f067aa0ba902b7"
    assert normalise(a) == normalise(b) == "<ts> req <uuid> took <n>ms trace=<hex>"
    assert normalise("ptr 0xDEADBEEF freed") == "ptr <hex> freed"
    assert normalise("deadbeef cafe") == "deadbeef cafe"  # words stay words


# ---- GitHub --------------------------------------------------------------------------------------------------

SHA = "8f14e45fceea167a5a36dedd4bea2543e1a2b3c4"


def deployment(id: int, at: datetime, ref: str, description: str | None, login: str = "alice") -> dict[str, Any]:
    return {
        "url": f"https://api.github.com/repos/acme/checkout/deployments/{id}",
        "id": id,
        "node_id": f"DE_{id}",
        "sha": SHA,
        "ref": ref,
        "task": "deploy",
        "payload": {},
        "original_environment": "production",
        "environment": "production",
        "description": description,
        "creator": {"login": login, "id": 1, "type": "User"},
        "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "updated_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "statuses_url": f"https://api.github.com/repos/acme/checkout/deployments/{id}/statuses",
        "repository_url": "https://api.github.com/repos/acme/checkout",
        "transient_environment": False,
        "production_environment": True,
    }


async def test_deployments_become_changes(api: FakeAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_GH_TOKEN", "ghp_secret_123")
    api.answer = lambda req: as_json(
        200,
        [
            deployment(3, ALERT_AT - timedelta(minutes=4), "v2.41.0", "checkout v2.41.0", login="bob"),
            deployment(2, ALERT_AT - timedelta(minutes=40), SHA, None),
            deployment(1, ALERT_AT - timedelta(hours=3), "v2.40.0", "old"),
        ],
    )
    gh = GitHubIntegration(token="env:TEST_GH_TOKEN", api_url=api.url)
    deploys = Deploys(github="acme/checkout", environment="production")
    since = ALERT_AT - timedelta(minutes=60)
    async with httpx.AsyncClient() as http:
        part = await gather_deployments(http, gh, deploys, "checkout", since, timeout=5)
    (req,) = api.seen
    assert req.path == "/repos/acme/checkout/deployments"
    assert req.query == {"per_page": "30", "environment": "production"}
    assert req.headers["authorization"] == "Bearer ghp_secret_123"
    assert req.headers["accept"] == "application/vnd.github+json"
    assert req.headers["x-github-api-version"] == "2022-11-28"
    assert part.provider == "github" and part.ok and part.error is None
    newest, older = part.changes  # the three-hour-old one is before `since`
    link = f"{api.url}/acme/checkout/deployments"
    assert newest.model_dump() == {
        "service": "checkout",
        "version": "v2.41.0",
        "author": "bob",
        "description": "checkout v2.41.0",
        "link": link,
        "at": ALERT_AT.replace(microsecond=0) - timedelta(minutes=4),
        "source": "github",
        "kind": "deploy",
    }
    assert older.version == "8f14e45" and older.description == "deploy" and older.author == "alice"


async def test_deployments_without_a_token_or_environment(api: FakeAPI) -> None:
    api.answer = lambda req: as_json(200, [])
    async with httpx.AsyncClient() as http:
        part = await gather_deployments(
            http, GitHubIntegration(api_url=api.url), Deploys(github="acme/checkout"), "checkout", NOW, timeout=5
        )
    assert part.ok and part.changes == []
    (req,) = api.seen
    assert req.query == {"per_page": "30"} and "authorization" not in req.headers


@pytest.mark.parametrize(
    ("status", "headers", "body", "expected"),
    [
        (401, {}, {"message": "Bad credentials"}, "GitHub rejected the token (HTTP 401: Bad credentials)"),
        (404, {}, {"message": "Not Found"}, "acme/checkout not found on GitHub (HTTP 404: Not Found)"),
        (
            403,
            {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW.timestamp()) + 600)},
            {"message": "API rate limit exceeded for installation."},
            "rate limited by GitHub until 12:12:00 UTC (HTTP 403: API rate limit exceeded",
        ),
        (403, {"x-ratelimit-remaining": "4000"}, {"message": "Resource not accessible"}, "refused access"),
        (500, {}, {"message": "Server Error"}, "GitHub answered HTTP 500: Server Error"),
    ],
)
async def test_github_errors_are_reasons(
    api: FakeAPI, monkeypatch: pytest.MonkeyPatch, status: int, headers: dict[str, str], body: Any, expected: str
) -> None:
    monkeypatch.setenv("TEST_GH_TOKEN", "ghp_secret_123")
    api.answer = lambda req: as_json(status, body, **headers)
    gh = GitHubIntegration(token="env:TEST_GH_TOKEN", api_url=api.url)
    async with httpx.AsyncClient() as http:
        part = await gather_deployments(http, gh, Deploys(github="acme/checkout"), "checkout", NOW, timeout=5)
    assert not part.ok and part.changes == []
    assert expected in (part.error or ""), part.error
    assert "ghp_secret_123" not in (part.error or "")


async def test_github_unreachable_and_misconfigured() -> None:
    gh = GitHubIntegration(api_url=f"http://127.0.0.1:{free_port()}")
    async with httpx.AsyncClient() as http:
        down = await gather_deployments(http, gh, Deploys(github="acme/checkout"), "checkout", NOW, timeout=2)
        wrong = await gather_deployments(http, gh, Deploys(github="checkout"), "checkout", NOW, timeout=2)
    assert not down.ok and "cannot reach GitHub" in (down.error or "")
    assert not wrong.ok and "not owner/repo" in (wrong.error or "")


def test_web_url_for_github_and_enterprise() -> None:
    assert web_url("https://api.github.com") == "https://github.com"
    assert web_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com"
    assert web_url("https://api.acme.ghe.com") == "https://acme.ghe.com"


# ---- a provider that hangs -----------------------------------------------------------------------------------


@pytest.fixture
def silent() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


@pytest.mark.integration
async def test_a_provider_that_hangs_gives_up_at_its_deadline(silent: str) -> None:
    timeout = 1.0

    async def timed(coro: Any) -> tuple[ContextPart, float]:
        began = time.monotonic()
        part = await coro
        return part, time.monotonic() - began

    prom, loki, gh = PrometheusIntegration(url=silent), LokiIntegration(url=silent), GitHubIntegration(api_url=silent)
    async with httpx.AsyncClient() as http:
        results = await asyncio.gather(
            timed(gather_metrics(http, prom, [MetricQuery(name="up", query="up")], NOW, NOW, timeout)),
            timed(gather_logs(http, loki, Logs(query='{app="x"}'), NOW, NOW, timeout)),
            timed(gather_deployments(http, gh, Deploys(github="acme/x"), "x", NOW, timeout)),
        )
    for part, elapsed in results:
        assert not part.ok and "no answer within 1s" in (part.error or ""), part
        assert elapsed < timeout + 1, f"{part.provider} took {elapsed:.2f}s"


# ---- the activities ------------------------------------------------------------------------------------------


def context_config(prom: str, loki: str, github: str) -> Config:
    services = """services:
  payments:
    escalation: two-levels
    context:
      deploys: {github: acme/payments, environment: production}
      metrics: [{name: errors, query: up, unit: ""}]
      logs: {query: '{app="payments"}'}
      window: 30m
      deadline: 2s
"""
    integrations = f"""integrations:
  prometheus: {{url: "{prom}"}}
  loki: {{url: "{loki}"}}
  github: {{api_url: "{github}"}}
"""
    return make_config(base=BASE_CONFIG.replace("services:\n", services).replace("integrations:\n", integrations))


@pytest.mark.integration
async def test_activities_read_the_service_context(api: FakeAPI, silent: str) -> None:
    deployed = datetime.now(UTC) - timedelta(minutes=10)

    def answer(req: Seen) -> tuple[int, dict[str, str], bytes]:
        if req.path == "/repos/acme/payments/deployments":
            older = deployment(8, deployed - timedelta(hours=1), "v1.2.2", None)
            return as_json(200, [deployment(9, deployed, "v1.2.3", "payments v1.2.3"), older])
        return as_json(200, loki_answer(["boom 1", "boom 2"], nanos(datetime.now(UTC))))

    api.answer = answer
    config = context_config(silent, api.url, api.url)
    assert providers_for(config, "payments") == ["metrics", "logs", "github"]
    assert providers_for(config, "checkout") == [] and providers_for(config, "nope") == []

    env = ActivityEnvironment()
    async with httpx.AsyncClient() as http:
        acts = ContextActivities(config, http)
        req = ContextRequest(service="payments", alert_at=datetime.now(UTC), timeout_s=1)
        deploys = await env.run(acts.gather_deployments, req)
        logs = await env.run(acts.gather_logs, req)
        metrics = await env.run(acts.gather_metrics, req)  # Prometheus "hangs": cut at the deadline

        asked = len(api.seen)
        other = ContextRequest(service="checkout", alert_at=datetime.now(UTC), timeout_s=1)
        empty = [await env.run(fn, other) for fn in (acts.gather_metrics, acts.gather_logs, acts.gather_deployments)]
        assert len(api.seen) == asked  # nothing configured: nothing asked
        unknown = await env.run(acts.gather_logs, ContextRequest(service="nope", alert_at=NOW, timeout_s=1))

    assert deploys.ok and [c.version for c in deploys.changes] == ["v1.2.3"]  # window 30m: the older one is out
    assert logs.ok and logs.logs is not None and logs.logs.top[0].count == 2
    assert not metrics.ok and "no answer within 1s" in (metrics.error or "")
    assert [(p.provider, p.ok, p.changes, p.metrics, p.logs) for p in empty] == [
        ("metrics", True, [], [], None),
        ("logs", True, [], [], None),
        ("github", True, [], [], None),
    ]
    assert not unknown.ok and unknown.error == "no service 'nope' in the worker's config"
    # What the workflow receives survives Temporal's converter.
    converter = pydantic_data_converter.payload_converter
    for part in (deploys, logs, metrics):
        assert converter.from_payloads(converter.to_payloads([part]), [ContextPart]) == [part]


async def test_activity_names() -> None:
    async with httpx.AsyncClient() as http:
        acts = ContextActivities(make_config(), http)
        names = [
            activity._Definition.must_from_callable(fn).name
            for fn in (acts.gather_metrics, acts.gather_logs, acts.gather_deployments)
        ]
    assert names == ["gather_metrics", "gather_logs", "gather_deployments"]
