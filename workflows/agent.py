"""AgentWorkflow: one per agent identity, the durable count of what an agent does across incidents.

An incident counts what an agent asks of it; only this workflow sees every incident an agent opens. The gateway
asks it (update-with-start) before opening one: within the agent's budget, the opening is counted; past it, or
when the policy refused it, the refusal is counted here (search attribute `BoundaryRefusals` and the memo
`baton boundaries report` reads), since there is no incident to record it. Its state is small and bounded: the
openings of the current window and a few refusal kinds; it continues as new long before its history grows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from incident import record
    from incident.approvals import Refusal, refusal_memo
    from incident.models import Severity
    from incident.record import AgentIncident, AgentStats
    from workflows import search_attributes as sa
    from workflows.notice import tell

AGENT_ID_PREFIX = record.AGENT_ID_PREFIX
MAX_OPENINGS = 1_000
"""Openings remembered (within the window): a budget above this is counted as this."""
MAX_KINDS = 20
HISTORY_LIMIT = 1_000
EARNED_AUTONOMY = "earned-autonomy"
"""Patch id: an incident's autonomy ladders move the agent's level, and each move is told to the policy's owners.
Before it, the record only counted."""


def agent_workflow_id(task_queue: str, agent: str) -> str:
    return record.agent_workflow_id(task_queue, agent)


class Opening(BaseModel):
    key: str
    at: datetime


class AgentRecord(BaseModel):
    agent: str
    openings: list[Opening] = Field(default_factory=list)
    refusals: list[Refusal] = Field(default_factory=list)
    refused_total: int = 0
    stats: AgentStats = Field(default_factory=AgentStats, description="what completed incidents asked of it")
    runs: int = Field(1, description="this workflow's runs so far (it continues as new)")
    history_limit: int | None = Field(None, ge=20, description="continue as new past this many events (tests)")


class OpenRequest(BaseModel):
    """The gateway asks before an agent opens an incident: `key` is the incident's (the same key again counts
    once); `refused_by` set, the policy already refused it and this only records it."""

    key: str = Field(min_length=1, max_length=600)
    limit: int = Field(ge=0)
    window_s: int = Field(ge=1)
    rule: str = Field(max_length=500, description="the budget's rule, or the policy's when `refused_by` is set")
    refused_by: str | None = Field(None, max_length=20, description="the refusal's verdict (e.g. `never`)")


class OpenReply(BaseModel):
    ok: bool
    message: str
    rule: str | None = None
    verdict: str | None = None


@workflow.defn(sandboxed=False)
class AgentWorkflow:
    @workflow.init
    def __init__(self, record: AgentRecord) -> None:
        self.record = record

    @workflow.run
    async def run(self, record: AgentRecord) -> None:
        await workflow.wait_condition(
            lambda: (
                workflow.info().get_current_history_length() >= (self.record.history_limit or HISTORY_LIMIT)
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        self.record.runs += 1
        workflow.continue_as_new(self.record)

    @workflow.signal
    async def incident_done(self, inc: AgentIncident) -> None:
        """A completed incident's requests of this agent: added to its record, once per incident; on each
        autonomy ladder it names, a promotion or demotion it earns is recorded and told to the owners."""
        if not self.record.stats.add(inc) or not inc.ladders or not workflow.patched(EARNED_AUTONOMY):
            return
        for change in self.record.stats.climb(inc, self.record.agent):
            if inc.owners:
                await tell(inc.owners, change.text(), change.incident_id, "boundaries")

    @workflow.query
    def levels(self) -> dict[Severity, str]:
        """The level reached on each laddered severity: what an incident opening now fixes for this agent."""
        return self.record.stats.levels()

    @workflow.update
    def open(self, req: OpenRequest) -> OpenReply:
        now, rec = workflow.now(), self.record
        window = timedelta(seconds=req.window_s)
        rec.openings = [o for o in rec.openings if o.at > now - window][-MAX_OPENINGS:]
        if req.refused_by is not None:
            return self._refuse("open_incident", req.rule, req.refused_by, f"refused by {req.rule}")
        if any(o.key == req.key for o in rec.openings):
            return OpenReply(ok=True, message="already counted")
        if len(rec.openings) >= min(req.limit, MAX_OPENINGS):
            refills = rec.openings[0].at + window if rec.openings else now
            n = len(rec.openings)
            text = f"agent:{rec.agent} has opened {n} incidents; it may open another at {refills:%H:%M} UTC"
            return self._refuse("open_incident", req.rule, "budget", text)
        rec.openings.append(Opening(key=req.key, at=now))
        return OpenReply(ok=True, message="counted")

    def _refuse(self, action: str, rule: str, verdict: str, message: str) -> OpenReply:
        rec, now = self.record, workflow.now()
        rec.refused_total += 1
        found = next((r for r in rec.refusals if r.rule == rule and r.verdict == verdict), None)
        if found is None:
            actor = f"agent:{rec.agent}"
            found = Refusal(actor=actor, action=action, verdict=verdict, rule=rule, first_at=now, last_at=now)
            if len(rec.refusals) >= MAX_KINDS:
                rec.refusals.pop(0)
            rec.refusals.append(found)
        found.count += 1
        found.last_at = now
        workflow.upsert_search_attributes([sa.BOUNDARY_REFUSALS.value_set(rec.refused_total)])
        workflow.upsert_memo(refusal_memo(rec.refusals))
        return OpenReply(ok=False, message=message, rule=rule, verdict=verdict)

    @workflow.query
    def state(self) -> AgentRecord:
        return self.record
