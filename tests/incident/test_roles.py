"""Who leads, as pure functions: what a role change must name, what taking and handing over write, when nobody
leading pages the incident commanders, the drill checks for it, and the config check that warns of no commander."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from incident import roles
from incident.judge import Seen, check
from incident.models import Actor, Severity
from incident.scenario import Expectation, Step, parse_scenario
from incident.state import IncidentPolicy, IncidentState
from incident.timeline import Kind
from tests.helpers.config import make_config

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
ALICE = Actor.human("alice")
ROLES = """
coordination: {roles: [comms, scribe], lead_within: {SEV1: 10m}}
boundaries: {roles: {incident-commander: [bob]}}
"""


def policy(extra: str = ROLES) -> IncidentPolicy:
    return IncidentPolicy.snapshot(make_config(extra=extra), "checkout")


def incident(severity: Severity = Severity.SEV1) -> IncidentState:
    return IncidentState(
        incident_id="INC-7K2Q9M", workflow_id="w", title="t", service="checkout", severity=severity, opened_at=NOW
    )


def test_a_change_must_name_a_role_the_incident_has_and_a_configured_person() -> None:
    st, pol = incident(), policy()
    assert roles.known_roles(pol) == ["lead", "comms", "scribe"]
    assert roles.problem(st, pol, "lead", "dave") is None
    assert roles.problem(st, pol, "commander", None) == "unknown role 'commander' (known: comms, lead, scribe)"
    assert roles.problem(st, pol, "comms", "zed") == "unknown person 'zed' in the config (known: alice, bob, dave)"
    old = pol.model_copy(update={"coordination": None})
    assert "opened before `coordination`" in (roles.problem(st, old, "lead", None) or "")
    assert "`baton reload INC-7K2Q9M`" in (roles.problem(st, old, "lead", None) or "")


def test_taking_and_handing_over_write_who_from_whom() -> None:
    st = incident()
    took = roles.assign(st, ALICE, "lead", "alice", NOW, first_ack=True)
    assert st.lead == "alice" and took.message == "alice leads INC-7K2Q9M" and took.wake
    assert [(e.kind, e.text, e.data) for e in took.entries] == [
        (Kind.ROLE, "alice takes lead: the first to acknowledge", {"role": "lead", "person": "alice", "from": None})
    ]
    handed = roles.assign(st, Actor.human("bob"), "lead", "dave", NOW)
    assert handed.entries[0].text == "bob hands lead to dave (was alice)"
    assert handed.entries[0].data == {"role": "lead", "person": "dave", "from": "alice"}
    same = roles.assign(st, ALICE, "lead", "dave", NOW)
    assert same.entries == [] and same.message == "dave already leads" and not same.wake
    comms = roles.assign(st, ALICE, "comms", "bob", NOW)
    assert comms.message == "bob holds comms on INC-7K2Q9M" and st.roles == {"lead": "dave", "comms": "bob"}


def test_the_lead_deadline_is_lead_within_after_opening_until_someone_leads_or_commanders_are_paged() -> None:
    pol = policy()
    st = incident()
    assert roles.lead_deadline(st, pol) == (NOW + timedelta(minutes=10), timedelta(minutes=10))
    assert roles.lead_deadline(incident(Severity.SEV2), pol) is None, "no lead_within at SEV2"
    assert roles.lead_deadline(st, pol.model_copy(update={"coordination": None})) is None
    st.commanders_paged = True
    assert roles.lead_deadline(st, pol) is None
    st.commanders_paged, st.roles = False, {"lead": "alice"}
    assert roles.lead_deadline(st, pol) is None


def test_config_check_warns_when_lead_within_has_nobody_to_page() -> None:
    assert not make_config(extra=ROLES).commanders_missing()
    bare = make_config(extra="coordination:\n  lead_within: {SEV0: 5m}\n")
    [(where, why)] = bare.commanders_missing()
    assert where == ("coordination", "lead_within") and "no incident-commander people" in why
    assert (where, why) in bare.warnings()
    per_service = make_config(
        extra="services:\n  checkout:\n    escalation: two-levels\n    coordination: {lead_within: {SEV1: 10m}}\n"
    )
    assert [w for w, _ in per_service.commanders_missing()] == [("services", "checkout", "coordination", "lead_within")]


def test_drill_steps_and_checks_for_roles() -> None:
    step = Step.model_validate({"at": "1m", "actor": "human:alice", "do": "lead", "person": "dave"})
    assert step.describe() == "human:alice hands lead to dave"
    proposal = {"at": "1m", "actor": "agent:triage", "do": "role", "role": "comms", "person": "bob", "propose": True}
    assert Step.model_validate(proposal).describe() == "agent:triage proposes bob as comms"
    with pytest.raises(ValidationError, match="needs `role:`"):
        Step.model_validate({"at": "1m", "actor": "human:alice", "do": "role"})
    with pytest.raises(ValidationError, match="a `person` to propose"):
        Step.model_validate({"at": "1m", "actor": "agent:triage", "do": "lead", "propose": True})

    st = incident()
    seen = Seen(state=st, origin=NOW)
    nobody = check(Expectation.model_validate({"at": "10m", "lead": "nobody"}), seen)
    assert nobody.passed and nobody.expect == "nobody leads"
    st.timeline.extend(roles.assign(st, ALICE, "lead", "alice", NOW + timedelta(minutes=2)).entries)
    taken = check(Expectation.model_validate({"at": "10m", "lead": "dave"}), seen)
    assert not taken.passed
    got = "alice leads (2m human:alice: alice takes lead)"
    assert taken.sentence() == f"at 10m: expected lead taken by dave; got: {got}"
    paged = check(Expectation.model_validate({"at": "10m", "commanders_paged": True}), seen)
    assert not paged.passed and paged.got == "not paged (alice leads)"

    scenario = parse_scenario(
        "name: x\nalerts: [{at: 0s, summary: s, service: checkout}]\n"
        "steps: [{at: 1m, actor: 'human:alice', do: lead, person: zed}]\nexpect: [{at: 2m, lead: mallory}]\n"
    )
    problems = {p.path: p.message for p in scenario.problems_with(make_config())}
    assert "unknown person 'zed'" in problems["steps[0].person"]
    assert "unknown person 'mallory'" in problems["expect[0].lead"]
