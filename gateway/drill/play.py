"""One scenario being played on the test server: its alerts and steps sent through the same façade the intake and
the CLI use, the pages its worker captured instead of sending, and waiting until each incident has settled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from gateway.attesting import Signer
from gateway.client import Incidents, NotFound, Refused
from gateway.drill.loading import Drill
from gateway.drill.results import TimelineLine
from incident.attestation import Method
from incident.judge import Seen, SentPage, StepResult
from incident.keys import SigningKey
from incident.ladder import Rung
from incident.models import Alert, AlertAction, Severity
from incident.record import AgentStats
from incident.scenario import AlertEvent, Step, StepOutcome
from incident.state import IncidentPolicy, IncidentState
from workflows.agent import AgentRecord, AgentWorkflow, agent_workflow_id
from workflows.messages import PageRequest

SETTLE_TIMEOUT = 30.0
"""Seconds of real time an incident may take to finish what fell due before the drill looks at it."""
_BUSY = {EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED}


class _Captured(list[PageRequest]):
    """The worker's capture list, noting when (server time) each page would have gone out."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[datetime] = []

    def append(self, req: PageRequest) -> None:
        super().append(req)
        self.sent_at.append(activity.info().current_attempt_scheduled_time)


@dataclass
class _Incident:
    key: str
    workflow_id: str
    service: str
    summary: str


