"""The delegation policy: exactly one decision for every action x actor x severity, and layers only tighten."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from incident.config import ConfigError, parse_config
from incident.models import Actor, Severity
from incident.policy import JUDGMENT, KNOWN_ACTIONS, MACHINE_WORK, READ_ONLY, STRICTNESS, Boundaries, Verdict
from tests.helpers.config import BASE_CONFIG

AUTONOMY = st.sampled_from(["full", "approval", "read_only"])
ACTORS = [Actor.human("alice"), Actor.agent("triage"), Actor.system("events")]


@st.composite
def boundaries(draw: st.DrawFn) -> Boundaries:
    custom = draw(st.lists(st.sampled_from(["restart_pods", "scale_up", "flush_cache"]), unique=True))
    actions = [*KNOWN_ACTIONS, *custom]
    buckets: dict[str, list[str]] = {"auto": [], "approval": [], "never": []}
    for action in actions:
        choices = ["approval", "never", None] if action in JUDGMENT else ["auto", "approval", "never", None]
        bucket = draw(st.sampled_from(choices))
        if bucket:
            buckets[bucket].append(action)
    autonomy = {sev: draw(AUTONOMY) for sev in Severity}
    return Boundaries.model_validate({"agent": buckets, "custom_actions": custom, "autonomy": autonomy})


@given(boundaries(), st.sampled_from([*KNOWN_ACTIONS, "restart_pods", "delete_everything"]), st.sampled_from(Severity))
def test_every_request_gets_exactly_one_decision_and_never_is_never_widened(
    b: Boundaries, action: str, severity: Severity
) -> None:
    for actor in ACTORS:
        d = b.decide(action, actor, severity)
        assert d.verdict in Verdict and d.rule
        if action not in b.actions():
            assert d.verdict is Verdict.UNDEFINED
    agent = b.decide(action, Actor.agent("triage"), severity)
    bucket = b.agent.bucket(action) if action in b.actions() else None
    if bucket is not None:
        assert STRICTNESS[agent.verdict] >= STRICTNESS[Verdict(bucket)], "a lower layer widened the agent's rule"
    if bucket == "never":
        assert agent.verdict is Verdict.NEVER
    if action in JUDGMENT:
        assert agent.verdict is not Verdict.AUTO, "an agent made a judgment call alone"
    if b.autonomy[severity] == "read_only" and action not in READ_ONLY and bucket:
        assert agent.verdict is Verdict.NEVER
    if action in b.actions():
        assert b.decide(action, Actor.human("alice"), severity).verdict is Verdict.AUTO


@given(boundaries(), st.sampled_from(ACTORS), st.lists(st.sampled_from(Severity), min_size=1, unique=True))
def test_the_boundary_table_is_every_decision_once_with_approvers_where_one_is_needed(
    b: Boundaries, actor: Actor, severities: list[Severity]
) -> None:
    table = b.table(actor, severities)
    assert [row.action for row in table] == b.actions()
    for row in table:
        assert list(row.by_severity) == severities
        for sev, d in row.by_severity.items():
            assert d == b.decide(row.action, actor, sev)
        asks = any(d.verdict is Verdict.APPROVAL for d in row.by_severity.values())
        assert row.approvers == (b.approvers_for(row.action) if asks else [])
        assert not asks or row.approvers, "an action that needs approval names who gives it"


def test_the_boundary_table_defaults_to_every_severity_from_the_worst() -> None:
    [rollback] = [row for row in Boundaries().table(Actor.agent("triage")) if row.action == "rollback"]
    assert list(rollback.by_severity) == [Severity.SEV0, Severity.SEV1, Severity.SEV2, Severity.SEV3, Severity.SEV4]
    assert rollback.by_severity[Severity.SEV0].verdict is Verdict.NEVER
    assert rollback.by_severity[Severity.SEV3].verdict is Verdict.APPROVAL and rollback.approvers == ["oncall"]


def test_the_default_policy_reads_as_the_principle() -> None:
    b = Boundaries()
    agent = Actor.agent("triage")
    assert b.decide("page", agent, Severity.SEV2).verdict is Verdict.AUTO
    assert b.decide("rollback", agent, Severity.SEV3).verdict is Verdict.APPROVAL
    assert b.decide("page", agent, Severity.SEV1).verdict is Verdict.AUTO  # machine work stays machine work
    sev0 = b.decide("page", agent, Severity.SEV0)
    assert sev0.verdict is Verdict.NEVER and sev0.rule == "boundaries.autonomy.SEV0: read_only"
    assert b.decide("gather_context", agent, Severity.SEV0).verdict is Verdict.AUTO
    assert b.decide("postmortem_conclusions", agent, Severity.SEV4).rule == "boundaries.agent.never"
    for action in MACHINE_WORK:
        assert b.decide(action, Actor.system(), Severity.SEV1).verdict is Verdict.AUTO


def test_custom_actions_and_sev1_approval_for_what_changes_production() -> None:
    b = Boundaries.model_validate(
        {"custom_actions": ["restart_pods"], "agent": {"auto": [*MACHINE_WORK, "restart_pods"]}}
    )
    agent = Actor.agent("ops")
    assert b.decide("restart_pods", agent, Severity.SEV3).verdict is Verdict.AUTO
    sev1 = b.decide("restart_pods", agent, Severity.SEV1)
    assert sev1.verdict is Verdict.APPROVAL and sev1.rule == "boundaries.autonomy.SEV1: approval"
    assert b.decide("scale_up", agent, Severity.SEV3).verdict is Verdict.UNDEFINED


def test_who_may_approve() -> None:
    b = Boundaries.model_validate(
        {
            "roles": {"incident-commander": ["dave"]},
            "approvers": {"rollback": ["oncall", "role:incident-commander"], "default": ["user:erin"]},
        }
    )
    assert b.may_approve("rollback", "alice", oncall=["alice"])
    assert b.may_approve("rollback", "dave", oncall=["alice"])
    assert not b.may_approve("rollback", "bob", oncall=["alice"])
    assert b.may_approve("customer_comms", "erin", oncall=[]) and not b.may_approve("customer_comms", "dave", [])


@pytest.mark.parametrize(
    ("boundaries_yaml", "problem"),
    [
        ("{agent: {auto: [resolve], approval: []}}", "human decision"),
        ("{agent: {auto: [restart_pods]}}", "neither a built-in action nor in custom_actions"),
        ("{approvers: {rollback: [role:ic]}}", "names a role not in boundaries.roles"),
        ("{approvers: {rollback: [user:zed]}}", "unknown person 'zed'"),
        ("{roles: {ic: [zed]}}", "unknown person 'zed'"),
        ("{custom_actions: [rollback]}", "must be a new name"),
    ],
)
def test_bad_boundaries_are_config_errors(boundaries_yaml: str, problem: str) -> None:
    with pytest.raises((ConfigError, ValidationError), match=problem):
        parse_config(BASE_CONFIG.replace("SINK", "http://x") + f"boundaries: {boundaries_yaml}\n")


@pytest.mark.integration
def test_boundaries_show_explains_the_example_policy() -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    baton = str(Path(sys.executable).parent / "baton")
    env = os.environ | {"BATON_CONFIG": str(Path(__file__).parents[2] / "baton.example.yaml"), "COLUMNS": "160"}
    matrix = subprocess.run([baton, "boundaries", "show"], env=env, capture_output=True, text=True, timeout=60)
    assert matrix.returncode == 0 and "SEV0 (read_only" in matrix.stdout and "postmortem_conclusions" in matrix.stdout
    rows = json.loads(
        subprocess.run(
            [baton, "boundaries", "show", "--severity", "SEV2", "--json"], env=env, capture_output=True, timeout=60
        ).stdout
    )
    rollback = next(r for r in rows if r["action"] == "rollback" and r["actor"] == "agent")
    assert rollback == {
        "action": "rollback",
        "severity": "SEV2",
        "actor": "agent",
        "verdict": "approval",
        "rule": "boundaries.agent.approval",
    }
    bad = subprocess.run(
        [baton, "boundaries", "show", "--severity", "SEV9"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
