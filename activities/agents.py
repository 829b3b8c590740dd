"""Telling an agent's own workflow what a completed incident asked of it: signal-with-start, so an agent that
never opened an incident (its workflow not started yet) gets a record too. By names only: activities never import
a workflow."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.client import Client, WorkflowQueryFailedError, WorkflowQueryRejectedError
from temporalio.service import RPCError

from incident.models import Severity
from incident.record import AgentIncident, agent_workflow_id
from workflows.messages import AgentLevelsRequest

AGENT_WORKFLOW = "AgentWorkflow"
INCIDENT_DONE = "incident_done"
"""AgentWorkflow's signal: an `AgentIncident` (counted once per incident id, so a retry adds nothing)."""
LEVELS = "levels"
"""AgentWorkflow's query: the level reached on each laddered severity."""
LEVELS_RPC = timedelta(seconds=3)


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

    @activity.defn(name="agent_levels")
    async def agent_levels(self, req: AgentLevelsRequest) -> dict[str, dict[Severity, str]]:
        """Each agent's levels, as its record has them; an agent without a record, or whose record does not answer
        in time, is left out (its ladders' start levels apply)."""

        async def one(agent: str) -> dict[Severity, str] | None:
            handle = self.client.get_workflow_handle(agent_workflow_id(self.task_queue, agent))
            try:
                found: dict[Severity, str] = await handle.query(
                    LEVELS, result_type=dict[Severity, str], rpc_timeout=LEVELS_RPC
                )
            except (RPCError, WorkflowQueryFailedError, WorkflowQueryRejectedError):  # not started, no answer
                return None
            return found

        found = await asyncio.gather(*(one(a) for a in req.agents))
        return {a: levels for a, levels in zip(req.agents, found, strict=True) if levels}
