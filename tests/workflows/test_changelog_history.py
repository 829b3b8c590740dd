"""The change log's history stays bounded: it continues as new on bytes as well as events, and answers the same
changes afterwards."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from incident.context import Change, most_recent
from tests.helpers.config import make_config
from tests.helpers.invariants import BENIGN_TASK_FAILURES
from tests.helpers.temporal import harness
from tests.helpers.wait import until
from workflows.changelog import HISTORY_EVENTS, MIN_HISTORY_BYTES, ChangeLogWorkflow, changelog_id

DEPLOYS = 300
"""Changes of 8 kB each: 2.4 MB of signals, past the limit, in far fewer events than HISTORY_EVENTS; and small
enough that what the log carries (the newest 1 MB) holds every change a lookup answers."""


async def current_run(handle: WorkflowHandle[ChangeLogWorkflow, None]) -> str:
    return (await handle.describe()).run_id or ""


async def test_the_change_log_continues_as_new_on_history_size_and_loses_nothing(ts_env: WorkflowEnvironment) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(), http)
        async with h.worker:
            wid = changelog_id(h.task_queue, "checkout")
            started = await h.client.start_workflow(
                ChangeLogWorkflow.run, args=[None, MIN_HISTORY_BYTES], id=wid, task_queue=h.task_queue
            )
            first_run = started.result_run_id or ""
            handle = h.client.get_workflow_handle_for(ChangeLogWorkflow.run, wid)  # whichever run is current
            start = datetime.now(UTC) - timedelta(hours=2)
            sent = [
                Change(service="checkout", version=f"v{i}", description="d" * 8_000, at=start + timedelta(seconds=i))
                for i in range(DEPLOYS)
            ]
            for change in sent:
                await h.incidents.record_change(change)
            await until(lambda: current_run(handle), lambda run: run != first_run, timeout=30)

            first = h.client.get_workflow_handle(wid, run_id=first_run)
            assert (await first.describe()).status is WorkflowExecutionStatus.CONTINUED_AS_NEW
            history = await first.fetch_history()
            assert len(history.events) < HISTORY_EVENTS, "it continued on bytes, not on events"
            answered = [c.version for c in await h.incidents.changes("checkout", start)]
            assert answered == [c.version for c in most_recent(sent)], "the same answer as if every change were kept"

            late = Change(service="checkout", version="v-late", at=datetime.now(UTC))
            await h.incidents.record_change(late)
            after = await until(lambda: h.incidents.changes("checkout", start), lambda cs: cs[-1].version == "v-late")
            assert [c.version for c in after][-3:] == [f"v{DEPLOYS - 2}", f"v{DEPLOYS - 1}", "v-late"]
            assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
            failed = [
                WorkflowTaskFailedCause.Name(e.workflow_task_failed_event_attributes.cause)
                for run in (history, await handle.fetch_history())
                for e in run.events
                if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                and e.workflow_task_failed_event_attributes.cause not in BENIGN_TASK_FAILURES
            ]
            assert failed == [], "no workflow task failed (but for a signal that came in as the run continued)"
