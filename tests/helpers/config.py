"""The test config and alerts built from it."""

from __future__ import annotations

from datetime import UTC, datetime

from incident.config import Config, parse_config
from incident.models import Alert, AlertAction, Severity

BASE_CONFIG = """
people:
  alice: {name: Alice, token: alice-token-0123456789, webhook: "SINK/alice", notify: [webhook, log]}
  bob:   {name: Bob, token: bob-token-0123456789, webhook: "SINK/bob", notify: [webhook, log]}
  dave:  {name: Dave, token: dave-token-0123456789, webhook: "SINK/dave", notify: [webhook, log]}
schedules:
  primary:
    layers: [{members: [alice, bob], rotation: weekly, handoff: "mon 09:00"}]
escalation_policies:
  two-levels:
    levels:
      - {notify: [user:alice], after: 5m}
      - {notify: [user:dave], after: 10m}
    repeat: 1
    ack_timeout: 30m
services:
  checkout: {escalation: two-levels, customer_facing: true, runbook: "https://runbooks.example/checkout"}
routing: {default_service: checkout}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
"""

TOKEN = "test-token-0123456789"
PEOPLE_TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789", "dave": "dave-token-0123456789"}
"""Each person's own token for the gateway's API, as BASE_CONFIG writes them (inline: tests only)."""


def make_config(sink_url: str = "http://127.0.0.1:9", extra: str = "", base: str = BASE_CONFIG) -> Config:
    return parse_config(base.replace("SINK", sink_url) + extra)


def alert(
    key: str = "checkout-5xx",
    summary: str = "checkout 5xx above 5%",
    action: AlertAction = AlertAction.TRIGGER,
    service: str = "checkout",
    alert_key: str = "",
) -> Alert:
    return Alert(
        source="events",
        dedup_key=key,
        alert_key=alert_key,
        action=action,
        summary=summary,
        service=service,
        severity=Severity.SEV2,
        received_at=datetime.now(UTC),
    )
