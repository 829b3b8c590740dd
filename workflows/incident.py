"""IncidentWorkflow: one per incident. Its state is the incident; its history is the audit log.

The workflow id comes from the alert's dedup key, so every event for an open incident lands here through
signal-with-start. Escalation is a durable timer loop over absolute deadlines; human decisions arrive as
updates, and the boundaries in the policy snapshot decide what an agent may do.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from incident import lifecycle
    from incident.approvals import MAX_REFUSAL_KINDS, ActionRun, Approval, ApprovalStatus, Refusal, refusal_memo
    from incident.context import ContextPart, ContextRequest, assemble, describe_context
    from incident.durations import format_duration
    from incident.ids import incident_id_from_int
    from incident.models import (
        ActionResult,
        Actor,
        ActorKind,
        Alert,
        AlertAction,
        Delivery,
        Outcome,
        Page,
        Recipient,
        Severity,
        Status,
        TimelineEntry,
    )
    from incident.policy import Decision, Verdict
    from incident.postmortem import draft
    from incident.state import (
        IncidentInput,
        IncidentPolicy,
        IncidentState,
    )
    from workflows import search_attributes as sa
    from workflows.details import render_details
    from workflows.messages import (
        ActionRequest,
        ActorRequest,
        ChangesRequest,
        DecisionRequest,
        NoteRequest,
        PageRequest,
        ReloadRequest,
        ResolveRequest,
        RunActionRequest,
        SeverityRequest,
        TargetsRequest,
        TargetsResult,
    )

LOOKUP_TIMEOUT = timedelta(seconds=30)
PAGE_TIMEOUT = timedelta(seconds=30)
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)
LOOKUP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)
CONTEXT_TIMEOUT = timedelta(seconds=30)
ONCE = RetryPolicy(maximum_attempts=1)
AGENT = "baton"
"""The built-in agent that does the first minute's machine work."""
NOT_FORWARDED = "not forwarded"
LATE_FACTOR, LATE_MIN_S = 5, 10.0
ACTION_TIMEOUT = timedelta(minutes=10)
ACTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(seconds=30), maximum_attempts=3
)
APPROVALS = "approvals"
"""Patch id: agents' judgment requests become approvals, and refusals are counted and told. Incidents that
started before it keep refusing them as they did (the saved histories in tests/fixtures replay this way)."""
SENT = {
    "page": ("page {p} via {m} (level {level})", "paged", ""),
    "recovered": (
        "ask {p} via {m} to confirm the resolve",
        "asked_to_resolve",
        "asked {p} via {m} to confirm the resolve",
    ),
    "update": ("send {p} the late context via {m}", "page_updated", "updated {p} via {m}"),
    "approval": ("ask {p} via {m} to decide {a}", "asked_to_decide", "asked {p} via {m} to approve or deny {a}"),
    "notice": ("tell {p} via {m}", "told", "told {p} via {m}"),
}
"""Per page kind: the activity summary, and the timeline kind and text once delivered."""
CONTEXT_ACTIVITIES = {"metrics": "gather_metrics", "logs": "gather_logs", "github": "gather_deployments"}


