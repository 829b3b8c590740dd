"""Running workflows of one type on this task queue, by a visibility query; where the server has no such query (the
time-skipping test server), by its list of open executions of the type, each described and filtered here. Client
code: the maintenance activities get it from the worker (activities do not import gateway/)."""

from __future__ import annotations

import asyncio

from temporalio.api.filter.v1 import WorkflowTypeFilter
from temporalio.api.workflowservice.v1 import ListOpenWorkflowExecutionsRequest
from temporalio.client import Client, WorkflowExecution
from temporalio.service import RPCError, RPCStatusCode

from gateway.client import RPC_TIMEOUT


def quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


async def running(
    client: Client,
    workflow_type: str,
    task_queue: str,
    keywords: dict[str, str] | None = None,
    limit: int = 200,
) -> list[WorkflowExecution]:
    """At most `limit` running `workflow_type` executions on `task_queue` whose Keyword search attributes equal
    `keywords`."""
    keywords = keywords or {}
    clauses = [f'WorkflowType = "{quote(workflow_type)}"', 'ExecutionStatus = "Running"']
    clauses += [f'TaskQueue = "{quote(task_queue)}"']
    clauses += [f'{name} = "{quote(value)}"' for name, value in keywords.items()]
    try:
        return [wf async for wf in client.list_workflows(" AND ".join(clauses), limit=limit, rpc_timeout=RPC_TIMEOUT)]
    except RPCError as e:
        if e.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
    req = ListOpenWorkflowExecutionsRequest(
        namespace=client.namespace, maximum_page_size=1000, type_filter=WorkflowTypeFilter(name=workflow_type)
    )
    resp = await client.workflow_service.list_open_workflow_executions(req, timeout=RPC_TIMEOUT)
    ids = [e.execution.workflow_id for e in resp.executions]
    described = await asyncio.gather(
        *(client.get_workflow_handle(i).describe(rpc_timeout=RPC_TIMEOUT) for i in ids), return_exceptions=True
    )

    def keep(d: object) -> bool:
        if not isinstance(d, WorkflowExecution) or d.task_queue != task_queue:
            return False
        attrs = {p.key.name: p.value for p in d.typed_search_attributes}
        return all(attrs.get(k) == v for k, v in keywords.items())

    kept: list[WorkflowExecution] = [d for d in described if isinstance(d, WorkflowExecution) and keep(d)]
    return kept[:limit]
