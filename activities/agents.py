"""Telling an agent's own workflow what a completed incident asked of it: signal-with-start, so an agent that
never opened an incident (its workflow not started yet) gets a record too. By names only: activities never import
a workflow."""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client

from incident.record import AgentIncident, agent_workflow_id

AGENT_WORKFLOW = "AgentWorkflow"
INCIDENT_DONE = "incident_done"
"""AgentWorkflow's signal: an `AgentIncident` (counted once per incident id, so a retry adds nothing)."""


class AgentActivities:
    def __init__(self, client: Client, task_queue: str):
        self.client = client
        self.task_queue = task_queue

    @activity.defn(name="record_agent_incident")
    async def record_agent_incident(self, inc: AgentIncident) -> None:
        await self.client.start_workflow(
            AGENT_WORKFLOW,
            {"agent": inc.agent},
            id=agent_workflow_id(self.task_queue, inc.agent),
            task_queue=self.task_queue,
            start_signal=INCIDENT_DONE,
            start_signal_args=[inc],
            static_summary=f"what agent:{inc.agent} does across incidents",
        )
