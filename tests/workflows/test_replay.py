"""Replay saved histories: a change to the workflow that would break running incidents fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.incident import IncidentWorkflow
from workflows.maintenance import MaintenanceWorkflow

HISTORIES = sorted((Path(__file__).parents[1] / "fixtures" / "histories").glob("*.json"))
WORKFLOW_IDS = {
    "incident_step_up": "incident:replay:step-up",
    "incident_roles": "incident:replay:roles",
    "incident_channel": "incident:replay:channel",
    "incident_contact_rules": "incident:replay:contact",
    "incident_shadow_record": "incident:replay:shadow",
    "incident_severities": "incident:replay:severities",
    "incident_baseline": "incident:replay:replay",
    "incident_earned_autonomy": "incident:replay:ladder",
    "incident_maintenance": "incident:replay:maintenance",
}
"""The workflow id a history ran under, where it matters: a proof is bound to its incident's workflow id, so a
history with proofs replays as that workflow (else every proof in it would be refused, and the replay diverge)."""


def test_there_are_histories_to_replay() -> None:
    assert HISTORIES, "no saved histories: run `python -m tests.helpers.record_histories`"


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
async def test_saved_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(WORKFLOW_IDS.get(path.stem, path.stem), path.read_text())
    workflow = MaintenanceWorkflow if path.stem.startswith("maintenance_") else IncidentWorkflow
    replayer = Replayer(workflows=[workflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
