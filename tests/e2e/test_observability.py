"""baton watched like any service: a real Prometheus scrapes the intake's and the worker's `/metrics` (and the
Temporal SDK's) while a receiver answers every page with a 500, and the shipped "pages failing" rule fires; once the
receiver recovers the page is delivered, counted, and the alert clears. The worker logs JSON lines carrying the
incident's id, and never the alert's contents."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gateway.intake.metrics import SCAN_EVERY
from tests.helpers.http import free_port
from tests.helpers.prometheus import run_prometheus, wait_for
from tests.helpers.receiver import Answer
from tests.helpers.stack import AUTH, event, stack
from tests.helpers.wait import until

RULES = Path(__file__).parents[2] / "deploy" / "prometheus" / "baton-rules.yaml"
SECRET = "ALERT-CONTENT-do-not-log-4f1c"


def rules_without_waiting(tmp: Path) -> Path:
    """The shipped rules with every `for:` at 0s: the expressions are the ones a deployment runs (their `for:`
    durations are promtool's to test, in virtual time), without minutes of waiting here."""
    doc = yaml.safe_load(RULES.read_text())
    for group in doc["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    path = tmp / "baton-rules.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def query(prom: str, expr: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=2)
    r.raise_for_status()
    result: list[dict[str, Any]] = r.json()["data"]["result"]
    return result


def value(prom: str, expr: str) -> float:
    found = query(prom, expr)
    return float(found[0]["value"][1]) if found else 0.0


def firing(prom: str, name: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{prom}/api/v1/alerts", timeout=2)
    r.raise_for_status()
    return [a for a in r.json()["data"]["alerts"] if a["labels"]["alertname"] == name and a["state"] == "firing"]


async def test_prometheus_scrapes_baton_and_the_pages_failing_rule_fires_on_a_failing_receiver(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    worker_metrics, worker_sdk = free_port(), free_port()
    worker_env = {
        "BATON_METRICS_ADDRESS": f"127.0.0.1:{worker_metrics}",
        "BATON_TEMPORAL_METRICS_ADDRESS": f"127.0.0.1:{worker_sdk}",
        "BATON_LOG_FORMAT": "json",
    }
    async with stack(tmp_path, after1=300, after2=300, worker_env=worker_env) as s:
        jobs = {
            "baton-intake": [f"127.0.0.1:{s.intake.port}"],
            "baton-worker": [f"127.0.0.1:{worker_metrics}"],
            "baton-worker-temporal": [f"127.0.0.1:{worker_sdk}"],
        }
        with contextlib.contextmanager(run_prometheus)(tmp_path_factory, jobs, rules_without_waiting(tmp_path)) as p:
            prom = p.url
            wait_for(lambda: value(prom, 'min(up{job=~"baton-.*"})') == 1 and len(query(prom, "up")) == 4, "targets up")
            assert not firing(prom, "BatonNoWorkerPolling")

            failing = True

            def behaviour(path: str, body: dict[str, Any]) -> Answer:
                return ("fail", 0.0) if failing else ("ok", 0.0)

            s.receiver.behaviour = behaviour
            body = event("observed", 1)
            body["payload"]["custom_details"] = {"note": SECRET}
            async with httpx.AsyncClient(base_url=s.intake.url) as http:
                r = await http.post("/v1/events", json=body, headers=AUTH)
                assert r.status_code == 202, r.text

            alerts = wait_for(lambda: firing(prom, "BatonPagesFailing"), "BatonPagesFailing firing", timeout=60)
            assert {a["labels"]["method"] for a in alerts} == {"webhook"}
            assert alerts[0]["labels"]["severity"] == "critical"
            assert value(prom, 'sum(baton_alerts_received_total{source="events",outcome="accepted"})') == 1
            assert value(prom, 'sum(baton_incidents_opened_total{source="events"})') == 1
            assert value(prom, 'sum(baton_alerts_delivered_total{result="opened"})') == 1
            assert value(prom, 'sum(baton_pages_total{method="webhook",outcome="failed"})') >= 1
            assert value(prom, 'sum(baton_intake_request_duration_seconds_count{route="/v1/events",status="202"})') == 1
            assert value(prom, 'sum(temporal_num_pollers{poller_type="workflow_task"})') >= 1
            # Read from Temporal at most every SCAN_EVERY seconds: the scrape before the alert saw none open.
            wait_for(lambda: value(prom, "sum(baton_incidents_open)") == 1, "an open incident", timeout=SCAN_EVERY + 9)
            assert value(prom, "baton_approvals_pending") == 0
            assert not firing(prom, "BatonNoWorkerPolling") and not firing(prom, "BatonIntake503s")
            assert firing(prom, "Watchdog")

            failing = False
            wait_for(lambda: s.receiver.pages(), "the page delivered once the receiver recovers", timeout=60)
            wait_for(lambda: not firing(prom, "BatonPagesFailing"), "BatonPagesFailing clearing", timeout=30)
            wait_for(lambda: value(prom, "sum(baton_alert_to_page_seconds_count)") == 1, "alert-to-page counted")
            took = value(prom, "sum(baton_alert_to_page_seconds_sum)")
            first, delivered = s.receiver.attempts[0][0], s.receiver.pages()[0].answered
            assert took >= delivered - first - 0.5  # from the opening, through the outage, to the delivery

        incident = (await s.incidents.search(limit=1))[0].incident_id
        await until(lambda: _logged(s.worker.log, "page delivered"), timeout=10)
        lines = _json_lines(s.worker.log)
        undelivered = [line for line in lines if line.get("message") == "page not delivered"]
        assert undelivered and all(line["incident"] == incident for line in undelivered)
        assert all(line["workflow_id"] for line in undelivered)
        assert SECRET not in s.worker.log.read_text()


async def _logged(log: Path, message: str) -> bool:
    return any(line.get("message") == message for line in _json_lines(log))


def _json_lines(log: Path) -> list[dict[str, Any]]:
    """The worker's log: every line JSON, but the markers the test's process runner writes between starts."""
    lines = [line for line in log.read_text().splitlines() if line.strip() and not line.startswith("---- start")]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(p, dict) for p in parsed)
    return parsed
