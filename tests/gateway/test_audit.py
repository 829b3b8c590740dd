"""Audit by replay over real saved histories: each replays with the code here and each decision is what its policy
snapshot gives; a workflow changed incompatibly, or a decision that is not its snapshot's, is named."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory

from gateway.audit import audit_histories
from gateway.decisions import recorded
from incident.models import IncidentResult, Severity
from incident.state import IncidentInput
from tests.workflows.test_replay import HISTORIES, WORKFLOW_IDS
from workflows.incident import IncidentWorkflow
from workflows.registry import WORKFLOWS


@workflow.defn(name="IncidentWorkflow", sandboxed=False)
class TimerFirst(IncidentWorkflow):
    """The incident workflow changed without `workflow.patched`: a timer before anything it did before."""

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentResult:
        await workflow.sleep(timedelta(seconds=1))
        return await super().run(inp)


def history(path: Path, text: str | None = None) -> tuple[str, WorkflowHistory]:
    return "IncidentWorkflow", WorkflowHistory.from_json(
        WORKFLOW_IDS.get(path.stem, path.stem), text or path.read_text()
    )


SEVERITIES = next(p for p in HISTORIES if p.stem == "incident_severities")
INCIDENTS = [p for p in HISTORIES if p.stem.startswith("incident_")]
"""The saved incident histories (the others are of the workflows beside them, which `baton audit` does not read)."""


async def test_every_saved_history_replays_and_matches_its_snapshot() -> None:
    runs = await audit_histories([history(p) for p in INCIDENTS])
    assert len(runs) == len(INCIDENTS)
    assert [(r.workflow_id, r.replay_problem, r.read_problem, r.mismatches) for r in runs if not r.ok] == []
    assert sum(len(r.checked) for r in runs) > 40


async def test_who_did_what_under_which_rule() -> None:
    (run,) = await audit_histories([history(SEVERITIES)])
    assert run.ok and run.incident_id.startswith("INC-")
    told = [
        (c.asked.severity.value, c.asked.actor, c.asked.action, c.asked.verdict, c.expected_rule) for c in run.checked
    ]
    assert told[4] == ("SEV1", "agent:triage", "restart_pods", "approval", "boundaries.autonomy.SEV1: approval")
    assert told[6] == ("SEV0", "agent:triage", "restart_pods", "never", "boundaries.autonomy.SEV0: read_only")


async def test_a_workflow_changed_incompatibly_is_named_with_its_incident() -> None:
    others = [w for w in WORKFLOWS if w is not IncidentWorkflow]
    (run,) = await audit_histories([history(SEVERITIES)], workflows=[TimerFirst, *others])
    assert not run.ok and run.incident_id.startswith("INC-") and run.workflow_id == "incident:replay:severities"
    assert "Nondeterminism" in (run.replay_problem or ""), run.replay_problem


def tampered(path: Path, find: dict[str, object], change: dict[str, object]) -> str:
    """The history with the first update reply that has `find`'s fields given `change`'s instead (a history
    written by other code than the policy's, or edited)."""
    data = json.loads(path.read_text())
    for event in data["events"]:
        done = event.get("workflowExecutionUpdateCompletedEventAttributes")
        if not done or "success" not in done["outcome"]:
            continue
        payload = done["outcome"]["success"]["payloads"][0]
        reply = json.loads(base64.b64decode(payload["data"]))
        if all(reply.get(k) == v for k, v in find.items()):
            payload["data"] = base64.b64encode(json.dumps(reply | change).encode()).decode()
            return json.dumps(data)
    raise AssertionError(f"no reply with {find}")


@pytest.mark.parametrize(
    ("find", "change", "problem"),
    [
        (
            {"verdict": "never", "rule": "boundaries.autonomy.SEV0: read_only"},
            {"ok": True, "verdict": None, "rule": None},
            "recorded auto, the policy gives never (boundaries.autonomy.SEV0: read_only)",
        ),
        (
            {"verdict": "approval", "rule": "boundaries.agent.approval"},
            {"rule": "boundaries.agent.auto"},
            "recorded the rule 'boundaries.agent.auto', the policy gives 'boundaries.agent.approval'",
        ),
    ],
)
async def test_a_decision_that_is_not_its_snapshots_is_a_mismatch(
    find: dict[str, object], change: dict[str, object], problem: str
) -> None:
    (run,) = await audit_histories([history(SEVERITIES, tampered(SEVERITIES, find, change))])
    assert run.replay_problem is None and not run.ok
    assert [c.problem for c in run.mismatches] == [problem]


EARNED = next(p for p in HISTORIES if p.stem == "incident_earned_autonomy")


def test_the_levels_an_incident_fixed_as_it_opened_are_the_policy_its_later_requests_are_checked_against() -> None:
    """An incident with autonomy ladders reads its agents' levels beside the first page: what the history's
    `agent_levels` answer says is in force from there on, for audit and what-if alike."""
    rec = recorded(history(EARNED)[1])
    assert len(rec.policies) == 2 and rec.policies[0].boundaries.earned is None
    assert rec.policies[1].boundaries.earned == {"triage": {Severity.SEV2: "approval"}}
    asked = next(a for a in rec.asked if a.action == "restart_pods")
    assert asked.policy == 1 and asked.verdict == "approval"
