"""IncidentWorkflow: one per incident. Its state is the incident; its history is the audit log.

The workflow id comes from the alert's dedup key, so every event for an open incident lands here through
signal-with-start. Escalation is a durable timer loop over absolute deadlines; human decisions arrive as
updates, and the boundaries in the policy snapshot decide what an agent may do.

This module is the wiring: the main loop, the handlers and their validators, and what the Temporal UI shows. The
state transitions are in `incident.lifecycle`; the helpers beside this module page people, gather context and
carry out requests, each holding the `IncidentRun` they share.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from incident import lifecycle
    from incident import sentences as say
    from incident.ids import incident_id_from_int
    from incident.maintenance import Notice
    from incident.models import (
        Actor,
        ActorKind,
        Alert,
        AlertAction,
        IncidentResult,
        Severity,
        Status,
        TimelineEntry,
        UpdateReply,
    )
    from incident.policy import INTERNAL_UPDATE
    from incident.postmortem import draft
    from incident.record import AgentIncident, rows_for
    from incident.state import CARRY, IncidentInput, IncidentPolicy, IncidentState
    from incident.timeline import Kind
    from workflows import search_attributes as sa
    from workflows.incident.approvals import Approvals
    from workflows.incident.channel import Channel
    from workflows.incident.context import ContextGathering
    from workflows.incident.deadline import ONE_DEADLINE_TIMER, DeadlineTimer
    from workflows.incident.escalation import Escalation
    from workflows.incident.maintenance import Maintenance
    from workflows.incident.paging import Paging
    from workflows.incident.proofs import Proofs
    from workflows.incident.refusals import Refusals
    from workflows.incident.requests import ACTIONS_FROM_MAIN_LOOP, Requests
    from workflows.incident.roles import Roles
    from workflows.incident.run import IncidentRun, Rejected
    from workflows.incident.step_up import StepUp
    from workflows.incident.updates import StakeholderUpdates
    from workflows.messages import (
        MAX_POLICY_BYTES,
        ActionReply,
        ActionRequest,
        ActorRequest,
        AgentLevelsRequest,
        DecisionRequest,
        NoteRequest,
        ReloadRequest,
        ResolveRequest,
        RoleRequest,
        SeverityRequest,
        StakeholderUpdateRequest,
        WithdrawRequest,
    )


FRESH_POLICY_ON_REOPEN = "fresh-policy-on-reopen"
"""The next incident opened from alerts that came after a resolve takes the config's policy now (before: the
resolved incident's snapshot)."""
POLICY_TIMEOUT = timedelta(seconds=10)
ALERT_SEVERITY_PROPOSAL = "alert-severity-proposal"
"""A more severe trigger joining an open incident raises its severity (before: the first alert's stayed)."""

CARRY_QUEUED_WORK = "carry-queued-work"
"""Patch id: a run continues as new only once nothing is queued or under way (notices, approved and accepted
actions, late context); before it, what was queued at that moment was dropped."""
CONTINUE_ON_SIZE = "continue-on-size"
"""Patch id: a run continues as new when its history grows large in bytes, or Temporal suggests it, as well as
long in events."""
AGENT_RECORD = "agent-record"
"""Patch id: a completed incident tells each agent's own workflow what it asked and what became of it (an
activity per agent, after the channel closes). Before it, nothing was told."""
RECORD_TIMEOUT = timedelta(seconds=30)
EARNED_AUTONOMY = "earned-autonomy"
"""Patch id: an incident whose boundaries have autonomy ladders reads the level each agent has earned as it opens
(beside the first page, never before it) and fixes it in its policy; until then agents are decided at each
ladder's start. Before it, ladders did not exist."""
LEVELS_TIMEOUT = timedelta(seconds=10)
CARRY_BYTES = 1_000_000
"""The encoded input a run continues as new with, at most (Temporal refuses one over 2 MB)."""


def encoded_size(inp: IncidentInput) -> int:
    return pydantic_data_converter.payload_converter.to_payloads([inp])[0].ByteSize()


