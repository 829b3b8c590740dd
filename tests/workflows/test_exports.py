"""The incident workflow package keeps its public face: the import path and every wire name running incidents
and clients use. A rename here would strand running incidents and break every client."""

from __future__ import annotations

from temporalio import workflow

import workflows.incident
from workflows.incident import IncidentWorkflow, Rejected

SIGNALS = {"alert", "alerts", "maintenance"}
"""`maintenance`: a window of the service started or ended (the maintenance activities signal it by this name)."""
UPDATES = {
    "acknowledge",
    "resolve",
    "severity",
    "note",
    "request",
    "decide",
    "withdraw",
    "reload",
    "role",
    "stakeholder_update",
}
QUERIES = {"state", "policy", "timeline"}


def test_the_package_exports_the_workflow_and_the_validators_refusal() -> None:
    assert set(workflows.incident.__all__) == {"IncidentWorkflow", "Rejected"}
    assert Rejected("x").type == "Refused" and Rejected("x").non_retryable  # the type is on the wire


def test_workflow_and_handler_names_are_the_ones_running_incidents_use() -> None:
    defn = workflow._Definition.from_class(IncidentWorkflow)
    assert defn is not None and defn.name == "IncidentWorkflow"
    assert set(defn.signals) == SIGNALS
    assert set(defn.updates) == UPDATES
    assert set(defn.queries) == QUERIES
    assert not defn.sandboxed
