"""Normalisers over real payload samples, and routing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from incident.config import parse_config
from incident.models import AlertAction, Severity
from incident.sources.alertmanager import AmWebhook, webhook_to_alerts
from incident.sources.datadog import DatadogEvent, event_to_alert

FIXTURES = Path(__file__).parents[1] / "fixtures"
NOW = datetime(2026, 11, 26, 13, 9, tzinfo=UTC)
EXAMPLE = parse_config((Path(__file__).parents[2] / "baton.example.yaml").read_text())


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_alertmanager_firing_from_the_real_alertmanager() -> None:
    hook = AmWebhook.model_validate(load("alertmanager_firing.json"))
    [a] = webhook_to_alerts(hook, EXAMPLE, NOW, "alertmanager")
    assert a.action is AlertAction.TRIGGER
    assert a.dedup_key == hook.groupKey and a.alert_key == "0a47fcbccd65e9f9"
    assert a.summary == "LatencyProbe on lat-gw0s-0000"
    assert a.severity is Severity.SEV1  # severity=critical
    assert a.service == "api-gateway"  # service label names no known service: the default
    assert a.labels["alertname"] == "LatencyProbe"
    assert a.occurred_at == datetime(2026, 11, 26, 13, 8, 39, 883000, tzinfo=UTC)
    assert [lk.text for lk in a.links] == ["source", "alertmanager"]
    assert "endsAt" not in a.details  # 0001-01-01 means still firing


def test_alertmanager_resolved_is_a_recovery() -> None:
    hook = AmWebhook.model_validate(load("alertmanager_resolved.json"))
    [a] = webhook_to_alerts(hook, EXAMPLE, NOW, "am")
    assert a.action is AlertAction.RESOLVE and a.dedup_key == hook.groupKey
    assert a.details["endsAt"].startswith("2026-11-26")
    assert a.occurred_at == datetime(2026, 11, 26, 13, 12, 10, 154000, tzinfo=UTC)
    nanos = hook.alerts[0].model_copy(update={"startsAt": "2026-11-26T13:12:10.154123456Z"})
    [n] = webhook_to_alerts(hook.model_copy(update={"alerts": [nanos]}), EXAMPLE, NOW, "am")
    assert n.occurred_at == datetime(2026, 11, 26, 13, 12, 10, 154123, tzinfo=UTC)
    as_firing = hook.model_copy(update={"alerts": [hook.alerts[0].model_copy(update={"status": "firing"})]})
    [f] = webhook_to_alerts(as_firing, EXAMPLE, NOW, "am")
    assert (f.dedup_key, f.alert_key) == (a.dedup_key, a.alert_key) and f.event_id != a.event_id


def test_a_repeated_notification_has_the_same_delivery_ids() -> None:
    hook = AmWebhook.model_validate(load("alertmanager_firing.json"))
    first = webhook_to_alerts(hook, EXAMPLE, NOW, "am")
    again = webhook_to_alerts(hook, EXAMPLE, NOW, "am")
    assert [a.event_id for a in first] == [a.event_id for a in again]


def test_grafana_keeps_its_links_values_and_org() -> None:
    hook = AmWebhook.model_validate(load("grafana_firing.json"))
    alerts = webhook_to_alerts(hook, EXAMPLE, NOW, "grafana")
    assert len(alerts) == 2 and {a.dedup_key for a in alerts} == {hook.groupKey}
    a = alerts[0]
    assert a.scope == "grafana:1" and a.service == "checkout" and a.severity is Severity.SEV1
    assert {lk.text for lk in a.links} >= {"source", "dashboard", "panel", "silence", "runbook", "grafana"}
    assert a.details["values"] == {"A": 2.41, "C": 1}
    assert alerts[1].labels["region"] == "eu-west-1"


def test_per_alert_incidents_when_a_rule_says_so() -> None:
    config = parse_config(
        (Path(__file__).parents[2] / "baton.example.yaml")
        .read_text()
        .replace(
            "routing:\n",
            "routing:\n  rules:\n"
            "    - {match: {alertname: CheckoutLatencyHigh}, service: checkout, incident_per: alert}\n",
        )
    )
    alerts = webhook_to_alerts(AmWebhook.model_validate(load("grafana_firing.json")), config, NOW, "grafana")
    assert [a.dedup_key for a in alerts] == ["5a1c3e9f0b2d4e61", "77e0c2aa91f3b508"]


def test_datadog_triggered_and_recovered() -> None:
    raw = load("datadog_triggered.json")
    a = event_to_alert(DatadogEvent.model_validate(raw), EXAMPLE, raw, NOW)
    assert a.action is AlertAction.TRIGGER and a.dedup_key == "7532109976453101236"
    assert a.service == "payments-api" and a.severity is Severity.SEV2  # P2
    assert a.labels["env"] == "prod" and a.labels["team"] == "payments" and a.labels["monitor"] == "true"
    assert a.event_id == "7532110183645218001"
    assert a.occurred_at == datetime.fromtimestamp(1795700431, UTC)
    raw = load("datadog_recovered.json")
    r = event_to_alert(DatadogEvent.model_validate(raw), EXAMPLE, raw, NOW)
    assert r.action is AlertAction.RESOLVE and r.dedup_key == a.dedup_key and r.event_id != a.event_id


def test_datadog_test_notification_with_unexpanded_variables_is_refused() -> None:
    raw = load("datadog_triggered.json") | {"alert_cycle_key": "$ALERT_CYCLE_KEY"}
    with pytest.raises(ValidationError, match="unexpanded template variable"):
        DatadogEvent.model_validate(raw)


def test_routing_rules_first_match_wins_regex_and_severity() -> None:
    config = parse_config(
        (Path(__file__).parents[2] / "baton.example.yaml")
        .read_text()
        .replace(
            "routing:\n",
            "routing:\n"
            "  rules:\n"
            "    - {match: {alertname: '~Checkout.*', env: prod}, service: checkout, severity: SEV0}\n"
            "    - {match: {team: payments}, service: payments-api}\n",
        )
    )
    assert config.route({"alertname": "CheckoutDown", "env": "prod"}).service == "checkout"
    assert config.route({"alertname": "CheckoutDown", "env": "prod"}).severity is Severity.SEV0
    assert config.route({"alertname": "CheckoutDown", "env": "dev", "team": "payments"}).service == "payments-api"
    assert config.route({"alertname": "Other", "severity": "warning"}).severity is Severity.SEV3
    assert config.route({}).service == "api-gateway"


def test_a_severity_map_adds_to_the_defaults_case_insensitively() -> None:
    text = (Path(__file__).parents[2] / "baton.example.yaml").read_text()
    config = parse_config(text.replace("routing:\n", "routing:\n  severity_map: {Disaster: SEV0}\n"))
    assert config.route({"severity": "disaster"}).severity is Severity.SEV0
    assert config.route({"severity": "CRITICAL"}).severity is Severity.SEV1


def test_a_rule_naming_an_unknown_service_is_a_config_error() -> None:
    from incident.config import ConfigError

    text = (Path(__file__).parents[2] / "baton.example.yaml").read_text()
    with pytest.raises(ConfigError, match=r"routing.rules\[0\].service: unknown service 'chekout'"):
        parse_config(text.replace("routing:\n", "routing:\n  rules:\n    - {match: {a: b}, service: chekout}\n"))
