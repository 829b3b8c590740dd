"""What-if over real saved histories: each recorded request decided again under a new policy, counted exactly,
and a policy that lets an agent do alone at SEV0 what it could not is a widening."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory

from gateway.decisions import Recorded, recorded
from gateway.whatif import load_policy, what_if
from incident.config import ConfigError
from incident.models import Severity
from incident.policy import Verdict
from tests.workflows.test_replay import HISTORIES, WORKFLOW_IDS

CUSTOM = """
boundaries:
  custom_actions: [restart_pods]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity, restart_pods]
    approval: [rollback, customer_comms, resolve]
    never: [postmortem_conclusions]
"""
SEV0_FULL = CUSTOM + "  autonomy: {SEV4: full, SEV3: full, SEV2: full, SEV1: approval, SEV0: full}\n"
SEV3_APPROVAL = CUSTOM + "  autonomy: {SEV4: full, SEV3: approval, SEV2: full, SEV1: approval, SEV0: read_only}\n"


def saved(name: str) -> Recorded:
    path = next(p for p in HISTORIES if p.stem == name)
    return recorded(WorkflowHistory.from_json(WORKFLOW_IDS.get(name, name), path.read_text()))


def policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "new.yaml"
    path.write_text(text)
    return path


def test_the_saved_requests_are_read_with_their_severity_and_verdict() -> None:
    rec = saved("incident_severities")
    got = [(a.actor, a.action, a.severity.value, a.verdict) for a in rec.asked]
    assert got == [
        ("agent:triage", "restart_pods", "SEV3", "auto"),
        ("agent:triage", "note", "SEV3", "auto"),
        ("agent:triage", "postmortem_conclusions", "SEV3", "never"),
        ("agent:triage", "rollback", "SEV3", "approval"),
        ("agent:triage", "restart_pods", "SEV1", "approval"),
        ("agent:triage", "note", "SEV1", "auto"),
        ("agent:triage", "restart_pods", "SEV0", "never"),
        ("agent:triage", "escalate", "SEV0", "never"),
        ("agent:triage", "note", "SEV0", "auto"),
        ("human:alice", "resolve", "SEV0", "auto"),
    ]


def test_sev0_full_autonomy_widens_exactly_the_two_read_only_refusals(tmp_path: Path) -> None:
    report = what_if(load_policy(str(policy(tmp_path, SEV0_FULL))), [saved("incident_severities")])
    assert (report.incidents, report.requests) == (1, 10)
    assert (report.now(Verdict.AUTO), report.now(Verdict.APPROVAL), report.now(Verdict.NEVER)) == (7, 2, 1)
    assert [(r.action, r.severity, r.was, r.now, r.count) for r in report.widenings] == [
        ("escalate", Severity.SEV0, Verdict.NEVER, Verdict.AUTO, 1),
        ("restart_pods", Severity.SEV0, Verdict.NEVER, Verdict.AUTO, 1),
    ]
    assert report.changed == report.widenings and all(r.looser for r in report.changed)
    assert report.widenings[0].rule == "boundaries.agent.auto"


def test_a_stricter_policy_changes_what_it_tightens_and_widens_nothing(tmp_path: Path) -> None:
    histories = [saved("incident_severities"), saved("incident_actions"), saved("incident_approvals")]
    report = what_if(load_policy(str(policy(tmp_path, SEV3_APPROVAL))), histories)
    assert (report.incidents, report.requests) == (3, 19)
    assert not report.widenings
    assert [(r.action, r.severity.value, r.was.value, r.now.value, r.count) for r in report.changed] == [
        ("restart_pods", "SEV3", "auto", "approval", 1)
    ]
    assert report.changed[0].stricter and report.changed[0].incidents == [histories[0].incident_id]


def test_the_snapshot_the_incident_ran_with_is_the_baseline(tmp_path: Path) -> None:
    """The same policy as the snapshot: nothing changes, whatever the recorded verdicts were."""
    report = what_if(load_policy(str(policy(tmp_path, CUSTOM))), [saved("incident_severities")])
    assert report.requests == 10 and not report.changed


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("boundaries:\n  agent: {auto: [rollback], approval: []}\n", "human decision"),
        ("boundaries: {agent: {auto: [restart_pods]}}\n", "neither a built-in action nor in custom_actions"),
        ("boundaries: [\n", "not valid YAML"),
        ("services: {}\n", "problem"),
    ],
)
def test_a_policy_file_that_does_not_validate_says_why(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_policy(str(policy(tmp_path, text)))


def test_a_missing_policy_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(str(tmp_path / "nope.yaml"))
