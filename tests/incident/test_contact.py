"""Contact rules as the config reads them and as the lookup plans them: urgency from severity, delays, working
hours in the person's zone (weekends, the clock change), and the problems `config check` reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident.config import ConfigError, parse_config
from incident.contact import WorkingHours
from incident.models import Severity

BASE = """
people:
  alice:
    email: alice@example.com
    slack: U1
    phone: "+4917612345678"
    timezone: Europe/Berlin
    contact:
      high: [{method: slack, after: 0s}, {method: sms, after: 2m}, {method: voice, after: 5m}]
      low:  [{method: email, after: 0s, working_hours: true}]
  bob: {webhook: "https://hooks.example/bob"}
escalation_policies:
  one: {levels: [{notify: [user:alice], after: 5m}]}
services:
  checkout: {escalation: one}
urgency: {SEV2: low}
integrations:
  slack: {bot_token: xoxb-x}
  smtp: {host: smtp.example, sender: baton@example.com}
  twilio: {account_sid: AC1, auth_token: env:TWILIO_AUTH_TOKEN, from: "+15005550006"}
"""


def test_steps_are_planned_from_the_page_by_urgency() -> None:
    cfg = parse_config(BASE)
    at = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday, 11:00 in Berlin
    steps = cfg.contact_steps("alice", Severity.SEV1, at)
    assert [(s.method, s.at - at) for s in steps] == [
        ("slack", timedelta(0)),
        ("sms", timedelta(minutes=2)),
        ("voice", timedelta(minutes=5)),
    ]
    low = cfg.contact_steps("alice", Severity.SEV2, at)  # SEV2 is low here; SEV3 keeps its default, low
    assert [(s.method, s.at) for s in low] == [("email", at)]
    assert cfg.contact_steps("bob", Severity.SEV0, at) == [], "no rule: paged through notify"


def test_a_working_hours_step_waits_for_the_next_start() -> None:
    cfg = parse_config(BASE)
    friday_night = datetime(2026, 3, 6, 22, 0, tzinfo=UTC)  # 23:00 in Berlin
    [step] = cfg.contact_steps("alice", Severity.SEV3, friday_night)
    assert step.at == datetime(2026, 3, 9, 8, 0, tzinfo=UTC), "Monday 09:00 in Berlin"


def test_working_hours_follow_the_clock_change() -> None:
    hours = WorkingHours()
    sunday = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # Berlin moved to summer time that night
    assert hours.next_start(sunday, "Europe/Berlin") == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            ('  twilio: {account_sid: AC1, auth_token: env:TWILIO_AUTH_TOKEN, from: "+15005550006"}\n', ""),
            "sms needs integrations.twilio",
        ),
        (("high: [{method: slack", "high: [{method: webhook"), "uses 'webhook' but no webhook is set"),
        (("{method: email, after: 0s", "{method: fax, after: 0s"), "contact.low[0].method: Input should be"),
    ],
)
def test_config_check_reports_rules_that_cannot_work(change: tuple[str, str], problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE.replace(*change))
    assert problem in str(err.value)


def test_working_hours_must_end_after_they_start() -> None:
    with pytest.raises(ConfigError, match="end after they start"):
        parse_config(
            BASE.replace(
                "timezone: Europe/Berlin", 'timezone: Europe/Berlin\n    working_hours: {start: "18:00", end: "09:00"}'
            )
        )
