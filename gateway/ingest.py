"""How alerts reach an incident from outside: the one signal-with-start both the intake and the buffer use.

Client code, so it lives with the client plumbing, not in the deterministic workflows package. The buffer's
`forward_alerts` activity gets it from the worker (activities do not import gateway/)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes, WorkflowIDConflictPolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from gateway.metrics import alert_delivered
from incident.ids import incident_id_from_int
from incident.models import Alert, AlertAction, Status
from incident.state import IncidentInput, IncidentPolicy
from workflows import search_attributes as sa
from workflows.incident import IncidentWorkflow

RPC_TIMEOUT = timedelta(seconds=5)


async def send_alerts(
    client: Client,
    task_queue: str,
    workflow_id: str,
    alerts: list[Alert],
    policy: IncidentPolicy,
    eager: bool = False,
) -> bool:
    """Events for one incident, in one signal. With a trigger among them it is signal-with-start: it opens the
    incident or joins the open one, atomically however many arrive at once. Acknowledge/resolve alone only reach
    an open incident: False when there is none (nothing is opened for them). Temporal's errors propagate.

    `eager` (a worker in this process, on this client): a start that asks the server to hand the first workflow
    task back to this process, skipping a dispatch (`start_eagerly`)."""
    first = next((a for a in alerts if a.action is AlertAction.TRIGGER), None)
    if first is not None and eager:
        return await start_eagerly(client, task_queue, workflow_id, alerts, policy, first)
    if first is not None:
        incident_id = incident_id_from_int(secrets.randbits(30))
        attributes = start_attributes(incident_id, first)
        for attempt in range(3):
            try:
                handle = await client.start_workflow(
                    IncidentWorkflow.run,
                    IncidentInput(policy=policy, incident_id=incident_id),
                    search_attributes=attributes,
                    id=workflow_id,
                    task_queue=task_queue,
                    start_signal="alerts",
                    start_signal_args=[alerts],
                    static_summary=f"{first.service} · {first.severity.value} · {first.summary}"[:200],
                    rpc_timeout=RPC_TIMEOUT,
                )
                alert_delivered(alerts, started(handle), taken=True)
                return True
            except WorkflowAlreadyStartedError:
                # Signal-with-start signals a running workflow; a server may still report a concurrent start of
                # the same id this way (seen on the time-skipping test server). The next try finds it running.
                if attempt == 2:
                    raise
        return True
    if not await signal_open(client, workflow_id, alerts):
        alert_delivered(alerts, None, taken=False)
        return False
    alert_delivered(alerts, False, taken=True)
    return True


async def signal_open(client: Client, workflow_id: str, alerts: list[Alert]) -> bool:
    """Signal the open run of `workflow_id`; False when there is none."""
    try:
        await client.get_workflow_handle(workflow_id).signal(IncidentWorkflow.alerts, alerts, rpc_timeout=RPC_TIMEOUT)
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def start_eagerly(
    client: Client, task_queue: str, workflow_id: str, alerts: list[Alert], policy: IncidentPolicy, first: Alert
) -> bool:
    """Open the incident with the alerts in its input, asking for eager start, or, when it is open already (the
    conflict policy keeps the one running: dedup stays atomic), signal them to it. Eager start cannot go with a
    start signal, hence the two steps; a run that ends between them is started anew on the next try."""
    for _ in range(3):
        incident_id = incident_id_from_int(secrets.randbits(30))
        handle = await client.start_workflow(
            IncidentWorkflow.run,
            IncidentInput(policy=policy, incident_id=incident_id, carry_alerts=alerts),
            search_attributes=start_attributes(incident_id, first),
            id=workflow_id,
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            request_eager_start=True,
            static_summary=f"{first.service} · {first.severity.value} · {first.summary}"[:200],
            rpc_timeout=RPC_TIMEOUT,
        )
        if started(handle):
            alert_delivered(alerts, True, taken=True)
            return True
        # Running already (or a server that does not say): the input was not taken, so the alerts go by signal;
        # a server that does not say may then count them twice, never lose them.
        if await signal_open(client, workflow_id, alerts):
            alert_delivered(alerts, False, taken=True)
            return True
    raise RuntimeError(f"{workflow_id}: the open run ended three times while its alerts were being sent")


def start_attributes(incident_id: str, first: Alert) -> TypedSearchAttributes:
    """Set at start, the search attributes cost the workflow no upsert (and the UI shows them at once)."""
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.INCIDENT_ID, incident_id),
            SearchAttributePair(sa.INCIDENT_STATUS, Status.TRIGGERED.value),
            SearchAttributePair(sa.INCIDENT_SEVERITY, first.severity.value),
            SearchAttributePair(sa.INCIDENT_SERVICE, first.service),
        ]
    )


def started(handle: WorkflowHandle[Any, Any]) -> bool | None:
    """Whether a signal-with-start started the workflow (the server's `started`), or None if it did not say. The
    SDK keeps the response on the handle without a public accessor; the handle's run ids cannot tell (the server
    names the first run either way)."""
    response = getattr(handle, "_start_workflow_response", None)
    value = getattr(response, "started", None)
    return value if isinstance(value, bool) else None
