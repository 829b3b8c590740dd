"""An impersonation attempt is its own kind in `baton boundaries report` (what the command reads: the refusal
memos of the incidents, through Temporal's visibility on the dev server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Incidents, Refused
from incident.approvals import RefusalRow
from incident.models import Actor
from tests.helpers.config import make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import open_incident
from tests.helpers.temporal import harness
from tests.helpers.wait import until


async def test_a_raw_client_acting_as_alice_is_counted_as_an_impersonation(
    dev_env: WorkflowEnvironment, sink: Sink
) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url), http)
        async with h.worker:
            wid = await open_incident(h)
            iid = (await h.incidents.state(wid)).incident_id
            raw = Incidents(h.client, task_queue=h.task_queue)
            for _ in range(2):
                with pytest.raises(Refused):
                    await raw.acknowledge(wid, Actor.human("alice"))

            def found(rows: list[RefusalRow]) -> RefusalRow | None:
                return next((r for r in rows if r.verdict == "impersonation" and iid in r.incidents), None)

            since = datetime.now(UTC) - timedelta(hours=1)
            # Visibility may show the memo after the first refusal and before the second: wait for both.
            rows = await until(lambda: h.incidents.refusals(since), lambda rows: getattr(found(rows), "count", 0) >= 2)
            hit = found(rows)
            assert hit is not None and hit.count == 2
            assert (hit.action, hit.rule, hit.actors) == ("acknowledge", "identity.proof", ["human:alice"])
            assert not (await h.incidents.state(wid)).acknowledged_by