class Refused(ApplicationError):
    """A request the validator turns away: nothing is written."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="Refused", non_retryable=True)


@workflow.defn(sandboxed=False)
class IncidentWorkflow:
    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self._policy: IncidentPolicy = inp.policy
        self._history_limit = inp.history_limit
        self._next_id = inp.incident_id
        self._state: IncidentState | None = inp.state
        self._after_resolve: list[Alert] = []
        self._wake = False
        self._recent: set[str] = set(inp.state.recent_events) if inp.state else set()
        self._notices: list[tuple[list[str], Page]] = []
        """Messages to send from the main loop: (escalation targets, page)."""
        self._to_run: list[str] = []
        """Approved approvals whose action the main loop runs."""
        self._parts: list[ContextPart] = []
        self._late_pending = 0
        self._late_ready = False
        for alert in inp.carry_alerts:
            self._on_alert(alert)

    # ---- the main loop ---------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> Outcome:
        await workflow.wait_condition(lambda: self._state is not None)
        st = self._require()
        self._publish()
        while st.open:
            if self._notices:
                await self._send_notices()
                continue
            if self._to_run:
                await self._run_approved(self._to_run.pop(0))
                self._publish()
                continue
            if workflow.info().get_current_history_length() >= self._history_limit:
                await workflow.wait_condition(workflow.all_handlers_finished)
                st.runs += 1
                workflow.continue_as_new(
                    IncidentInput(
                        policy=self._policy,
                        state=st,
                        incident_id=st.incident_id,
                        carry_alerts=self._after_resolve,
                        history_limit=self._history_limit,
                    )
                )
            if self._late_ready:
                await self._post_late_context()
                continue
            now = workflow.now()
            if st.escalation.due(now):
                await self._escalate()
                self._publish()
                continue
            if st.status is Status.ACKNOWLEDGED and st.ack_deadline and st.ack_deadline <= now:
                self._ack_timed_out(now)
                self._publish()
                continue
            if due := [a for a in st.pending_approvals if a.deadline <= now]:
                self._approval_timed_out(due[0], now)
                self._publish()
                continue
            deadline, why = self._next_deadline()
            self._wake = False
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._wake,
                    timeout=(deadline - now) if deadline else None,
                    timeout_summary=why,
                )
            self._publish()
        await workflow.wait_condition(workflow.all_handlers_finished)
        for approval_id in self._to_run:  # approved in the same moment the incident was resolved
            self._record(Actor.system(), "action_skipped", f"{approval_id} was approved but not run: resolved first")
        self._publish()
        outcome = Outcome(
            incident_id=st.incident_id,
            status=st.status,
            resolved_by=st.resolved_by,
            summary=st.resolution or "",
            opened_at=st.opened_at,
            resolved_at=st.resolved_at,
            alert_count=st.alert_count,
        )
        if any(a.action is AlertAction.TRIGGER for a in self._after_resolve):
            # Alerts that arrived while the resolve was being recorded: a resolved incident never absorbs them,
            # so they open the next incident on this key, in a fresh run.
            next_id = incident_id_from_int(workflow.random().getrandbits(30))
            workflow.continue_as_new(
                IncidentInput(
                    policy=self._policy,
                    incident_id=next_id,
                    carry_alerts=self._after_resolve,
                    history_limit=self._history_limit,
                ),
                search_attributes=TypedSearchAttributes([SearchAttributePair(sa.INCIDENT_ID, next_id)]),
            )
        outcome.postmortem = draft(st, self._policy.service)  # `baton postmortem` drafts it for a continued run
        return outcome

    def _next_deadline(self) -> tuple[datetime | None, str | None]:
        st = self._require()
        deadlines: list[tuple[datetime, str]] = []
        if st.escalation.active and st.escalation.next_at:
            cur = st.escalation
            if cur.pending_exhaustion(self._policy.escalation):
                deadlines.append((cur.next_at, "escalation exhausted"))
            else:
                deadlines.append((cur.next_at, f"escalate to level {cur.level + 1}"))
        if st.status is Status.ACKNOWLEDGED and st.ack_deadline:
            deadlines.append((st.ack_deadline, "ack timeout"))
        deadlines += [(a.deadline, f"approval {a.id} ({a.action}) unanswered") for a in st.pending_approvals]
        if not deadlines:
            return None, None
        return min(deadlines, key=lambda d: d[0])

    # ---- escalation ------------------------------------------------------------------------------------------

    async def _escalate(self) -> None:
        st = self._require()
        pol = self._policy.escalation
        cur = st.escalation
        now = workflow.now()
        if cur.pending_exhaustion(pol):
            passes = pol.repeat + 1
            self._record(
                Actor.system(),
                "escalation_exhausted",
                f"escalation exhausted: nobody acknowledged after {passes} pass{'es' if passes > 1 else ''} "
                f"through {len(pol.levels)} level(s)",
            )
            st.escalation = cur.exhaust()
            return
        level = pol.levels[cur.level]
        n = cur.level + 1
        lookup = workflow.execute_local_activity(
            "lookup_targets",
            TargetsRequest(targets=level.notify, at=now),
            start_to_close_timeout=LOOKUP_TIMEOUT,
            result_type=TargetsResult,
            retry_policy=LOOKUP_RETRY,
            summary=f"who is level {n}: {', '.join(level.notify)}",
        )
        if st.context is None:
            # The first minute: who is on call and what changed, what the metrics and logs say, in parallel;
            # the page waits for the context at most `context.deadline`, and what comes later follows it.
            found, _ = await asyncio.gather(lookup, self._gather_context())
        else:
            found = await lookup
        for problem in found.problems:
            self._record(Actor.system(), "page_problem", problem)
        if st.escalation is not cur:
            return  # acknowledged or resolved while looking up
        if not found.recipients:
            self._record(
                Actor.system(),
                "escalation_skipped",
                f"level {n} ({', '.join(level.notify)}) resolves to nobody; skipped",
            )
            st.escalation = cur.advance(pol, now, skipped=True)
            return
        names = ", ".join(r.person for r in found.recipients)
        pass_note = f", pass {cur.cycle + 1}" if pol.repeat else ""
        self._record(Actor.system(), "escalation", f"paging level {n} of {len(pol.levels)}{pass_note}: {names}")
        page = self._page(n, cur.cycle)
        await asyncio.gather(*(self._page_person(r, page) for r in found.recipients))
        st.top_level = max(st.top_level, n)
        if st.escalation is cur:
            st.escalation = cur.advance(pol, now, skipped=False)

    async def _gather_context(self) -> None:
        st = self._require()
        ctx = self._policy.context
        tasks = [asyncio.ensure_future(self._context_part(name)) for name in self._policy.providers]
        # baton's own change log answers locally in milliseconds; only remote providers need the deadline timer.
        remote = any(name != "changes" for name in self._policy.providers)
        done, pending = await workflow.wait(tasks, timeout=ctx.deadline.total_seconds() if remote else None)
        self._parts = [t.result() for t in done]
        for t in pending:
            t.add_done_callback(self._late_part)
        self._late_pending = len(pending)
        st.context = assemble(self._parts, st.opened_at, ctx.window, self._policy.providers)
        self._record(Actor.agent(AGENT), "context", "context gathered: " + describe_context(st.context))

    async def _context_part(self, provider: str) -> ContextPart:
        ctx, st = self._policy.context, self._require()
        # Providers get longer than the page waits: what misses the page follows it to the same thread.
        timeout = max(ctx.deadline.total_seconds() * LATE_FACTOR, LATE_MIN_S)
        try:
            if provider == "changes":
                return await workflow.execute_local_activity(
                    "recent_changes",
                    ChangesRequest(service=st.service, since=st.opened_at - ctx.window, timeout_s=timeout),
                    result_type=ContextPart,
                    start_to_close_timeout=CONTEXT_TIMEOUT,
                    retry_policy=ONCE,
                    summary="recent changes",
                )  # local: it reads Temporal and answers in milliseconds, so no task-queue round trip
            return await workflow.execute_activity(
                CONTEXT_ACTIVITIES[provider],
                ContextRequest(service=st.service, alert_at=st.opened_at, timeout_s=timeout),
                result_type=ContextPart,
                start_to_close_timeout=CONTEXT_TIMEOUT,
                retry_policy=ONCE,
                summary=f"gather {provider}",
            )
        except ActivityError as e:
            return ContextPart(provider=provider, ok=False, error=str(e.cause) if e.cause else str(e))  # type: ignore[arg-type]

    def _late_part(self, task: asyncio.Future[ContextPart]) -> None:
        self._parts.append(task.result())
        self._late_pending -= 1
        self._late_ready = True
        self._wake = True

    async def _post_late_context(self) -> None:
        """Context that missed the first page goes to the same thread each responder got the page in."""
        self._late_ready = False
        st = self._require()
        ctx = self._policy.context
        st.context = assemble(self._parts, st.opened_at, ctx.window, self._policy.providers)
        if self._late_pending:
            return  # wait for the rest, then send one update
        self._record(Actor.agent(AGENT), "context", "late context: " + describe_context(st.context))
        if not st.threads:
            return
        found: TargetsResult = await workflow.execute_local_activity(
            "lookup_targets",
            TargetsRequest(targets=[f"user:{p}" for p in st.threads], at=workflow.now()),
            start_to_close_timeout=LOOKUP_TIMEOUT,
            result_type=TargetsResult,
            retry_policy=LOOKUP_RETRY,
            summary="who gets the late context",
        )
        update = self._page(0, 0).model_copy(update={"kind": "update"})
        sends = []
        for r in found.recipients:
            for method, thread in st.threads.get(r.person, {}).items():
                page = update.model_copy(update={"thread": thread or None})
                sends.append(self._page_person(r.model_copy(update={"methods": [method]}), page))
        await asyncio.gather(*sends)

    async def _page_person(self, recipient: Recipient, page: Page) -> None:
        """Try the person's contact methods in order until one delivers; every attempt goes on the timeline."""
        st = self._require()
        for i, method in enumerate(recipient.methods):
            try:
                delivery: Delivery = await workflow.execute_activity(
                    "send_page",
                    PageRequest(recipient=recipient, method=method, page=page),
                    result_type=Delivery,
                    start_to_close_timeout=PAGE_TIMEOUT,
                    retry_policy=PAGE_RETRY,
                    summary=SENT[page.kind][0].format(
                        p=recipient.person, m=method, level=page.level, a=page.approval_id
                    ),
                )
            except ActivityError as e:
                reason = str(e.cause) if e.cause else str(e)
                rest = recipient.methods[i + 1 :]
                then = f"; trying {rest[0]}" if rest else "; no method left"
                self._record(
                    Actor.system(),
                    "page_failed",
                    f"could not reach {recipient.person} via {method}: {reason}{then}",
                    {"person": recipient.person, "method": method, "level": page.level},
                )
                continue
            if page.kind != "page" and delivery.detail == NOT_FORWARDED:
                continue  # a method that only carries pages (PagerDuty): the follow-up goes by the next one
            if page.kind != "page":
                kind, what = SENT[page.kind][1:]
                data: dict[str, object] = {"person": recipient.person, "method": method}
                if page.approval_id:
                    data["approval"] = page.approval_id
                self._record(Actor.system(), kind, what.format(p=recipient.person, m=method, a=page.approval_id), data)
                if page.kind == "approval":
                    st.threads.setdefault(recipient.person, {}).setdefault(method, delivery.thread or "")
                    if recipient.person not in st.paged:
                        st.paged.append(recipient.person)
                return
            st.threads.setdefault(recipient.person, {})[method] = delivery.thread or ""
            if recipient.person not in st.paged:
                st.paged.append(recipient.person)
            if st.first_page_at is None:
                st.first_page_at = workflow.now()
                if st.alert_received_at is not None:
                    st.seconds_to_first_page = round((st.first_page_at - st.alert_received_at).total_seconds(), 3)
            self._record(
                Actor.system(),
                "paged",
                f"paged {recipient.person} via {method} (level {page.level}, {recipient.via})",
                {"person": recipient.person, "method": method, "level": page.level, "detail": delivery.detail},
            )
            return

    async def _send_notices(self) -> None:
        """Send what the incident has to tell or ask people (confirm a resolve, decide an approval, a refusal),
        each to its targets, through their contact methods."""
        notices, self._notices = self._notices, []
        for targets, notice in notices:
            if not targets:
                continue
            found: TargetsResult = await workflow.execute_local_activity(
                "lookup_targets",
                TargetsRequest(targets=targets, at=workflow.now()),
                start_to_close_timeout=LOOKUP_TIMEOUT,
                result_type=TargetsResult,
                retry_policy=LOOKUP_RETRY,
                summary="who to tell: " + ", ".join(t.removeprefix("user:") for t in targets),
            )
            for problem in found.problems:
                self._record(Actor.system(), "page_problem", problem)
            await asyncio.gather(*(self._page_person(r, notice) for r in found.recipients))

    def _tell(self, targets: list[str], kind: str, text: str, approval_id: str | None = None) -> None:
        page = self._page(0, 0).model_copy(update={"kind": kind, "notice": text, "approval_id": approval_id})
        self._notices.append((targets, page))
        self._wake = True

    def _responders(self) -> list[str]:
        return [f"user:{p}" for p in self._require().paged]

    def _page(self, level: int, cycle: int) -> Page:
        st = self._require()
        links = []
        for rec in list(st.alerts.values())[:5]:
            links.extend(rec.links)
        return Page(
            incident_id=st.incident_id,
            workflow_id=st.workflow_id,
            title=st.title,
            service=st.service,
            severity=st.severity,
            status=st.status,
            level=level,
            levels=len(self._policy.escalation.levels),
            cycle=cycle,
            alert_count=st.alert_count,
            opened_at=st.opened_at,
            runbook=self._policy.service.runbook,
            links=links[:10],
            context=st.context,
        )

    def _ack_timed_out(self, now: datetime) -> None:
        self._apply(lifecycle.ack_timed_out(self._require(), self._policy, now))

    # ---- alerts from sources ---------------------------------------------------------------------------------

    @workflow.signal
    def alert(self, alert: Alert) -> None:
        """An event from a monitoring source for this dedup key. Signals are durable the moment they return."""
        self._on_alert(alert)

    @workflow.signal
    def alerts(self, batch: list[Alert]) -> None:
        """Several events for this dedup key in one signal: how the intake hands over an alert storm."""
        for alert in batch:
            self._on_alert(alert)

    def _on_alert(self, alert: Alert) -> None:
        now = workflow.now()
        if self._state is None:
            if alert.action is not AlertAction.TRIGGER:
                return  # an acknowledge/resolve for an incident that never opened: nothing to do
            wid = workflow.info().workflow_id
            self._state, opened = lifecycle.open_incident(alert, self._next_id, wid, self._policy, now)
            self._apply(opened)
        st = self._state
        if not st.open:
            self._after_resolve.append(alert)
            return
        self._apply(lifecycle.record_alert(st, self._policy, alert, now, self._recent))

    # ---- human and agent requests ----------------------------------------------------------------------------

    def _gate(self, actor: Actor, action: str, ask: ActionRequest) -> ActionResult | None:
        """The boundaries' answer to `actor` doing `action` through its own update: None when allowed, else the
        pending approval it became or the refusal."""
        decision = self._policy.boundaries.decide(action, actor, self._require().severity)
        if decision.verdict is Verdict.APPROVAL and workflow.patched(APPROVALS):
            return self._ask_approval(ask, decision)
        if not decision.allowed:
            return self._refuse(actor, action, decision.rule, "ask a responder to do it", decision.verdict.value)
        return None

    @workflow.update
    def acknowledge(self, req: ActorRequest) -> ActionResult:
        ask = ActionRequest(actor=req.actor, action="acknowledge", rationale="acknowledge")
        return self._gate(req.actor, "acknowledge", ask) or self._ack_by(req.actor)

    def _ack_by(self, actor: Actor) -> ActionResult:
        st = self._require()
        req = ActorRequest(actor=actor)
        if req.actor.kind is ActorKind.AGENT:
            self._record(
                req.actor,
                "coordination",
                f"{req.actor} started coordinating; escalation to a human continues until a human acknowledges",
            )
            return ActionResult(ok=True, message="coordination started; a human still acknowledges", status=st.status)
        if st.status is Status.ACKNOWLEDGED:
            return ActionResult(ok=True, message=f"already acknowledged by {st.acknowledged_by}", status=st.status)
        self._acknowledge(req.actor, via_source=False)
        return ActionResult(ok=True, message=f"{st.incident_id} acknowledged by {req.actor}", status=st.status)

    @acknowledge.validator
    def _validate_acknowledge(self, req: ActorRequest) -> None:
        self._validate_open()

    def _acknowledge(self, actor: Actor, via_source: bool) -> None:
        self._apply(lifecycle.acknowledge(self._require(), self._policy, actor, workflow.now(), via_source))

    @workflow.update
    def resolve(self, req: ResolveRequest) -> ActionResult:
        st = self._require()
        ask = ActionRequest(actor=req.actor, action="resolve", rationale=req.summary, params={"summary": req.summary})
        if gated := self._gate(req.actor, "resolve", ask):
            return gated
        self._close(req.actor, req.summary)
        return ActionResult(ok=True, message=f"{st.incident_id} resolved by {req.actor}", status=st.status)

    def _close(self, actor: Actor, summary: str) -> None:
        self._apply(lifecycle.close(self._require(), actor, summary, workflow.now()))

    @resolve.validator
    def _validate_resolve(self, req: ResolveRequest) -> None:
        self._validate_open()

    @workflow.update
    def severity(self, req: SeverityRequest) -> ActionResult:
        """A human sets the severity (confirming or changing it); an agent proposes, and until a human confirms
        where the policy asks for it, the incident runs at the more severe of what is in force and the proposal."""
        st = self._require()
        if req.actor.kind is ActorKind.HUMAN:
            t = lifecycle.set_severity(st, req.actor, req.severity, req.reason, workflow.now())
            return ActionResult(ok=True, message=self._apply(t), status=st.status)
        ask = ActionRequest(
            actor=req.actor, action="triage_severity", params={"severity": req.severity.value}, rationale=req.reason
        )
        return self._gate(req.actor, "triage_severity", ask) or self._propose_severity(req)

    def _propose_severity(self, req: SeverityRequest) -> ActionResult:
        st = self._require()
        t = lifecycle.propose_severity(st, self._policy, req.actor, req.severity, req.reason, workflow.now())
        return ActionResult(ok=True, message=self._apply(t), status=st.status)

    @severity.validator
    def _validate_severity(self, req: SeverityRequest) -> None:
        self._validate_open()
        if req.actor.kind is not ActorKind.HUMAN and not req.reason.strip():
            raise Refused("a severity proposal needs a reason")

    @workflow.update
    def note(self, req: NoteRequest) -> ActionResult:
        ask = ActionRequest(actor=req.actor, action="note", text=req.text, rationale=req.text)
        return self._gate(req.actor, "note", ask) or self._note_by(req.actor, req.text)

    def _note_by(self, actor: Actor, text: str) -> ActionResult:
        self._record(actor, "note", text.strip())
        return ActionResult(ok=True, message="note added", status=self._require().status)

    @note.validator
    def _validate_note(self, req: NoteRequest) -> None:
        if self._state is None:
            raise Refused("the incident has not opened yet")
        if not req.text.strip():
            raise Refused("a note needs text")

    def _validate_open(self) -> None:
        if self._state is None:
            raise Refused("the incident has not opened yet")
        if not self._state.open:
            raise Refused(f"{self._state.incident_id} is already resolved")

    def _refuse(self, actor: Actor, action: str, rule: str, hint: str, verdict: str = "never") -> ActionResult:
        """A request the boundaries turn down: on the timeline, counted (search attribute `BoundaryRefusals` and
        the memo `baton boundaries report` reads), and told to the responders the first time of its kind."""
        st, now = self._require(), workflow.now()
        what = "is not an action the policy names" if verdict == Verdict.UNDEFINED else f"refused by {rule}"
        text = f"{actor} asked to {action}: {what}; {hint}"
        self._record(actor, "refused" if verdict != Verdict.UNDEFINED else "undefined", text, {"action": action})
        if not workflow.patched(APPROVALS):  # incidents started before refusals were counted and told
            return ActionResult(ok=False, message=f"refused by {rule}: {hint}", rule=rule, status=st.status)
        st.refused_total += 1
        found = next((r for r in st.refusals if r.key == (str(actor), action, rule)), None)
        if found is None and len(st.refusals) < MAX_REFUSAL_KINDS:
            found = Refusal(actor=str(actor), action=action, verdict=verdict, rule=rule, first_at=now, last_at=now)
            st.refusals.append(found)
            self._tell(self._responders(), "notice", f"Refused: {text}")
        if found is not None:
            found.count += 1
            found.last_at = now
        workflow.upsert_search_attributes([sa.BOUNDARY_REFUSALS.value_set(st.refused_total)])
        workflow.upsert_memo(refusal_memo(st.refusals))
        message = (
            f"{action} is undefined: {rule}; {hint}" if verdict == Verdict.UNDEFINED else f"refused by {rule}: {hint}"
        )
        return ActionResult(ok=False, message=message, rule=rule, status=st.status, verdict=verdict)

    # ---- requests the boundaries decide, and approvals -------------------------------------------------------

    @workflow.update
    async def request(self, req: ActionRequest) -> ActionResult:
        """Ask to do an action: it runs now (auto), becomes a pending approval (approval), or is refused."""
        st = self._require()
        decision = self._policy.boundaries.decide(req.action, req.actor, st.severity)
        if decision.verdict in (Verdict.NEVER, Verdict.UNDEFINED):
            if decision.verdict is not Verdict.UNDEFINED:
                hint = "ask a responder to do it"
            elif req.actor.kind is ActorKind.HUMAN:
                hint = "name it in boundaries.custom_actions (and give agents a rule for it) first"
            else:
                hint = "ask the team to write a rule for it in boundaries, or ask a responder to do it"
            return self._refuse(req.actor, req.action, decision.rule, hint, decision.verdict.value)
        if decision.verdict is Verdict.APPROVAL:
            return self._ask_approval(req, decision)
        return await self._do(req, req.actor, approval=None)

    @request.validator
    def _validate_request(self, req: ActionRequest) -> None:
        self._validate_open()
        if req.actor.kind is not ActorKind.HUMAN and not req.rationale.strip():
            raise Refused(f"a request to {req.action} needs a rationale: say why")
        if req.action == "customer_comms" and not (req.text or "").strip():
            raise Refused("customer_comms needs the text to post")
        if req.action == "page" and not req.params.get("target", "").strip():
            raise Refused("page needs params {target: NAME | user:NAME | schedule:NAME}")
        if req.action == "triage_severity" and req.params.get("severity") not in list(Severity):
            raise Refused("triage_severity needs params {severity: SEV0..SEV4}")

    def _ask_approval(self, req: ActionRequest, decision: Decision) -> ActionResult:
        st, now = self._require(), workflow.now()
        bounds = self._policy.boundaries
        approval = Approval(
            id=f"A{len(st.approvals) + 1}",
            action=req.action,
            params=req.params,
            text=(req.text or "").strip() or None,
            rationale=req.rationale.strip(),
            requested_by=str(req.actor),
            requested_at=now,
            rule=decision.rule,
            approvers=bounds.approvers_for(req.action),
            deadline=now + bounds.approval_timeout,
        )
        st.approvals.append(approval)
        why = f": {approval.rationale}" if approval.rationale else ""
        self._record(
            req.actor,
            "approval_requested",
            f"{req.actor} asks to {approval.describe()}{why} — approval {approval.id} needed ({decision.rule}); "
            f"{', '.join(approval.approvers)} may decide; unanswered, it escalates in "
            f"{format_duration(bounds.approval_timeout)}",
            {"approval": approval.id, "action": req.action},
        )
        self._tell(
            self._approver_targets(approval),
            "approval",
            lifecycle.approval_text(self._require(), approval),
            approval.id,
        )
        return ActionResult(
            ok=True,
            message=f"{approval.id}: {approval.describe()} waits for approval by {', '.join(approval.approvers)}",
            rule=decision.rule,
            status=st.status,
            verdict=Verdict.APPROVAL.value,
            approval_id=approval.id,
        )

    def _approver_targets(self, approval: Approval) -> list[str]:
        """Who is asked: the people who may approve; with nobody paged yet, the first escalation level."""
        st = self._require()
        people = self._policy.boundaries.approver_people(approval.action, st.paged)
        targets = [f"user:{p}" for p in people if f"user:{p}" != approval.requested_by.replace("human:", "user:")]
        if "oncall" in approval.approvers and not st.paged and self._policy.escalation.levels:
            targets += self._policy.escalation.levels[0].notify
        return targets

    def _approval_timed_out(self, approval: Approval, now: datetime) -> None:
        self._apply(lifecycle.approval_timed_out(self._require(), self._policy, approval, now))

    @workflow.update
    def decide(self, req: DecisionRequest) -> ActionResult:
        """A human approves or denies a pending approval."""
        st, now = self._require(), workflow.now()
        approval = st.approval(req.approval_id)
        assert approval is not None  # the validator checked
        verb = "approve" if req.approve else "deny"
        if req.actor.kind is not ActorKind.HUMAN:
            return self._refuse(
                req.actor, f"{verb} {approval.id}", "only humans decide approvals", "a responder decides", "never"
            )
        bounds = self._policy.boundaries
        if not bounds.may_approve(approval.action, req.actor.name, st.paged):
            return self._refuse(
                req.actor,
                f"{verb} {approval.id}",
                f"boundaries.approvers: {', '.join(approval.approvers)}",
                f"{req.actor.name} is not among those who may decide {approval.action}",
            )
        if approval.requested_by == str(req.actor) and not bounds.self_approval:
            return self._refuse(
                req.actor,
                f"{verb} {approval.id}",
                "boundaries.self_approval: false",
                "you asked for it; another approver decides",
            )
        approval.decided_by, approval.decided_at = str(req.actor), now
        if not req.approve:
            approval.status, approval.reason = ApprovalStatus.DENIED, req.reason.strip()
            text = f"{req.actor} denied {approval.id} ({approval.describe()}): {approval.reason}"
            self._record(req.actor, "approval_denied", text, {"approval": approval.id})
            self._tell(self._responders(), "notice", text)
            return ActionResult(ok=True, message=text, status=st.status)
        approval.status = ApprovalStatus.APPROVED
        if req.text and req.text.strip():
            approval.text = req.text.strip()
        edited = " (text edited)" if req.text and req.text.strip() else ""
        text = f"{req.actor} approved {approval.id} ({approval.describe()}){edited}"
        self._record(req.actor, "approval_approved", text, {"approval": approval.id})
        self._to_run.append(approval.id)
        self._wake = True
        return ActionResult(ok=True, message=text, status=st.status)

    @decide.validator
    def _validate_decide(self, req: DecisionRequest) -> None:
        self._validate_open()
        st = self._require()
        approval = st.approval(req.approval_id)
        if approval is None:
            pending = ", ".join(a.id for a in st.pending_approvals) or "none"
            raise Refused(f"{st.incident_id} has no approval {req.approval_id}; pending: {pending}")
        if approval.status is ApprovalStatus.EXPIRED:
            raise Refused(
                f"{approval.id} expired at {approval.decided_at:%H:%M:%S} UTC; it can no longer be decided "
                "(the requester may ask again)"
            )
        if not approval.pending:
            raise Refused(
                f"{approval.id} was already {approval.status.value} by {approval.decided_by} "
                f"at {approval.decided_at:%H:%M:%S} UTC"
            )
        if not req.approve and not req.reason.strip():
            raise Refused("a denial needs a reason (--reason)")

    async def _run_approved(self, approval_id: str) -> None:
        st = self._require()
        approval = st.approval(approval_id)
        if approval is None or not st.open:
            return
        approver = Actor.parse(approval.decided_by or "system")
        req = ActionRequest(
            actor=Actor.parse(approval.requested_by),
            action=approval.action,
            params=approval.params,
            text=approval.text,
            rationale=approval.rationale,
        )
        await self._do(req, approver, approval)

    async def _do(self, req: ActionRequest, by: Actor, approval: Approval | None) -> ActionResult:
        """Carry out an allowed or approved action. `by` is who answers for it: the approver, or the requester."""
        st = self._require()
        match req.action:
            case "resolve":
                self._close(by, req.params.get("summary") or req.text or req.rationale)
                return ActionResult(ok=True, message=f"{st.incident_id} resolved by {by}", status=st.status)
            case "acknowledge":
                return self._ack_by(by)
            case "note":
                return self._note_by(by, req.text or req.rationale or "(empty)")
            case "triage_severity":
                sev = SeverityRequest(actor=by, severity=Severity(req.params["severity"]), reason=req.rationale)
                return self.severity(sev) if by.kind is ActorKind.HUMAN else self._propose_severity(sev)
            case "escalate":
                return await self._escalate_now(by, req.rationale)
            case "page":
                return self._page_target(by, req.params["target"], req.rationale)
            case "lookup_oncall" | "gather_context":
                self._record(by, req.action, f"{by}: {req.action}" + (f" — {req.rationale}" if req.rationale else ""))
                return ActionResult(ok=True, message=f"{req.action}: allowed", status=st.status)
        return await self._run_action(req, by, approval)

    async def _run_action(self, req: ActionRequest, by: Actor, approval: Approval | None) -> ActionResult:
        """Rollback, customer comms, a custom action: run by the configured runner, as an activity."""
        st = self._require()
        ref = approval.id if approval else f"R{len(st.timeline)}"
        try:
            run: ActionRun = await workflow.execute_activity(
                "run_action",
                RunActionRequest(
                    incident_id=st.incident_id,
                    workflow_id=st.workflow_id,
                    approval_id=ref,
                    service=st.service,
                    action=req.action,
                    params=req.params,
                    text=req.text,
                    requested_by=str(req.actor),
                    approved_by=str(by) if approval else None,
                ),
                result_type=ActionRun,
                start_to_close_timeout=ACTION_TIMEOUT,
                retry_policy=ACTION_RETRY,
                summary=f"run {req.action}" + (f" ({approval.id})" if approval else ""),
            )
        except ActivityError as e:
            run = ActionRun(ok=False, detail=str(e.cause) if e.cause else str(e))
        if approval is not None:
            approval.run = run
        what = req.action + (f" ({approval.id})" if approval else "")
        if not run.ran:
            text = f"{what} {'approved' if approval else 'allowed'}; {run.detail}"
        elif run.dry_run:
            text = f"{what} would run (drill): {run.detail}"
        elif run.ok:
            text = f"{what} ran: {run.runner}: {run.detail}"
        else:
            text = f"{what} FAILED: {run.runner + ': ' if run.runner else ''}{run.detail}"
        self._record(by, "action_ran" if run.ok else "action_failed", text, {"action": req.action, "ref": ref})
        self._tell(self._responders(), "notice", text)
        return ActionResult(ok=run.ok, message=text, status=st.status)

    async def _escalate_now(self, by: Actor, why: str) -> ActionResult:
        """Page the next level now instead of waiting for its timer (or, acknowledged, bring in the next level)."""
        st, now = self._require(), workflow.now()
        levels = self._policy.escalation.levels
        cur = st.escalation
        why = f": {why}" if why else ""
        if cur.active and not cur.pending_exhaustion(self._policy.escalation):
            st.escalation = cur.model_copy(update={"next_at": now})
            self._record(by, "escalate", f"{by} escalates to level {cur.level + 1} now{why}")
            self._wake = True
            return ActionResult(ok=True, message=f"paging level {cur.level + 1} now", status=st.status)
        if st.top_level >= len(levels):
            return ActionResult(ok=False, message="every escalation level has already been paged", status=st.status)
        st.top_level += 1
        self._record(by, "escalate", f"{by} brings in level {st.top_level}{why}")
        self._notices.append((levels[st.top_level - 1].notify, self._page(st.top_level, 0)))
        self._wake = True
        return ActionResult(ok=True, message=f"paging level {st.top_level} now", status=st.status)

    def _page_target(self, by: Actor, target: str, why: str) -> ActionResult:
        """Page one more person (or whoever is on call on a schedule) into this incident."""
        st = self._require()
        target = target if ":" in target else f"user:{target}"
        self._record(by, "page_requested", f"{by} pages {target}" + (f": {why}" if why else ""))
        self._notices.append(([target], self._page(max(st.top_level, 1), 0)))
        self._wake = True
        return ActionResult(ok=True, message=f"paging {target}", status=st.status)

    @workflow.update
    def reload(self, req: ReloadRequest) -> ActionResult:
        """A human applies the current config's policy to this running incident."""
        st = self._require()
        if req.actor.kind is not ActorKind.HUMAN:
            return self._refuse(
                req.actor, "reload", "only humans change a running incident's policy", "ask a responder to reload"
            )
        t = lifecycle.reload(st, self._policy, req.policy, req.actor, workflow.now())
        self._policy = req.policy
        return ActionResult(ok=True, message=self._apply(t), status=st.status)

    @reload.validator
    def _validate_reload(self, req: ReloadRequest) -> None:
        self._validate_open()
        if req.policy.service.name != self._require().service:
            raise Refused(f"the policy is for {req.policy.service.name}, this incident is {self._require().service}")

    # ---- reading ---------------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> IncidentState:
        return self._require()

    @workflow.query
    def policy(self) -> IncidentPolicy:
        """The policy this incident runs by: the snapshot it started with, or what a human reloaded."""
        return self._policy

    @workflow.query
    def timeline(self) -> list[TimelineEntry]:
        return self._require().timeline

    # ---- helpers ---------------------------------------------------------------------------------------------

    def _require(self) -> IncidentState:
        if self._state is None:
            raise Refused("the incident has not opened yet")
        return self._state

    def _record(self, actor: Actor, kind: str, text: str, data: dict[str, object] | None = None) -> None:
        self._require().timeline.append(
            TimelineEntry(at=workflow.now(), actor=str(actor), kind=kind, text=text, data=data)
        )

    def _apply(self, t: lifecycle.Transition) -> str:
        """Record what a transition wrote, queue its notices, and wake the main loop if it asks; its message."""
        self._require().timeline.extend(t.entries)
        for n in t.notices:
            if n.kind == "recovered":
                self._notices.append((n.targets, self._page(0, 0).model_copy(update={"kind": "recovered"})))
            else:
                self._tell(n.targets, n.kind, n.text or "", n.approval_id)
        self._wake = self._wake or t.wake
        return t.message

    def _publish(self) -> None:
        """Keep search attributes and the UI's current details in step with the state."""
        st = self._require()
        current = workflow.info().typed_search_attributes
        wanted = [
            sa.INCIDENT_ID.value_set(st.incident_id),
            sa.INCIDENT_STATUS.value_set(st.status.value),
            sa.INCIDENT_SEVERITY.value_set(st.severity.value),
            sa.INCIDENT_SERVICE.value_set(st.service),
        ]
        changed = [u for u in wanted if current.get(u.key) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)
        workflow.set_current_details(render_details(st, self._policy))
