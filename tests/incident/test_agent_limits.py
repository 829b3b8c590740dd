"""An agent's budget windows and the names that read like an action but are not it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incident.budget import Usage, take
from incident.models import Actor, Severity
from incident.policy import JUDGMENT, KNOWN_ACTIONS, Boundaries, resembles

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_a_budget_counts_up_to_its_limit_per_window_and_refills() -> None:
    usage: list[Usage] = []
    answers = [take(usage, "agent:triage", "notes", 3, HOUR, T0 + timedelta(minutes=i))[0] for i in range(5)]
    assert answers == [True, True, True, False, False]
    assert usage[0].count == 3 and usage[0].refused == 2
    assert take(usage, "agent:triage", "notes", 3, HOUR, T0 + HOUR)[0], "a new window starts with the next use"
    assert take(usage, "agent:other", "notes", 3, HOUR, T0)[0], "each agent has its own"


def test_look_alikes_of_an_action_are_recognised_but_never_taken_for_it() -> None:
    for name in (
        "Rollback",
        " rollback",
        "rollback\t",
        "r\u043ellback",
        "roll\u200bback",
        "ROLL-BACK",
        "r\u03bfllback",
    ):
        assert resembles(name, KNOWN_ACTIONS) == "rollback", repr(name)
    assert resembles("rollback", KNOWN_ACTIONS) is None
    assert resembles("scale_down_database", KNOWN_ACTIONS) is None
    assert set(JUDGMENT) <= set(KNOWN_ACTIONS)


def test_opening_an_incident_is_decided_as_paging_at_its_severity() -> None:
    b = Boundaries()
    agent = Actor.agent("triage")
    assert b.decide_open(agent, Severity.SEV3).allowed
    refused = b.decide_open(agent, Severity.SEV0)
    assert not refused.allowed and "boundaries.autonomy.SEV0: read_only" in refused.rule
    assert "opening an incident pages on-call" in refused.rule
