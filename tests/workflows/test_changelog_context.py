"""The change log as context for the first page: bounded, on the deadline, and never in the way of the page."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from incident.context import Change
from incident.ids import workflow_id_for
from incident.state import IncidentPolicy
from tests.helpers.config import TOKEN, alert, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import Harness, intake_stack
from tests.helpers.wait import until
from workflows.changelog import ChangeLogWorkflow, changelog_id
from workflows.incident import IncidentWorkflow


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with intake_stack(dev_env, make_config(sink.url)) as s:
        yield s


async def _paged(sink: Sink, key: str) -> list[dict]:
    return [
        r["json"]
        for r in sink.for_path("/alice")
        if r["json"]["workflow_id"].endswith(key) and r["json"].get("kind", "page") == "page"
    ]


async def test_changes_too_big_to_answer_never_stop_a_page(stack: tuple[str, Harness], sink: Sink) -> None:
    """Three 900 kB changes (posted by a client of the change log that the intake's bounds do not cover) make an
    answer past Temporal's 2 MB: the incident still pages, with the change log's recent changes or its failure
    named, and the change log itself keeps running."""
    _, h = stack
    now = datetime.now(UTC)
    for i in range(3):
        big = Change(service="checkout", version=f"v{i}", description="d" * 900_000, at=now - timedelta(minutes=i))
        await h.incidents.record_change(big)
    key = f"big-changes-{uuid.uuid4().hex[:8]}"
    wid = workflow_id_for("events", key)
    await h.incidents.send_batch(wid, [alert(key)], _policy(h))
    page = (await until(lambda: _paged(sink, key), timeout=30))[0]
    assert page["incident_id"]
    desc = await h.client.get_workflow_handle(wid).describe()
    assert desc.status is WorkflowExecutionStatus.RUNNING
    log = await h.client.get_workflow_handle(changelog_id(h.task_queue, "checkout")).describe()
    assert log.status is WorkflowExecutionStatus.RUNNING
    listed = await h.incidents.changes("checkout", now - timedelta(hours=1))
    assert 1 <= len(listed) <= 3 and sum(len(c.model_dump_json()) for c in listed) < 1_000_000


async def test_a_change_log_that_does_not_answer_gets_the_context_deadline(
    stack: tuple[str, Harness], sink: Sink
) -> None:
    """A change log nobody answers queries for (here: started on a queue no worker polls) must not hold the page
    past `context.deadline` (2 s): the page goes out and names the change log as missing."""
    _, h = stack
    await h.client.start_workflow(
        ChangeLogWorkflow.run, None, id=changelog_id(h.task_queue, "checkout"), task_queue=f"nobody-{h.task_queue}"
    )
    key = f"silent-log-{uuid.uuid4().hex[:8]}"
    wid = workflow_id_for("events", key)
    await h.incidents.send_batch(wid, [alert(key)], _policy(h))
    handle = h.client.get_workflow_handle(wid)
    st = await until(lambda: handle.query(IncidentWorkflow.state), lambda s: s.seconds_to_first_page, timeout=30)
    assert st.seconds_to_first_page < 6
    assert st.context is not None and any(m.startswith("changes:") for m in st.context.missing)


def _policy(h: Harness) -> IncidentPolicy:
    return IncidentPolicy.snapshot(h.config, "checkout")
