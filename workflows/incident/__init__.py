"""The incident workflow, as a package: `workflow` is the `@workflow.defn` class and its wiring; the modules beside
it are the helpers it composes (paging, context, escalation, refusals, approvals, requests) around one shared
`IncidentRun`. What other modules import is re-exported here."""

from workflows.incident.run import Rejected
from workflows.incident.workflow import IncidentWorkflow

__all__ = ["IncidentWorkflow", "Rejected"]
