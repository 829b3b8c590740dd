"""Maintenance windows, pure: which alerts a matcher takes, what a window keeps (bounded), and the boundary rule for
agents (`maintenance`, default approval), with older configs and saved policies still loading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incident.maintenance import (
    MAX_FIRING,
    MAX_SUPPRESSED,
    Matcher,
    Spec,
    Window,
    check_times,
    parse_matcher,
)
from incident.models import Actor, AlertAction, Severity
from incident.policy import AgentRules, Boundaries, Verdict
from incident.state import IncidentPolicy
from tests.helpers.config import alert, make_config

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_a_matcher_takes_its_service_and_labels() -> None:
    a = alert("k").model_copy(update={"labels": {"env": "prod", "team": "db"}})
    assert parse_matcher("checkout").matches(a)
    assert parse_matcher("checkout env=prod").matches(a) and parse_matcher("team=db,env=prod").matches(a)
    assert not parse_matcher("billing").matches(a) and not parse_matcher("env=staging").matches(a)
    assert parse_matcher("checkout").whole_service and not parse_matcher("checkout env=prod").whole_service
    for bad in ("", "a b", "9x=1", "x="):
        with pytest.raises(ValueError):
            parse_matcher(bad)


def test_times_are_bounded() -> None:
    assert check_times(timedelta(hours=2), timedelta(0)) is None
    assert check_times(timedelta(0), timedelta(0)) is not None
    assert check_times(timedelta(days=8), timedelta(0)) is not None
    assert check_times(timedelta(hours=1), timedelta(days=31)) is not None


def test_a_window_keeps_a_bounded_list_and_what_still_fires() -> None:
    w = Window(
        spec=Spec(
            id="MW-000001", matcher=Matcher(service="checkout"), duration=timedelta(hours=1), opened_by="human:alice"
        )
    )
    for i in range(MAX_FIRING + 50):
        w.take(f"incident:k{i}", alert(f"k{i}"), NOW)
    assert w.suppressed_total == MAX_FIRING + 50 and len(w.suppressed) == MAX_SUPPRESSED
    assert w.firing_keys == MAX_FIRING and w.firing_dropped == 50
    w.take("incident:k0", alert("k0", action=AlertAction.RESOLVE), NOW)
    assert "incident:k0" not in w.firing and w.firing_keys == MAX_FIRING - 1
    w.take("incident:k1", alert("k1"), NOW)  # fires again: still one key
    assert len(w.firing["incident:k1"]) == 1


def test_agents_need_approval_for_a_window_by_default_and_people_open_one() -> None:
    b = Boundaries()
    assert "maintenance" in AgentRules().approval
    assert b.decide("maintenance", Actor.agent("triage"), Severity.SEV3).verdict is Verdict.APPROVAL
    assert b.decide("maintenance", Actor.human("alice"), Severity.SEV3).verdict is Verdict.AUTO
    assert b.decide("maintenance", Actor.system(), Severity.SEV3).verdict is Verdict.NEVER


def test_older_configs_and_saved_policies_still_load() -> None:
    """A config that listed `approval` without it (the action is then undefined for agents: refused), or that named
    `maintenance` as a custom action before it was built in, loads; so does a saved policy of either."""
    explicit = make_config(extra="boundaries: {agent: {approval: [rollback]}}\n")
    assert explicit.boundaries.decide("maintenance", Actor.agent("a"), Severity.SEV3).verdict is Verdict.UNDEFINED
    custom = make_config(extra="boundaries: {custom_actions: [maintenance], agent: {approval: [maintenance]}}\n")
    assert custom.boundaries.actions().count("maintenance") == 1
    for config in (explicit, custom):
        policy = IncidentPolicy.snapshot(config, "checkout")
        assert IncidentPolicy.model_validate_json(policy.model_dump_json()) == policy
