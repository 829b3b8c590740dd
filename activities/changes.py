"""Reading baton's own change log for a service: the `changes` context provider.

Whatever goes wrong is an answer naming it (`ok=False`), never an error: context that cannot be had must not stop
a page. The answer is bounded (`most_recent`) whatever the change log sent, since it is recorded in the incident's
history."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from incident.context import Change, ContextPart, most_recent
from workflows.messages import ChangesRequest, changelog_id

RUNNING = WorkflowExecutionStatus.RUNNING


class ChangeActivities:
    def __init__(self, client: Client, task_queue: str):
        self.client = client
        self.task_queue = task_queue

    @activity.defn(name="recent_changes")
    async def recent_changes(self, req: ChangesRequest) -> ContextPart:
        handle = self.client.get_workflow_handle(changelog_id(self.task_queue, req.service))
        try:
            # The server answers this alone, at once; a query would wait for a worker even when nothing is there.
            if (await handle.describe(rpc_timeout=timedelta(seconds=req.timeout_s))).status != RUNNING:
                return ContextPart(provider="changes")
            changes = await handle.query(
                "since", req.since, result_type=list[Change], rpc_timeout=timedelta(seconds=req.timeout_s)
            )  # ChangeLogWorkflow.since, by its name: activities never import a workflow
        except RPCError as e:
            if e.status is RPCStatusCode.NOT_FOUND:
                return ContextPart(provider="changes")  # nothing was ever posted for this service
            return ContextPart(provider="changes", ok=False, error=f"change log unreadable: {e.message}"[:500])
        except Exception as e:  # a failed query, an answer that does not decode, a timeout
            return ContextPart(provider="changes", ok=False, error=f"change log unreadable: {e}"[:500])
        return ContextPart(provider="changes", changes=most_recent(changes))
