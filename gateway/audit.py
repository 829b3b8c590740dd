"""`baton audit`: an incident's history replayed against the code installed here, and every decision it recorded
checked against the policy it was decided under.

Two questions, one per failure a team must see before it deploys: does the history still replay with this code
(`replay_histories`, as `baton replay-check`; a change outside `workflow.patched` would stop the incident), and did
each request get what the policy snapshot gives for that actor, action and severity (`mismatches`; a decision that
does not is a defect, or a history someone else wrote). What it prints is who did what under which rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from temporalio.client import Client, WorkflowHistory

from gateway.decisions import BOUNDARY_VERDICTS, NOT_DECIDED, REFUSED, Asked, Recorded, recorded
from gateway.replay_check import replay_histories
from incident.models import Actor
from incident.policy import Verdict
from workflows.registry import WORKFLOWS

MAX_RUNS = 2_000
"""Runs one audit reads at most (an incident's runs, or every incident's in the window)."""


@dataclass(frozen=True)
class Checked:
    """One decided request, and what the policy it was decided under gives."""

    asked: Asked
    expected: str
    expected_rule: str
    problem: str | None = None


@dataclass
class RunAudit:
    workflow_id: str
    run_id: str
    incident_id: str
    events: int
    replay_problem: str | None = None
    checked: list[Checked] = field(default_factory=list)
    read_problem: str | None = None
    """The history could not be read as an incident's."""

    @property
    def mismatches(self) -> list[Checked]:
        return [c for c in self.checked if c.problem is not None]

    @property
    def ok(self) -> bool:
        return self.replay_problem is None and self.read_problem is None and not self.mismatches


def check(rec: Recorded) -> list[Checked]:
    """Each recorded decision against what the policy it was decided under gives for its actor, action and
    severity. A boundary verdict must be the same (and a recorded rule the same rule); a refusal from a later check
    (parameters, budget, step-up) or from before replies named their verdict needs a verdict that let it past the
    boundaries, or that did not let it go alone; an impersonation was refused before the boundaries were asked."""
    out = []
    for a in rec.asked:
        d = rec.boundaries(a).decide(a.action, Actor.parse(a.actor), a.severity)
        want, problem = d.verdict.value, None
        if a.verdict == NOT_DECIDED:
            pass
        elif a.verdict in BOUNDARY_VERDICTS:
            if a.verdict != want:
                problem = f"recorded {a.verdict}, the policy gives {want} ({d.rule})"
            elif a.rule is not None and not a.rule.startswith(d.rule):
                problem = f"recorded the rule {a.rule!r}, the policy gives {d.rule!r}"
        elif a.verdict == REFUSED:
            if d.verdict is Verdict.AUTO:
                problem = f"recorded a refusal, the policy lets it go ahead ({d.rule})"
        elif d.verdict not in (Verdict.AUTO, Verdict.APPROVAL):
            problem = f"recorded {a.verdict} (a check after the boundaries), the policy gives {want} ({d.rule})"
        out.append(Checked(a, want, d.rule, problem))
    return out


async def audit_histories(
    histories: Sequence[tuple[str, WorkflowHistory]], workflows: Sequence[type] = WORKFLOWS
) -> list[RunAudit]:
    """Replay each (workflow type, history) with `workflows` and check its decisions; in the order given."""
    replayed = {r.run_id: r for r in await replay_histories(histories, workflows)}
    out = []
    for _, h in histories:
        r = replayed[h.run_id]
        run = RunAudit(h.workflow_id, h.run_id, h.workflow_id, len(h.events), r.problem)
        try:
            rec = recorded(h)
        except ValueError as e:
            run.read_problem = str(e)
        else:
            run.incident_id, run.checked = rec.incident_id, check(rec)
        out.append(run)
    return out


def incident_query(incident_id: str, task_queue: str) -> str:
    return f'IncidentId = "{_quote(incident_id)}" AND TaskQueue = "{_quote(task_queue)}"'


def window_query(since: datetime, task_queue: str) -> str:
    return f'IncidentId IS NOT NULL AND TaskQueue = "{_quote(task_queue)}" AND StartTime >= "{since.isoformat()}"'


async def fetch(client: Client, query: str, limit: int = MAX_RUNS) -> tuple[list[tuple[str, WorkflowHistory]], bool]:
    """The histories of the runs `query` finds, oldest first, and whether there were more than `limit`."""
    runs = []
    async for wf in client.list_workflows(query, limit=limit + 1):
        runs.append(wf)
    more = len(runs) > limit
    runs = sorted(runs[:limit], key=lambda wf: wf.start_time)
    histories = []
    for wf in runs:
        history = await client.get_workflow_handle(wf.id, run_id=wf.run_id).fetch_history()
        histories.append((wf.workflow_type, history))
    return histories, more


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