@workflow.defn(sandboxed=False)
class IncidentWorkflow:
    @workflow.init
    def __init__(self, inp: IncidentInput) -> None:
        self._run = run = IncidentRun(inp.policy, inp.state)
        self._history_limit = inp.history_limit
        self._history_bytes = inp.history_bytes
        self._continuing = False
        """The run is due to continue as new and waits for work under way to finish."""
        self._fired = datetime.min.replace(tzinfo=UTC)
        """The deadline whose timer fired last: it has come, whatever the clock of the activation that tells so. A
        query to a worker that does not hold the run yet can replay events past the last workflow task with that
        task's older time; without this the loop would see the deadline still ahead and arm a second timer, which
        a later replay, reading the true time, does not (a nondeterminism error)."""
        self._sized = False
        """Whether this run continues as new on history size too, and wakes for it (`CONTINUE_ON_SIZE`)."""
        self._deadline = DeadlineTimer()
        """The main loop's timer for its next deadline (`ONE_DEADLINE_TIMER`)."""
        self._next_id = inp.incident_id
        self._after_resolve: list[Alert] = []
        """Alerts that reached the incident once it was resolved: they open the next one."""
        self._recent: set[str] = set(inp.state.recent_events) if inp.state else set()
        self._paging = Paging(run)
        self._context = ContextGathering(run, self._paging)
        self._escalation = Escalation(run, self._paging, self._context)
        self._refusals = Refusals(run)
        self._step_up = StepUp(run, self._refusals)
        self._approvals = Approvals(run, self._refusals, self._step_up)
        self._proofs = Proofs(run, self._refusals)
        self._requests = Requests(run, self._refusals, self._approvals, self._step_up)
        self._roles = Roles(run, self._refusals, self._paging, self._requests)
        self._updates = StakeholderUpdates(run, self._refusals, self._requests)
        self._channel = Channel(run)
        self._maintenance = Maintenance(run)
        self._coordination = (self._roles, self._updates, self._channel)
        """Helpers with deadlines of their own (who leads, updates due, the channel): each says when it must act
        next (`deadline`) and acts on what has come (`step`)."""
        run.hold(lambda: self._context.late_pending > 0 or self._context.late_ready)
        self._levels: asyncio.Future[None] | None = None
        """Reading the agents' earned autonomy (`EARNED_AUTONOMY`): the run does not continue as new meanwhile."""
        run.hold(lambda: self._levels is not None and not self._levels.done())
        for alert in inp.carry_alerts:
            self._on_alert(alert)

    # ---- the main loop ---------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: IncidentInput) -> IncidentResult:
        run = self._run
        await workflow.wait_condition(lambda: run.state is not None)
        st = run.require()
        self._sized = self._run.patched(CONTINUE_ON_SIZE)
        one_timer = self._run.patched(ONE_DEADLINE_TIMER)
        self._publish()
        bounds = run.policy.boundaries
        if bounds.ladders() and bounds.earned is None and self._run.patched(EARNED_AUTONOMY):
            self._levels = asyncio.ensure_future(self._read_levels())
        while st.open:
            held = self._maintenance.held
            if self._maintenance.sendable():
                await self._paging.send_notices(held)
                continue
            if self._paging.forward_due():
                self._paging.forward_status()
                continue
            if self._approvals.approved:
                approval_id = self._approvals.approved.pop(0)
                approval = st.approval(approval_id)
                if approval is not None and approval.action == INTERNAL_UPDATE and self._updates.settings():
                    self._updates.approved(approval)  # an agent's internal update: posted as updates are
                elif self._run.patched(ACTIONS_FROM_MAIN_LOOP):
                    await self._requests.start_approved(approval_id)
                else:
                    await self._requests.run_approved(approval_id)
                if approval is not None and approval.action == "customer_comms":
                    self._updates.customers_approved(approval)  # asked as a stakeholder update: now it is sent
                self._publish()
                continue
            if self._requests.start_next():
                continue
            self._continuing = False
            if self._history_due():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._run.patched(CARRY_QUEUED_WORK) or run.quiet():
                    workflow.continue_as_new(self._next_input())
                if self._maintenance.sendable() or self._approvals.approved or st.queued_actions:
                    continue  # queued while waiting for the handlers: send or start it first
                self._continuing = True  # work under way: continue once it is done
            if self._context.late_ready:
                await self._context.post_late()
                continue
            now = max(workflow.now(), self._fired)
            if st.escalation.due(now) and not held:
                run.escalating = st.escalation  # an `escalate` meanwhile means the level after this one
                await self._escalation.step()
                run.escalating = None
                self._publish()
                continue
            if st.status is Status.ACKNOWLEDGED and st.ack_deadline and st.ack_deadline <= now:
                run.apply(lifecycle.ack_timed_out(st, run.policy, now))
                self._publish()
                continue
            if due := [a for a in st.pending_approvals if a.deadline <= now]:
                self._approvals.timed_out(due[0], now)
                self._publish()
                continue
            if await self._coordinate(now):
                self._publish()
                continue
            deadline, why = self._next_deadline()
            run.wake = False
            if one_timer:
                if await self._deadline.wait(deadline, why, now, lambda: run.wake or self._due_to_continue()):
                    self._fired = deadline or self._fired
                self._publish()
                continue
            try:
                await workflow.wait_condition(
                    lambda: run.wake or self._due_to_continue(),
                    timeout=(deadline - now) if deadline else None,
                    timeout_summary=why,
                )
            except TimeoutError:
                if deadline:
                    self._fired = deadline
            self._publish()
        self._deadline.cancel()
        if self._paging.forward_due():
            self._paging.forward_status()
        await workflow.wait_condition(lambda: run.pages_in_flight == 0)  # each stops once the incident is resolved
        await self._updates.finish()  # updates sent before the resolve still reach their audiences
        # Actions under way finish and go on the record before the run ends.
        await workflow.wait_condition(lambda: workflow.all_handlers_finished() and not self._requests.running)
        for approval_id in self._approvals.approved:  # approved in the same moment the incident was resolved
            run.record(Actor.system(), Kind.ACTION_SKIPPED, say.action_skipped(approval_id))
        self._requests.skip_queued()
        await self._channel.close()
        if self._run.patched(AGENT_RECORD):
            await self._tell_agents()
        self._publish()
        outcome = IncidentResult(
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
            # so they open the next incident on this key, in a fresh run, by the policy in the config now.
            policy = await self._next_policy() if self._run.patched(FRESH_POLICY_ON_REOPEN) else run.policy
            next_id = incident_id_from_int(workflow.random().getrandbits(30))
            workflow.continue_as_new(
                IncidentInput(
                    policy=policy,
                    incident_id=next_id,
                    carry_alerts=self._after_resolve,
                    history_limit=self._history_limit,
                ),
                search_attributes=TypedSearchAttributes([SearchAttributePair(sa.INCIDENT_ID, next_id)]),
            )
        outcome.postmortem = draft(st, run.policy.service)  # `baton postmortem` drafts it for a continued run
        return outcome

    async def _read_levels(self) -> None:
        """Fix each configured agent's earned autonomy in this incident's policy: what its record says now, read
        once; an agent whose record cannot be read (or has none) stays at each ladder's start, the strictest."""
        run = self._run
        agents = sorted(run.policy.budgets.agents) if run.policy.budgets else []
        try:
            found: dict[str, dict[Severity, str]] = await workflow.execute_activity(
                "agent_levels",
                AgentLevelsRequest(agents=agents),
                result_type=dict[str, dict[Severity, str]],
                start_to_close_timeout=LEVELS_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=2),
                summary="the agents' earned autonomy",
            )
        except ActivityError:
            found = {}
        run.policy = run.policy.with_levels(agents, found)
        bounds = run.policy.boundaries
        ladders = bounds.ladders()
        earned = bounds.earned or {}
        if run.state is not None:
            starts = {sev.value: ladder.start for sev, ladder in ladders.items()}
            shown = {agent: {sev.value: lvl for sev, lvl in levels.items()} for agent, levels in earned.items()}
            data = {"earned": shown}
            run.record(Actor.system(), Kind.AUTONOMY, say.autonomy_fixed(shown, starts), data)
        run.show()

    async def _tell_agents(self) -> None:
        """Tell each agent that asked anything of this incident (or opened it) what became of it, for its record.
        A record that cannot be told is a gap in it, not a reason to hold the incident open."""
        st = self._run.require()
        agents = {t.actor for t in st.agent_tally} | ({st.opened_by} if st.opened_by else set())
        for actor in sorted(agents):
            inc = AgentIncident(
                agent=Actor.parse(actor).name,
                incident_id=st.incident_id,
                severity=st.severity.value,
                resolved=st.status is Status.RESOLVED,
                opened_by_agent=st.opened_by == actor,
                completed_at=workflow.now(),
                rows=rows_for(st.agent_tally, actor),
                ladders=self._run.policy.boundaries.ladders(),
                owners=self._run.policy.boundaries.owners,
            )
            with contextlib.suppress(ActivityError):
                await workflow.execute_activity(
                    "record_agent_incident",
                    inc,
                    start_to_close_timeout=RECORD_TIMEOUT,
                    retry_policy=RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(seconds=30)),
                    summary=f"tell {actor}'s record",
                )

    async def _next_policy(self) -> IncidentPolicy:
        """The policy for the next incident on this key: what the worker's config says now for the service of
        the first trigger that opens it (as the intake would snapshot it); this one's when that cannot be had."""
        first = next(a for a in self._after_resolve if a.action is AlertAction.TRIGGER)
        try:
            fresh: IncidentPolicy | None = await workflow.execute_local_activity(
                "policy_snapshot",
                first.service,
                result_type=IncidentPolicy | None,  # type: ignore[arg-type]
                start_to_close_timeout=POLICY_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=3),
                summary=f"policy for {first.service}",
            )
        except ActivityError:
            fresh = None
        return fresh or self._run.policy

    async def _coordinate(self, now: datetime) -> bool:
        """Let the coordination helpers act on what has come; whether one did."""
        for helper in self._coordination:
            if await helper.step(now):
                return True
        return False

    def _history_due(self) -> bool:
        """Time to continue as new: the history is long in events, or large in bytes, or Temporal suggests it."""
        info = workflow.info()
        if info.get_current_history_length() >= self._history_limit:
            return True
        return self._sized and (
            info.is_continue_as_new_suggested() or info.get_current_history_size() >= self._history_bytes
        )

    def _due_to_continue(self) -> bool:
        """What wakes the waiting loop to continue as new: work it waited for is done, or (since the patch) the
        history grew past a limit through events that wake nothing else, such as notes."""
        if self._continuing:
            return self._run.quiet()
        return self._sized and self._history_due()

    def _next_input(self) -> IncidentInput:
        """What the next run starts from: the state, bounded so its encoding fits well within Temporal's limit;
        each step of `CARRY` carries less (what is left stays in this run's history)."""
        st = self._run.require()
        st.runs += 1
        for limits in CARRY:
            inp = IncidentInput(
                policy=self._run.policy,
                state=st.carried(limits),
                incident_id=st.incident_id,
                carry_alerts=self._after_resolve,
                history_limit=self._history_limit,
                history_bytes=self._history_bytes,
            )
            if encoded_size(inp) <= CARRY_BYTES:
                break
        return inp

    def _next_deadline(self) -> tuple[datetime | None, str | None]:
        st, policy = self._run.require(), self._run.policy
        deadlines: list[tuple[datetime, str]] = []
        cur = st.escalation
        if cur.active and cur.next_at and not self._maintenance.held:
            if cur.pending_exhaustion(policy.escalation):
                deadlines.append((cur.next_at, "escalation exhausted"))
            else:
                deadlines.append((cur.next_at, f"escalate to level {cur.level + 1}"))
        if st.status is Status.ACKNOWLEDGED and st.ack_deadline:
            deadlines.append((st.ack_deadline, "ack timeout"))
        deadlines += [(a.deadline, f"approval {a.id} ({a.action}) unanswered") for a in st.pending_approvals]
        deadlines += [d for helper in self._coordination if (d := helper.deadline()) is not None]
        if not deadlines:
            return None, None
        return min(deadlines, key=lambda d: d[0])

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
        run, now = self._run, workflow.now()
        if run.state is None:
            if alert.action is not AlertAction.TRIGGER:
                return  # an acknowledge/resolve for an incident that never opened: nothing to do
            wid = workflow.info().workflow_id
            run.state, opened = lifecycle.open_incident(alert, self._next_id, wid, run.policy, now)
            run.apply(opened)
        st = run.state
        if not st.open:
            self._after_resolve.append(alert)
            return
        proposes = lifecycle.raises_severity(st, alert) and self._run.patched(ALERT_SEVERITY_PROPOSAL)
        run.apply(lifecycle.record_alert(st, run.policy, alert, now, self._recent, severity_proposals=proposes))

    @workflow.signal
    def maintenance(self, notice: Notice) -> None:
        """A maintenance window of this incident's service started (escalation and queued notices are held) or
        ended (an unacknowledged incident escalates again)."""
        self._maintenance.told(notice)

    # ---- human and agent requests ----------------------------------------------------------------------------

    @workflow.update
    async def acknowledge(self, req: ActorRequest) -> UpdateReply:
        if refused := await self._vouched(req, "acknowledge"):
            return refused
        return self._requests.stamp(self._roles.acknowledged(req.actor, self._requests.acknowledge(req)))

    @acknowledge.validator
    def _validate_acknowledge(self, req: ActorRequest) -> None:
        self._run.validate_open()

    @workflow.update
    async def resolve(self, req: ResolveRequest) -> UpdateReply:
        return await self._vouched(req, "resolve") or self._requests.stamp(
            self._requests.resolve(req, self._proofs.last)
        )

    @resolve.validator
    def _validate_resolve(self, req: ResolveRequest) -> None:
        self._run.validate_open()

    @workflow.update
    async def severity(self, req: SeverityRequest) -> UpdateReply:
        """A human sets the severity (confirming or changing it); an agent proposes one, with a reason."""
        return await self._vouched(req, "severity") or self._requests.stamp(
            self._requests.severity(req, self._proofs.last)
        )

    @severity.validator
    def _validate_severity(self, req: SeverityRequest) -> None:
        self._requests.validate_severity(req)

    @workflow.update
    async def note(self, req: NoteRequest) -> UpdateReply:
        return await self._vouched(req, "note") or self._requests.stamp(self._requests.note(req))

    @note.validator
    def _validate_note(self, req: NoteRequest) -> None:
        self._requests.validate_note(req)

    @workflow.update
    async def request(self, req: ActionRequest) -> ActionReply:
        """Ask to do an action: accepted to run now (auto), a pending approval (approval), or refused."""
        if self._internal_update(req):
            update = self._as_update(req)
            reply = await self._vouched(req, "request") or await self._updates.send(update, self._proofs.last)
            return ActionReply.model_validate(self._requests.stamp(reply).model_dump())
        reply = await self._vouched(req, "request") or await self._requests.request(req, self._proofs.last)
        reply = self._requests.stamp(reply)
        return reply if isinstance(reply, ActionReply) else ActionReply.model_validate(reply.model_dump())

    @request.validator
    def _validate_request(self, req: ActionRequest) -> None:
        if self._internal_update(req):
            self._requests.validate_request(req.model_copy(update={"text": req.text or "(the draft)"}))
            self._updates.validate(self._as_update(req))
            return
        self._requests.validate_request(req)

    def _internal_update(self, req: ActionRequest) -> bool:
        """An `internal_update` asked for as any action is a stakeholder update sent to the internal audiences
        (only where the policy has coordination: older incidents never had such an action)."""
        return req.action == INTERNAL_UPDATE and self._run.policy.coordination is not None

    @staticmethod
    def _as_update(req: ActionRequest) -> StakeholderUpdateRequest:
        return StakeholderUpdateRequest.model_construct(
            actor=req.actor, proof=req.proof, text=(req.text or "").strip() or None, audience="internal", propose=False
        )

    @workflow.update
    async def decide(self, req: DecisionRequest) -> UpdateReply:
        """A human approves or denies a pending approval."""
        return await self._vouched(req, "decide") or self._approvals.decide(req, self._proofs.last)

    @decide.validator
    def _validate_decide(self, req: DecisionRequest) -> None:
        self._approvals.validate_decide(req)

    @workflow.update
    async def withdraw(self, req: WithdrawRequest) -> UpdateReply:
        """Whoever asked for a pending approval takes it back."""
        return await self._vouched(req, "withdraw") or self._approvals.withdraw(req)

    @withdraw.validator
    def _validate_withdraw(self, req: WithdrawRequest) -> None:
        self._approvals.validate_withdraw(req)

    @workflow.update
    async def role(self, req: RoleRequest) -> UpdateReply:
        """A human takes or hands over a role; an agent may only propose someone."""
        return await self._vouched(req, "role") or self._roles.change(req, self._proofs.last)

    @role.validator
    def _validate_role(self, req: RoleRequest) -> None:
        self._roles.validate(req)

    @workflow.update
    async def stakeholder_update(self, req: StakeholderUpdateRequest) -> UpdateReply:
        """Send the stakeholder update that is due, or (an agent) propose its wording."""
        return await self._vouched(req, "stakeholder_update") or self._requests.stamp(
            await self._updates.send(req, self._proofs.last)
        )

    @stakeholder_update.validator
    def _validate_stakeholder_update(self, req: StakeholderUpdateRequest) -> None:
        self._updates.validate(req)

    @workflow.update
    async def reload(self, req: ReloadRequest) -> UpdateReply:
        """A human applies the current config's policy to this running incident."""
        if refused := await self._vouched(req, "reload"):
            return refused
        run, st = self._run, self._run.require()
        if req.actor.kind is not ActorKind.HUMAN:
            return self._refusals.refuse(
                req.actor, "reload", "only humans change a running incident's policy", "ask a responder to reload"
            )
        policy = req.policy
        if policy.boundaries.earned is None and run.policy.boundaries.earned is not None:
            kept = policy.boundaries.with_earned(run.policy.boundaries.earned)  # what this incident fixed stays
            policy = policy.model_copy(update={"boundaries": kept})
        t = lifecycle.reload(st, run.policy, policy, req.actor, workflow.now())
        run.policy = policy
        return UpdateReply(ok=True, message=run.apply(t), status=st.status)

    @reload.validator
    def _validate_reload(self, req: ReloadRequest) -> None:
        self._run.validate_open()
        size = len(req.policy.model_dump_json())
        if size > MAX_POLICY_BYTES:
            raise Rejected(f"the policy is {size} bytes encoded; at most {MAX_POLICY_BYTES}")
        service = self._run.require().service
        if req.policy.service.name != service:
            raise Rejected(f"the policy is for {req.policy.service.name}, this incident is {service}")

    async def _vouched(self, req: ActorRequest, update: str) -> UpdateReply | None:
        """None when the request may go on: its actor is proven and the incident is still open once that is known
        (a proof is checked by a local activity, meanwhile another request may have resolved it); else the reply."""
        if refused := await self._proofs.vouch(req, update):
            return refused
        st = self._run.require()
        if not st.open:
            return UpdateReply(ok=False, message=f"{st.incident_id} is already resolved", status=st.status)
        return None

    # ---- reading ---------------------------------------------------------------------------------------------

    @workflow.query
    def state(self) -> IncidentState:
        return self._run.require()

    @workflow.query
    def policy(self) -> IncidentPolicy:
        """The policy this incident runs by: the snapshot it started with, or what a human reloaded."""
        return self._run.policy

    @workflow.query
    def timeline(self) -> list[TimelineEntry]:
        return self._run.require().timeline

    # ---- what the Temporal UI shows --------------------------------------------------------------------------

    def _publish(self) -> None:
        """Keep search attributes and the UI's current details in step with the state."""
        st = self._run.require()
        current = workflow.info().typed_search_attributes
        wanted = [
            sa.INCIDENT_ID.value_set(st.incident_id),
            sa.INCIDENT_STATUS.value_set(st.status.value),
            sa.INCIDENT_SEVERITY.value_set(st.severity.value),
            sa.INCIDENT_SERVICE.value_set(st.service),
        ]
        if st.lead:
            wanted.append(sa.INCIDENT_LEAD.value_set(st.lead))
        if st.channel and st.channel.channel_id:
            wanted.append(sa.INCIDENT_CHANNEL.value_set(st.channel.channel_id))
        changed = [u for u in wanted if current.get(u.key) != u.value]
        if changed:
            workflow.upsert_search_attributes(changed)
        self._run.show()
