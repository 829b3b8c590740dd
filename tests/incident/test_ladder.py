"""Earned autonomy, in pure code: a ladder climbs exactly when its count is reached, a listed outcome sends it back
to the start, the level in force is what the snapshot fixed, and a config that loosens without evidence is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from incident.config import ConfigError, parse_config
from incident.ladder import Ladder, Rung, needs
from incident.models import Actor, Severity
from incident.policy import Boundaries, Verdict
from incident.record import AgentIncident, AgentStats, Counts, Tally
from tests.helpers.config import BASE_CONFIG

SEED = {
    "SEV3": "full",
    "SEV2": {"start": "approval", "full_after": {"clean": 20, "at": "SEV3"}},
    "SEV1": {"start": "read_only", "approval_after": {"clean": 20, "at": "SEV2"}},
    "SEV0": {"start": "read_only", "approval_after": {"clean": 30, "at": "SEV1"}},
}
BOUNDS = Boundaries.model_validate(
    {
        "autonomy": SEED,
        "custom_actions": ["restart_pods"],
        "agent": {
            "auto": ["acknowledge", "lookup_oncall", "gather_context", "page", "note", "escalate", "restart_pods"],
        },
    }
)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TRIAGE = Actor.agent("triage")


def incident(n: int, severity: str = "SEV3", outcome: str = "alone", resolved: bool = True) -> AgentIncident:
    counts = Counts()
    counts.add(outcome)
    rows = [Tally(actor="agent:triage", severity=severity, action="restart_pods", counts=counts)]
    return AgentIncident(
        agent="triage",
        incident_id=f"INC-{n:06d}",
        severity=severity,
        resolved=resolved,
        completed_at=NOW,
        rows=rows,
        ladders=BOUNDS.ladders(),
    )


def test_promoted_exactly_at_the_twentieth_clean_incident_and_demoted_by_a_denial() -> None:
    stats = AgentStats()
    for n in range(19):
        assert stats.climb(incident(n), "triage") == []
    assert stats.levels()[Severity.SEV2] == "approval"
    assert (
        needs(BOUNDS.ladders()[Severity.SEV2], stats.ladder[Severity.SEV2]) == "19 of 20 clean SEV3 incidents to full"
    )
    [change] = stats.climb(incident(19), "triage")
    assert (change.severity, change.from_level, change.to_level) == (Severity.SEV2, "approval", "full")
    assert change.text() == (
        "agent:triage promoted at SEV2: approval -> full (20 clean SEV3 incidents, the last INC-000019)"
    )
    assert stats.levels()[Severity.SEV2] == "full"
    assert needs(BOUNDS.ladders()[Severity.SEV2], stats.ladder[Severity.SEV2]) == "at the top of its ladder"

    [demoted] = stats.climb(incident(20, severity="SEV2", outcome="denied"), "triage")
    assert (demoted.from_level, demoted.to_level, demoted.why) == ("full", "approval", "denied in INC-000020")
    assert stats.levels()[Severity.SEV2] == "approval" and stats.ladder[Severity.SEV2].clean == 0
    assert [c.to_level for c in stats.changes] == ["full", "approval"], "every move is on the record"


def test_a_listed_outcome_at_the_start_restarts_the_count_and_others_do_not_count() -> None:
    stats = AgentStats()
    for n in range(5):
        stats.climb(incident(n), "triage")
    stats.climb(incident(5, outcome="never"), "triage")  # refused: the count begins again, nothing to demote
    assert stats.ladder[Severity.SEV2].clean == 0 and stats.changes == []
    stats.climb(incident(6, resolved=False), "triage")  # not clean: not counted
    stats.climb(incident(7, severity="SEV1"), "triage")  # clean, but not at SEV3: not counted toward SEV2
    assert stats.ladder[Severity.SEV2].clean == 0
    assert stats.ladder[Severity.SEV1].clean == 0 and stats.ladder[Severity.SEV0].clean == 1


def test_the_level_in_force_is_the_snapshots_and_the_start_when_unread() -> None:
    assert BOUNDS.decide("restart_pods", TRIAGE, Severity.SEV2).verdict is Verdict.APPROVAL
    rule = BOUNDS.decide("restart_pods", TRIAGE, Severity.SEV2).rule
    assert rule == "boundaries.autonomy.SEV2: approval (its ladder's level)"
    earned = BOUNDS.with_earned({"triage": {Severity.SEV2: "full"}})
    assert earned.decide("restart_pods", TRIAGE, Severity.SEV2).verdict is Verdict.AUTO
    assert earned.decide("restart_pods", Actor.agent("other"), Severity.SEV2).verdict is Verdict.APPROVAL
    assert earned.decide("restart_pods", TRIAGE, Severity.SEV1).verdict is Verdict.NEVER, "SEV1 starts read_only"
    stale = BOUNDS.with_earned({"triage": {Severity.SEV1: "full"}})  # a level the ladder no longer has
    assert stale.level(Severity.SEV1, "triage") == "read_only"
    assert BOUNDS.level(Severity.SEV3, "triage") == "full", "a constant stays a constant"


def test_a_rung_of_a_changed_ladder_starts_again() -> None:
    ladder = Ladder.model_validate({"start": "approval", "full_after": {"clean": 3, "at": "SEV3"}})
    assert needs(ladder, Rung(level="read_only", clean=2)) == "0 of 3 clean SEV3 incidents to full"
    assert needs(ladder, None) == "0 of 3 clean SEV3 incidents to full"


@pytest.mark.parametrize(
    ("autonomy", "problem"),
    [
        ("{SEV2: {start: full, full_after: {clean: 5, at: SEV3}}}", "nothing to earn"),
        ("{SEV2: {start: approval}}", "needs approval_after or full_after"),
        ("{SEV2: {start: approval, approval_after: {clean: 5, at: SEV3}}}", "climbs from read_only only"),
        ("{SEV2: {start: approval, full_after: {clean: 0, at: SEV3}}}", "greater than or equal to 1"),
        ("{SEV2: {start: approval, full_after: {clean: 5000, at: SEV3}}}", "less than or equal to 1000"),
        ("{SEV2: {start: approval, full_after: {clean: 5, at: SEV9}}}", "SEV2.full_after.at: Input should be 'SEV0'"),
        (
            "{SEV2: {start: approval, full_after: {clean: 5, at: SEV3}, demote_on: [paged]}}",
            "demote_on.0.: Input should be 'denied'",
        ),
    ],
)
def test_a_ladder_that_loosens_without_evidence_is_a_config_error(autonomy: str, problem: str) -> None:
    with pytest.raises((ConfigError, ValidationError), match=problem):
        parse_config(BASE_CONFIG.replace("SINK", "http://x") + f"boundaries: {{autonomy: {autonomy}}}\n")


@pytest.mark.parametrize(
    ("boundaries_yaml", "problem"),
    [
        ("{owners: [user:zed]}", "unknown person 'zed'"),
        ("{owners: [zed]}", "is not `user:NAME` or `schedule:NAME`"),
        ("{earned: {triage: {SEV2: full}}}", "set by baton in each incident's snapshot"),
    ],
)
def test_owners_name_people_and_earned_levels_are_not_written(boundaries_yaml: str, problem: str) -> None:
    with pytest.raises((ConfigError, ValidationError), match=problem):
        parse_config(BASE_CONFIG.replace("SINK", "http://x") + f"boundaries: {boundaries_yaml}\n")


def test_a_drill_names_configured_agents_and_levels_their_ladders_have() -> None:
    from incident.scenario import parse_scenario

    config = parse_config(
        BASE_CONFIG.replace("SINK", "http://x")
        + "agents: {triage: {token: triage-token-0123456789abcdef}}\n"
        + "boundaries: {autonomy: {SEV2: {start: approval, full_after: {clean: 20, at: SEV3}}}}\n"
    )
    text = """
name: ladder
earned: {triage: {SEV2: {level: read_only}, SEV3: full}, zed: {SEV2: approval}}
alerts: [{at: 0s, summary: x}]
expect: [{at: 1m, autonomy: {agent: nobody, severity: SEV2, level: full}}]
"""
    problems = [f"{p.path}: {p.message}" for p in parse_scenario(text).problems_with(config)]
    assert problems == [
        "earned.triage.SEV2: not a level of its ladder (approval, full)",
        "earned.triage.SEV3: boundaries.autonomy.SEV3 is not a ladder",
        "earned.zed: unknown agent 'zed' in the config (known: triage)",
        "expect[0].autonomy.agent: unknown agent 'nobody' in the config (known: triage)",
    ]