class Play:
    """One scenario on the server: its worker's queue, its incidents, its clock."""

    def __init__(self, env: WorkflowEnvironment, drill: Drill, origin: datetime) -> None:
        self.env = env
        self.drill = drill
        self.origin = origin
        self.tag = uuid.uuid4().hex[:8]
        self.scope = f"drill:{self.tag}"
        self.queue = f"drill-{self.tag}"
        self.pages = _Captured()
        self.key = SigningKey.generate()
        """The drill's own gateway key: its requests carry proofs its worker trusts, as a real gateway's do."""
        self.incidents = Incidents(env.client, task_queue=self.queue, signer=Signer(self.key))
        self.opened: dict[str, _Incident] = {}

    # -- the clock and settling --

    async def advance_to(self, when: timedelta) -> None:
        target = self.origin + when
        now = await self.env.get_current_time()
        if target > now:
            await self.env.sleep(target - now)
        await self.settle()

    async def settle(self) -> None:
        """Wait until every incident, and every agent's record, has finished what is due: no activity or workflow
        task in flight, and no timer due by now that has not fired yet (the server fires it a moment after the
        clock passes it)."""
        now = await self.env.get_current_time()
        for inc in self.opened.values():
            await _settle(self.env.client.get_workflow_handle(inc.workflow_id), now)
        for agent in self.drill.config.agents:
            handle = self.env.client.get_workflow_handle(agent_workflow_id(self.queue, agent))
            try:
                await _settle(handle, now)
            except RPCError as e:
                if e.status is not RPCStatusCode.NOT_FOUND:  # no record yet: nothing to wait for
                    raise

    async def seed(self) -> None:
        """Give each agent the standing the scenario's `earned:` says it has when the drill starts."""
        for agent, rungs in self.drill.scenario.earned.items():
            ladder = {sev: Rung(level=s.level, clean=s.clean) for sev, s in rungs.items()}
            await self.env.client.start_workflow(
                AgentWorkflow.run,
                AgentRecord(agent=agent, stats=AgentStats(ladder=ladder)),
                id=agent_workflow_id(self.queue, agent),
                task_queue=self.queue,
            )
        await self.settle()

    # -- acting --

    async def alert(self, ev: AlertEvent, n: int) -> None:
        config = self.drill.config
        known = self.opened.get(ev.key)
        if known is not None:
            service, summary = known.service, ev.summary or known.summary
        else:
            service = ev.service or config.route(ev.labels).service
            summary = ev.summary or ev.key
        severity = ev.severity or config.route(ev.labels).severity or Severity.SEV3
        now = await self.env.get_current_time()
        alert = Alert(
            source="drill",
            scope=self.scope,
            dedup_key=ev.key,
            event_id=f"{self.tag}-{n}",
            action=AlertAction(ev.action),
            summary=summary,
            service=service,
            severity=severity,
            labels=ev.labels,
            received_at=now,
        )
        policy = IncidentPolicy.snapshot(config, service).model_copy(update={"providers": ["changes"]})
        ingested = await self.incidents.ingest(alert, policy, self.scope)
        first = not self.opened
        if known is None and ev.action == "trigger":
            self.opened[ev.key] = _Incident(ev.key, ingested.workflow_id, service, summary)
        await self.settle()
        if first and self.opened:
            await self._anchor(ev)

    async def _anchor(self, ev: AlertEvent) -> None:
        """Count scenario time from when the first incident really opened: the server's clock runs on in real time
        while the worker starts and takes the first alert (most of a second on a cold start), and a deadline of
        "5 minutes after opening" must be judged at 5m, not at 5m less that start-up."""
        st = await self._state(next(iter(self.opened.values())).workflow_id)
        if st is not None:
            self.origin = st.opened_at - ev.at

    async def step(self, step: Step) -> StepResult:
        inc = self.opened[self.drill.scenario.incident_of(step)]
        decided = None
        try:
            if step.do in ("approve", "deny"):
                decided = await self._approval(step, inc.workflow_id)
            result = await self._do(step, inc.workflow_id, decided)
        except Refused as e:
            outcome: StepOutcome = "undefined" if e.verdict == "undefined" else "refused" if e.rule else "error"
            return StepResult(outcome, str(e), e.rule, decided=decided)
        except (NotFound, ValidationError, _NoApproval) as e:
            return StepResult("error", str(e).splitlines()[0], decided=decided)
        finally:
            await self.settle()
        if result.approval_id:
            return StepResult("pending", result.message, result.rule, result.approval_id, decided)
        return StepResult("done", result.message, result.rule, decided=decided)

    async def _do(self, step: Step, wid: str, approval: str | None) -> Any:
        c, who = await self._as(step), step.who
        match step.do:
            case "acknowledge":
                return await c.acknowledge(wid, who)
            case "note":
                return await c.note(wid, who, step.text or "")
            case "resolve":
                return await c.resolve(wid, who, step.summary or step.text or step.rationale)
            case "severity":
                assert step.severity is not None  # the scenario's validator checked
                return await c.set_severity(wid, who, step.severity, step.rationale)
            case "approve":
                return await c.approve(wid, who, approval or "", step.text)
            case "deny":
                return await c.deny(wid, who, approval or "", step.reason)
            case "update":
                audience = "customers" if step.params.get("audience") == "customers" else "internal"
                return await c.stakeholder_update(wid, who, step.text, audience)
            case "lead" | "role":
                role = step.role or "lead"
                return await c.set_role(wid, who, role, step.person, step.propose, step.rationale)
        return await c.request(wid, who, step.do, step.rationale, step.params, step.text)

    async def _as(self, step: Step) -> Incidents:
        """The façade as the step's human proved who they are (`via`): a drill rehearses someone present, so a
        code is the one for the drill clock's time step (two in the same 30 s are one code, refused the second
        time, as they would be)."""
        if step.via == "totp":
            now = await self.env.get_current_time()
            return self.incidents.acting(Method.TOTP, totp_step=int(now.timestamp()) // 30)
        return self.incidents.acting(Method(step.via))

    async def _approval(self, step: Step, wid: str) -> str:
        if step.approval != "last":
            return step.approval
        approvals = (await self.incidents.state(wid)).approvals
        if not approvals:
            raise _NoApproval("there is no approval to decide yet (`approval: last`)")
        return approvals[-1].id

    # -- looking --

    async def seen(self, key: str) -> Seen:
        inc = self.opened.get(key)
        state = await self._state(inc.workflow_id) if inc else None
        pages = []
        for req, when in zip(self.pages, self.pages.sent_at, strict=True):
            if inc and req.page.workflow_id == inc.workflow_id:
                pages.append(
                    SentPage(
                        at=when - self.origin,
                        person=req.recipient.person,
                        kind=req.page.kind,
                        level=req.page.level,
                        approval_id=getattr(req.page, "approval_id", None),
                    )
                )
        return Seen(state=state, origin=self.origin, pages=pages, autonomy=await self._autonomy(inc))

    async def _autonomy(self, inc: _Incident | None) -> dict[str, dict[str, dict[str, str]]]:
        """Each configured agent's level per laddered severity: on its record, and as `inc` fixed it."""
        b = self.drill.config.boundaries
        ladders = b.ladders()
        if not ladders:
            return {}
        record: dict[str, dict[str, str]] = {}
        for agent in self.drill.config.agents:
            handle = self.env.client.get_workflow_handle(agent_workflow_id(self.queue, agent))
            try:
                levels = await handle.query(AgentWorkflow.levels)
            except RPCError:
                levels = {}
            record[agent] = {sev.value: ladder.in_force(levels.get(sev)) for sev, ladder in ladders.items()}
        fixed: dict[str, dict[str, str]] = {}
        if inc is not None:
            policy = await self.incidents.policy(inc.workflow_id)
            if policy.boundaries.earned is not None:
                fixed = {
                    agent: {sev.value: policy.boundaries.level(sev, agent) for sev in ladders}
                    for agent in self.drill.config.agents
                }
        return {"record": record, "incident": fixed}

    async def _state(self, wid: str) -> IncidentState | None:
        try:
            return await self.incidents.state(wid)
        except Exception:  # not opened (the first trigger never arrived): nothing to see
            return None

    async def timeline(self) -> list[TimelineLine]:
        lines = []
        for key, inc in self.opened.items():
            st = await self._state(inc.workflow_id)
            for e in st.timeline if st else []:
                at = timedelta(seconds=int(max((e.at - self.origin).total_seconds(), 0)))
                lines.append(TimelineLine(at, self.drill.scenario.start + at, key, e.actor, e.kind, e.text))
        return sorted(lines, key=lambda t: t.at)

    async def finish(self) -> None:
        """Stop what is still running: the scenario is over, and the next one shares the server's clock."""
        for inc in self.opened.values():
            handle = self.env.client.get_workflow_handle(inc.workflow_id)
            try:
                if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("drill over")
            except Exception:  # already closed between the two calls
                pass


class _NoApproval(Exception):
    pass


def _due_timers(events: Sequence[HistoryEvent], now: datetime) -> bool:
    """Whether a timer of this run is due by `now` and has neither fired nor been cancelled."""
    due: set[str] = set()
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            a = e.timer_started_event_attributes
            if e.event_time.ToDatetime(UTC) + a.start_to_fire_timeout.ToTimedelta() <= now:
                due.add(a.timer_id)
        elif e.event_type == EventType.EVENT_TYPE_TIMER_FIRED:
            due.discard(e.timer_fired_event_attributes.timer_id)
        elif e.event_type == EventType.EVENT_TYPE_TIMER_CANCELED:
            due.discard(e.timer_canceled_event_attributes.timer_id)
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            due.clear()
    return bool(due)


async def _settle(handle: WorkflowHandle[Any, Any], now: datetime) -> None:
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
    while True:
        desc = await handle.describe()
        if desc.status is not WorkflowExecutionStatus.RUNNING:
            return
        if not desc.raw_description.pending_activities:
            history = await handle.fetch_history()
            idle = history.events and history.events[-1].event_type not in _BUSY
            if idle and not _due_timers(history.events, now):
                return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(
                f"{handle.id} still busy after {SETTLE_TIMEOUT:.0f}s of real time (a workflow task failing?)"
            )
        await asyncio.sleep(0.01)
