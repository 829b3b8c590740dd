"""How alerts reach an incident from outside: the one signal-with-start both the intake and the buffer use.

Client code, so it lives with the client plumbing, not in the deterministic workflows package. The buffer's
`forward_alerts` activity gets it from the worker (activities do not import gateway/)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
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
    client: Client, task_queue: str, workflow_id: str, alerts: list[Alert], policy: IncidentPolicy
) -> bool:
    """Events for one incident, in one signal. With a trigger among them it is signal-with-start: it opens the
    incident or joins the open one, atomically however many arrive at once. Acknowledge/resolve alone only reach
    an open incident: False when there is none (nothing is opened for them). Temporal's errors propagate."""
    first = next((a for a in alerts if a.action is AlertAction.TRIGGER), None)
    if first is not None:
        incident_id = incident_id_from_int(secrets.randbits(30))
        # Set at start, the search attributes cost the workflow no upsert (and the UI shows them at once).
        attributes = TypedSearchAttributes(
            [
                SearchAttributePair(sa.INCIDENT_ID, incident_id),
                SearchAttributePair(sa.INCIDENT_STATUS, Status.TRIGGERED.value),
                SearchAttributePair(sa.INCIDENT_SEVERITY, first.severity.value),
                SearchAttributePair(sa.INCIDENT_SERVICE, first.service),
            ]
        )
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
    try:
        await client.get_workflow_handle(workflow_id).signal(IncidentWorkflow.alerts, alerts, rpc_timeout=RPC_TIMEOUT)
    except RPCError as e:
        if e.status is RPCStatusCode.NOT_FOUND:
            alert_delivered(alerts, None, taken=False)
            return False
        raise
    alert_delivered(alerts, False, taken=True)
    return True


def started(handle: WorkflowHandle[Any, Any]) -> bool | None:
    """Whether a signal-with-start started the workflow (the server's `started`), or None if it did not say. The
    SDK keeps the response on the handle without a public accessor; the handle's run ids cannot tell (the server
    names the first run either way)."""
    response = getattr(handle, "_start_workflow_response", None)
    value = getattr(response, "started", None)
    return value if isinstance(value, bool) else None
