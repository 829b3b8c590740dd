"""Before deploying new worker code: does every open incident's history replay against it?

A worker that picks up a running incident replays its whole history with the code it has; a change that issues
other commands than the history recorded (outside `workflow.patched`) fails that workflow task on every retry, and
the incident stops escalating. This fetches the histories of the open workflows on baton's task queue from the
namespace and replays each with the workflows of the code installed here, without running anything: no activity,
no timer, no page. Run it with the new code, against the namespace the old workers serve, before rolling out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from workflows.registry import WORKFLOWS

MAX_OPEN = 10_000


@dataclass(frozen=True)
class Replayed:
    workflow_id: str
    run_id: str
    workflow_type: str
    events: int
    problem: str | None = None
    """Why the history does not replay with this code (None: it does)."""


@dataclass
class ReplayReport:
    replayed: list[Replayed] = field(default_factory=list)
    truncated: bool = False
    """More workflows were open than were checked (`limit`)."""

    @property
    def failed(self) -> list[Replayed]:
        return [r for r in self.replayed if r.problem is not None]


def open_workflows_query(task_queue: str) -> str:
    quoted = task_queue.replace("\\", "\\\\").replace('"', '\\"')
    return f'TaskQueue = "{quoted}" AND ExecutionStatus = "Running"'


async def replay_open(
    client: Client, task_queue: str, limit: int = 1_000, workflows: Sequence[type] = WORKFLOWS
) -> ReplayReport:
    """Replay the histories of up to `limit` open workflows on `task_queue` with `workflows`."""
    report = ReplayReport()
    histories: list[tuple[str, WorkflowHistory]] = []
    async for wf in client.list_workflows(open_workflows_query(task_queue), limit=limit + 1):
        if len(histories) == limit:
            report.truncated = True
            break
        history = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
        histories.append((wf.workflow_type, history))
    report.replayed = await replay_histories(histories, workflows)
    return report


async def replay_histories(
    histories: Sequence[tuple[str, WorkflowHistory]], workflows: Sequence[type] = WORKFLOWS
) -> list[Replayed]:
    """Replay each (workflow type, history) with `workflows`: one `Replayed` per history, in no fixed order."""
    types = {getattr(w, "__temporal_workflow_definition").name for w in workflows}
    out: list[Replayed] = []
    known = [(t, h) for t, h in histories if t in types]
    for t, h in histories:
        if t not in types:
            out.append(Replayed(h.workflow_id, h.run_id, t, len(h.events), f"no workflow {t!r} in this code"))
    if not known:
        return out

    async def each() -> AsyncIterator[WorkflowHistory]:
        for _, h in known:
            yield h

    replayer = Replayer(workflows=list(workflows), data_converter=pydantic_data_converter)
    by_run = {h.run_id: t for t, h in known}
    async with replayer.workflow_replay_iterator(each()) as results:
        async for result in results:
            h = result.history
            problem = None if result.replay_failure is None else _first_line(result.replay_failure)
            out.append(Replayed(h.workflow_id, h.run_id, by_run[h.run_id], len(h.events), problem))
    return out


def _first_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text if len(text) <= 600 else text[:599] + "…"
