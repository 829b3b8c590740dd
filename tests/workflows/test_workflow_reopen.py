"""The next incident a resolved one opens on its key (alerts that reached it while it was resolving) runs by the
policy in the worker's config now, not by the snapshot the resolved incident began with."""

from __future__ import annotations

import httpx
from temporalio.testing import WorkflowEnvironment

from incident.ids import workflow_id_for
from incident.models import AlertAction
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import QUERY_TIMEOUT, SCOPE
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow


async def test_the_next_incident_on_the_key_takes_a_fresh_policy(ts_env: WorkflowEnvironment, sink: Sink) -> None:
    config = make_config(sink.url)
    config.services["checkout"].on_recovery = "resolve"
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, config, http)
        async with h.worker:
            wid = workflow_id_for(SCOPE, "reopen")
            await h.incidents.send_batch(wid, [alert("reopen")], IncidentPolicy.snapshot(config, "checkout"))
            first = await until(lambda: _state(h, wid), lambda s: s is not None)

            # The team changes the config (a worker restarted with it would read it the same way).
            config.services["checkout"].runbook = "https://runbooks.example/checkout-v2"
            config.escalation_policies["two-levels"].ack_timeout = None
            fresh = IncidentPolicy.snapshot(config, "checkout")
            batch = [alert("reopen", action=AlertAction.RESOLVE), alert("reopen", summary="flapped again")]
            await h.incidents.send_batch(wid, batch, fresh)
            second = await until(lambda: _state(h, wid), lambda s: s is not None and s.incident_id != first.incident_id)
            assert second.title == "flapped again"

            policy = await h.client.get_workflow_handle(wid).query(IncidentWorkflow.policy)
            assert policy.service.runbook == "https://runbooks.example/checkout-v2", "the old snapshot was reused"
            assert policy == fresh


async def _state(h: Harness, wid: str) -> IncidentState | None:
    try:
        # A query that reaches a run as it continues as new goes unanswered on the test server: ask again.
        handle = h.client.get_workflow_handle(wid)
        st: IncidentState = await handle.query(IncidentWorkflow.state, rpc_timeout=QUERY_TIMEOUT)
        return st
    except Exception:
        return None
