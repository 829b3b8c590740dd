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
    from activities.changes import ChangeActivities, ChangesRequest
    from activities.paging import PageRequest, PagingActivities, TargetsRequest, TargetsResult
    from incident.context import ContextPart, ContextRequest, assemble, describe_context
    from incident.escalation import EscalationCursor
    from incident.ids import incident_id_from_int
    from incident.models import (
        ActionResult,
        Actor,
        ActorKind,
        Alert,
        AlertAction,
        AlertRecord,
        Delivery,
        Outcome,
        Page,
        Recipient,
        Severity,
        Status,
        TimelineEntry,
        bounded,
    )
    from incident.policy import Verdict
    from incident.state import (
        MAX_ALERT_RECORDS,
        RECENT_EVENTS,
        TIMELINE_ALERT_ENTRIES,
        IncidentInput,
        IncidentPolicy,
        IncidentState,
    )
    from workflows import search_attributes as sa
    from workflows.details import render_details
    from workflows.requests import ActorRequest, NoteRequest, ResolveRequest, SeverityRequest

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
        self._notices: list[Page] = []
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
            if self._notices:
                await self._send_notices()
                continue
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
        return outcome

    def _next_deadline(self) -> tuple[datetime | None, str | None]:
        st = self._require()
        if st.escalation.active and st.escalation.next_at:
            cur = st.escalation
            if cur.pending_exhaustion(self._policy.escalation):
                return cur.next_at, "escalation exhausted"
            return cur.next_at, f"escalate to level {cur.level + 1}"
        if st.status is Status.ACKNOWLEDGED and st.ack_deadline:
            return st.ack_deadline, "ack timeout"
        return None, None

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
        lookup = workflow.execute_local_activity_method(
            PagingActivities.lookup_targets,
            TargetsRequest(targets=level.notify, at=now),
            start_to_close_timeout=LOOKUP_TIMEOUT,
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
                return await workflow.execute_local_activity_method(
                    ChangeActivities.recent_changes,
                    ChangesRequest(service=st.service, since=st.opened_at - ctx.window, timeout_s=timeout),
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
        found: TargetsResult = await workflow.execute_local_activity_method(
            PagingActivities.lookup_targets,
            TargetsRequest(targets=[f"user:{p}" for p in st.threads], at=workflow.now()),
            start_to_close_timeout=LOOKUP_TIMEOUT,
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
                delivery: Delivery = await workflow.execute_activity_method(
                    PagingActivities.send_page,
                    PageRequest(recipient=recipient, method=method, page=page),
                    start_to_close_timeout=PAGE_TIMEOUT,
                    retry_policy=PAGE_RETRY,
                    summary=f"page {recipient.person} via {method} (level {page.level})"
                    if page.kind == "page"
                    else f"ask {recipient.person} via {method} to confirm the resolve",
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
                what = "asked {p} via {m} to confirm the resolve" if page.kind == "recovered" else "updated {p} via {m}"
                self._record(
                    Actor.system(),
                    "asked_to_resolve" if page.kind == "recovered" else "page_updated",
                    what.format(p=recipient.person, m=method),
                    {"person": recipient.person, "method": method},
                )
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
        """Tell everyone paged so far (recovery: please confirm the resolve), through their contact methods."""
        notices, self._notices = self._notices, []
        st = self._require()
        found: TargetsResult = await workflow.execute_local_activity_method(
            PagingActivities.lookup_targets,
            TargetsRequest(targets=[f"user:{p}" for p in st.paged], at=workflow.now()),
            start_to_close_timeout=LOOKUP_TIMEOUT,
            retry_policy=LOOKUP_RETRY,
            summary="who to tell: " + ", ".join(st.paged),
        )
        for notice in notices:
            await asyncio.gather(*(self._page_person(r, notice) for r in found.recipients))

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
        st = self._require()
        timeout = self._policy.escalation.ack_timeout
        self._record(
            Actor.system(),
            "ack_timeout",
            f"acknowledged by {st.acknowledged_by} but not resolved within {timeout}; back to triggered, "
            "escalation restarts",
        )
        st.status = Status.TRIGGERED
        st.acknowledged_at = st.acknowledged_by = st.ack_deadline = None
        st.escalation = EscalationCursor.start(now)

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
            self._state = IncidentState(
                incident_id=self._next_id,
                workflow_id=workflow.info().workflow_id,
                title=alert.summary,
                service=alert.service,
                severity=alert.severity,
                opened_at=now,
            )
            self._state.alert_received_at = alert.received_at
            self._state.severity_needs_confirmation = self._needs_confirmation(alert.severity)
            self._record(
                Actor.system(alert.source),
                "opened",
                f"incident opened for {alert.service} at {alert.severity.value}",
            )
            self._state.escalation = EscalationCursor.start(now)
            agent = Actor.agent(AGENT)
            if self._policy.boundaries.decide("acknowledge", agent, alert.severity).allowed:
                self._record(
                    agent,
                    "coordination",
                    "coordination started: looking up on-call, gathering context, paging; "
                    "escalation to a human continues until a human acknowledges",
                )
        st = self._state
        if not st.open:
            self._after_resolve.append(alert)
            return
        if alert.event_id:
            if alert.event_id in self._recent:
                st.duplicates += 1
                return
            self._remember(alert.event_id)
        source = Actor.system(alert.source)
        rec = st.alerts.get(alert.key)
        if alert.action is AlertAction.TRIGGER:
            st.alert_count += 1
            if rec is None and len(st.alerts) >= MAX_ALERT_RECORDS:
                st.alerts_untracked += 1
            elif rec is None:
                st.alerts[alert.key] = AlertRecord(
                    key=alert.key,
                    summary=alert.summary,
                    count=1,
                    first_at=now,
                    last_at=now,
                    changed_at=alert.received_at,
                    labels=alert.labels,
                    links=alert.links,
                    details=bounded(alert.details),
                )
            else:
                rec.count += 1
                rec.last_at = now
                refired = not rec.firing and rec.newer(alert)
                if rec.newer(alert):
                    rec.firing, rec.changed_at, rec.summary = True, alert.received_at, alert.summary
                if refired:
                    self._record(source, "alert_refired", f"alert fired again after recovering: {alert.summary}")
                    self._resume_escalation(now)
            self._record_alert(source, alert)
        elif alert.action is AlertAction.ACKNOWLEDGE:
            self._acknowledge(source, via_source=True)
        elif alert.action is AlertAction.RESOLVE:
            if rec is not None and not rec.newer(alert):
                self._record(source, "alert_late", f"a recovery older than the alert's last change: {alert.summary}")
                self._wake = True
                return
            if rec is not None:
                rec.firing, rec.changed_at, rec.last_at = False, alert.received_at, now
            self._record(source, "alert_recovered", f"the source reports recovery: {alert.summary}")
            if not st.firing:
                self._all_recovered(source)
        self._wake = True

    def _remember(self, event_id: str) -> None:
        st = self._require()
        self._recent.add(event_id)
        st.recent_events.append(event_id)
        if len(st.recent_events) > RECENT_EVENTS:
            self._recent.discard(st.recent_events.pop(0))

    def _all_recovered(self, source: Actor) -> None:
        """Every alert recovered. Declaring it resolved stays a human decision unless the service says otherwise."""
        st = self._require()
        rule = f"services.{self._policy.service.name}.on_recovery: {self._policy.service.on_recovery}"
        match self._policy.service.on_recovery:
            case "ignore":
                self._record(Actor.system(), "recovered", f"every alert has recovered; nothing changes ({rule})")
            case "resolve":
                self._close(source, f"every alert recovered ({rule})")
            case _:
                if st.status is Status.TRIGGERED and st.escalation.active:
                    st.escalation = st.escalation.model_copy(update={"active": False})
                self._record(
                    Actor.system(),
                    "recovered",
                    f"every alert has recovered; escalation paused. A responder confirms with `baton resolve` ({rule})",
                )
                if st.paged:
                    self._notices.append(self._page(0, 0).model_copy(update={"kind": "recovered"}))

    def _record_alert(self, source: Actor, alert: Alert) -> None:
        """Alert events on the timeline stay bounded: the first few one by one, then one running summary."""
        st = self._require()
        st.alert_entries += 1
        if st.alert_entries <= TIMELINE_ALERT_ENTRIES:
            self._record(source, "alert", f"{alert.summary} ({alert.severity.value}, key {alert.key})")
            return
        more = st.alert_entries - TIMELINE_ALERT_ENTRIES
        # One running entry, kept last among alert events: the previous one moves up to now.
        st.timeline = [e for e in st.timeline if e.kind != "alerts_more"]
        self._record(source, "alerts_more", f"{more} more alert event(s); latest: {alert.summary}")

    def _resume_escalation(self, now: datetime) -> None:
        st = self._require()
        cur = st.escalation
        if st.status is Status.TRIGGERED and not cur.active and not cur.exhausted and cur.next_at is not None:
            next_at = max(now, cur.next_at)
            st.escalation = cur.model_copy(update={"active": True, "next_at": next_at})

    # ---- human and agent requests ----------------------------------------------------------------------------

    @workflow.update
    def acknowledge(self, req: ActorRequest) -> ActionResult:
        st = self._require()
        decision = self._policy.boundaries.decide("acknowledge", req.actor, st.severity)
        if not decision.allowed:
            return self._refuse(req.actor, "acknowledge", decision.rule, "an agent may not acknowledge here")
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
        st = self._require()
        if st.status is not Status.TRIGGERED:
            return
        now = workflow.now()
        st.status = Status.ACKNOWLEDGED
        st.acknowledged_at, st.acknowledged_by = now, str(actor)
        timeout = self._policy.escalation.ack_timeout
        st.ack_deadline = now + timeout if timeout else None
        st.escalation = st.escalation.stopped()
        what = "the source acknowledged" if via_source else f"acknowledged by {actor}"
        until = f"; back to triggered at {st.ack_deadline:%H:%M:%S} UTC unless resolved" if st.ack_deadline else ""
        self._record(actor, "acknowledged", f"{what}; escalation stopped{until}")
        self._wake = True

    @workflow.update
    def resolve(self, req: ResolveRequest) -> ActionResult:
        st = self._require()
        decision = self._policy.boundaries.decide("resolve", req.actor, st.severity)
        if not decision.allowed:
            hint = (
                "declaring an incident resolved is a human decision; propose it in a note and a responder resolves"
                if decision.verdict is Verdict.APPROVAL
                else "declaring an incident resolved is not allowed for this actor"
            )
            return self._refuse(req.actor, "resolve", decision.rule, hint)
        self._close(req.actor, req.summary)
        return ActionResult(ok=True, message=f"{st.incident_id} resolved by {req.actor}", status=st.status)

    def _close(self, actor: Actor, summary: str) -> None:
        st = self._require()
        st.status = Status.RESOLVED
        st.resolved_at, st.resolved_by = workflow.now(), str(actor)
        st.resolution = summary.strip() or None
        st.escalation = st.escalation.stopped()
        st.ack_deadline = None
        self._record(actor, "resolved", f"resolved by {actor}" + (f": {st.resolution}" if st.resolution else ""))
        self._wake = True

    @resolve.validator
    def _validate_resolve(self, req: ResolveRequest) -> None:
        self._validate_open()

    def _needs_confirmation(self, severity: Severity) -> bool:
        rule = self._policy.boundaries.confirm_severity
        return rule == "always" or (
            rule == "customer_facing"
            and (self._policy.service.customer_facing or severity in (Severity.SEV0, Severity.SEV1))
        )

    @workflow.update
    def severity(self, req: SeverityRequest) -> ActionResult:
        """A human sets the severity (confirming or changing it); an agent proposes, and until a human confirms
        where the policy asks for it, the incident runs at the more severe of what is in force and the proposal."""
        st = self._require()
        if req.actor.kind is ActorKind.HUMAN:
            before = st.severity_label
            st.severity, st.severity_confirmed_by = req.severity, str(req.actor)
            why = f": {req.reason.strip()}" if req.reason.strip() else ""
            self._record(req.actor, "severity", f"severity set to {req.severity.value} (was {before}){why}")
            self._wake = True
            return ActionResult(ok=True, message=f"{st.incident_id} is {req.severity.value}", status=st.status)
        decision = self._policy.boundaries.decide("triage_severity", req.actor, st.severity)
        if not decision.allowed:
            return self._refuse(req.actor, "triage_severity", decision.rule, "a responder sets the severity")
        if st.severity_confirmed_by:
            self._record(
                req.actor,
                "severity_proposed",
                f"proposes {req.severity.value}: {req.reason.strip()} "
                f"({st.severity.value} was set by {st.severity_confirmed_by}; it stays)",
            )
            return ActionResult(ok=True, message="proposal recorded; a human set the severity", status=st.status)
        st.severity = min(st.severity, req.severity, key=lambda s: list(Severity).index(s))
        st.severity_needs_confirmation = st.severity_needs_confirmation or self._needs_confirmation(req.severity)
        self._record(
            req.actor,
            "severity_proposed",
            f"proposes {req.severity.value}: {req.reason.strip()}; in force: {st.severity_label}",
        )
        self._wake = True
        return ActionResult(ok=True, message=f"in force: {st.severity_label}", status=st.status)

    @severity.validator
    def _validate_severity(self, req: SeverityRequest) -> None:
        self._validate_open()
        if req.actor.kind is not ActorKind.HUMAN and not req.reason.strip():
            raise Refused("a severity proposal needs a reason")

    @workflow.update
    def note(self, req: NoteRequest) -> ActionResult:
        st = self._require()
        decision = self._policy.boundaries.decide("note", req.actor, st.severity)
        if not decision.allowed:
            return self._refuse(req.actor, "note", decision.rule, "this actor may not add notes")
        self._record(req.actor, "note", req.text.strip())
        return ActionResult(ok=True, message="note added", status=st.status)

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

    def _refuse(self, actor: Actor, action: str, rule: str, hint: str) -> ActionResult:
        st = self._require()
        self._record(actor, "refused", f"{actor} asked to {action}: refused by {rule}; {hint}", {"action": action})
        return ActionResult(ok=False, message=f"refused by {rule}: {hint}", rule=rule, status=st.status)

    # ---- reading ---------------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> IncidentState:
        return self._require()

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
