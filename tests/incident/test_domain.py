"""Pure domain code: durations, ids, the escalation cursor, the policy, schedules and the events normaliser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from incident.config import EscalationPolicy, parse_config
from incident.durations import format_duration, parse_duration
from incident.escalation import EscalationCursor
from incident.ids import incident_id_from_int, normalise_incident_id, workflow_id_for
from incident.models import Actor, Severity
from incident.policy import AgentRules, Boundaries, Verdict
from incident.schedule import Layer, Schedule
from incident.sources.events import Event, event_to_alert

T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5m", timedelta(minutes=5)),
        ("1h30m", timedelta(minutes=90)),
        ("90", timedelta(seconds=90)),
        ("2d", timedelta(days=2)),
    ],
)
def test_durations_read_as_written(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "m5", "-5m"])
def test_bad_durations_name_the_input(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10**8))
def test_durations_round_trip(seconds: int) -> None:
    d = timedelta(seconds=seconds)
    assert parse_duration(format_duration(d)) == d


@given(st.integers(min_value=0, max_value=2**30 - 1))
def test_incident_ids_are_typeable_and_survive_typos(n: int) -> None:
    iid = incident_id_from_int(n)
    assert len(iid) == 10 and iid.startswith("INC-")
    assert normalise_incident_id(iid.lower()) == iid
    assert normalise_incident_id(iid[4:]) == iid
    assert normalise_incident_id(iid.replace("0", "O").replace("1", "I")) == iid


def test_not_incident_ids() -> None:
    for text in ("INC-", "INC-UUUUUU", "hello", "INC-7K2Q9M9"):
        assert normalise_incident_id(text) is None


def test_workflow_ids_are_readable_or_hashed() -> None:
    assert workflow_id_for("events:checkout", "db-down") == "incident:events:checkout:db-down"
    odd = workflow_id_for("events:checkout", "a key with spaces " * 20)
    assert odd.startswith("incident:events:checkout:sha256-") and len(odd) < 120


POLICY = EscalationPolicy.model_validate(
    {"levels": [{"notify": ["user:a"], "after": "5m"}, {"notify": ["user:b"], "after": "10m"}], "repeat": 1}
)


def test_the_cursor_walks_levels_then_repeats_then_exhausts() -> None:
    c = EscalationCursor.start(T0)
    seen = []
    while not c.pending_exhaustion(POLICY):
        assert c.next_at is not None
        assert c.due(c.next_at)
        seen.append((c.cycle, c.level, c.next_at - T0))
        c = c.advance(POLICY, c.next_at, skipped=False)
    assert seen == [
        (0, 0, timedelta(0)),
        (0, 1, timedelta(minutes=5)),
        (1, 0, timedelta(minutes=15)),
        (1, 1, timedelta(minutes=20)),
    ]
    assert c.next_at is not None and c.next_at - T0 == timedelta(minutes=30)
    assert c.exhaust().exhausted and not c.exhaust().active


def test_a_skipped_level_costs_no_wait() -> None:
    c = EscalationCursor.start(T0).advance(POLICY, T0, skipped=True)
    assert c.level == 1 and c.next_at == T0


def test_humans_decide_agents_follow_the_rules_system_does_machine_work() -> None:
    b = Boundaries()
    assert b.decide("resolve", Actor.human("alice"), Severity.SEV1).verdict is Verdict.AUTO
    assert b.decide("resolve", Actor.agent("triage"), Severity.SEV3).verdict is Verdict.APPROVAL
    assert b.decide("postmortem_conclusions", Actor.agent("t"), Severity.SEV3).verdict is Verdict.NEVER
    assert b.decide("note", Actor.agent("t"), Severity.SEV3).verdict is Verdict.AUTO
    assert b.decide("delete_database", Actor.agent("t"), Severity.SEV3).verdict is Verdict.UNDEFINED
    assert b.decide("page", Actor.system(), Severity.SEV3).verdict is Verdict.AUTO
    assert b.decide("resolve", Actor.system(), Severity.SEV3).verdict is Verdict.NEVER


def test_a_config_cannot_let_an_agent_make_judgment_calls_alone() -> None:
    with pytest.raises(ValidationError, match="human decision"):
        AgentRules(auto=["note", "resolve"], approval=[], never=[])
    with pytest.raises(ValidationError, match="both"):
        AgentRules(auto=["note"], approval=["note"], never=[])


def test_an_agent_can_never_be_named_as_a_human_without_a_valid_name() -> None:
    with pytest.raises(ValidationError):
        Actor.parse("human:")
    assert str(Actor.parse("agent:triage")) == "agent:triage"


def test_weekly_handoff_stays_at_nine_local_across_dst() -> None:
    ny = ZoneInfo("America/New_York")
    layer = Layer(members=["alice", "bob"], rotation="weekly", handoff="mon 09:00", start="2026-10-26")
    # 2026-11-01: US clocks fall back. Monday 2026-11-02 09:00 EST is 14:00 UTC (it was 13:00 UTC in October).
    before = datetime(2026, 11, 2, 13, 59, tzinfo=UTC)
    after = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    assert layer.on_call(before, ny) != layer.on_call(after, ny)
    assert layer.on_call(datetime(2026, 10, 26, 13, 0, tzinfo=UTC), ny) == "alice"
    assert layer.on_call(after, ny) == "bob"


def test_schedule_uses_the_last_layer() -> None:
    s = Schedule(
        timezone="Europe/Berlin",
        layers=[
            {"members": ["a"], "rotation": "daily", "handoff": "09:00"},
            {"members": ["b", "c"], "rotation": "daily", "handoff": "09:00", "start": "2026-11-26"},
        ],
    )
    assert s.on_call(datetime(2026, 11, 26, 8, 0, tzinfo=UTC)) == "b"
    assert s.on_call(datetime(2026, 11, 27, 8, 0, tzinfo=UTC)) == "c"
    assert s.on_call(datetime(2026, 11, 26, 7, 59, tzinfo=UTC)) == "c"  # 08:59 Berlin: yesterday's shift


def test_a_pagerduty_event_keeps_everything_the_source_sent() -> None:
    raw = {
        "routing_key": "checkout",
        "event_action": "trigger",
        "dedup_key": "db-1",
        "payload": {
            "summary": "db down",
            "source": "db-1.prod",
            "severity": "error",
            "component": "postgres",
            "group": "prod",
            "class": "availability",
            "custom_details": {"connections": 0},
        },
        "links": [{"href": "https://grafana/d/1", "text": "dashboard"}],
        "images": [{"src": "https://img/1.png", "alt": "graph"}],
        "client": "Prometheus",
        "client_url": "https://prom/graph",
    }
    config = parse_config((Path(__file__).parents[2] / "baton.example.yaml").read_text())
    a = event_to_alert(Event.model_validate(raw), config, T0)
    assert a.service == "checkout" and a.scope == "events:checkout" and a.dedup_key == "db-1"
    assert a.severity is Severity.SEV2 and a.origin == "db-1.prod" and a.alert_class == "availability"
    assert a.component == "postgres" and a.group == "prod" and a.details == {"connections": 0}
    assert [lk.href for lk in a.links] == ["https://grafana/d/1", "https://prom/graph", "https://img/1.png"]


def test_the_example_config_loads_and_routes_unknown_keys_to_the_default() -> None:
    config = parse_config((Path(__file__).parents[2] / "baton.example.yaml").read_text())
    assert len(config.services) == 3
    assert config.route({"service": "checkout"}).service == "checkout"
    assert config.route({"service": "no-such-service"}).service == "api-gateway"
