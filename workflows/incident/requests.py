"""Human and agent requests: the boundaries decide each (auto, approval, never, undefined), and what is allowed or
approved is carried out here, from acknowledging to running a configured action as an activity.

A configured action (rollback, customer comms, a custom one) never runs inside the update that asked for it: the
update accepts it and answers at once with its id (`R1`, or the approval's `A1`), the main loop starts it in the
background, and its outcome goes on the timeline. So a slow runner holds neither the escalation nor the caller,
and a caller that asks again with the same request id gets the same id back and runs nothing new (or asks
nothing new: a request that became an approval answers with that approval again).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from incident import lifecycle
from incident import sentences as say
from incident.actions import ACTION_ATTEMPT_TIMEOUT, PARAMS_VERDICT, param_problems
from incident.approvals import ActionRun, Approval
from incident.attestation import Claim
from incident.budget import BUDGET_VERDICT, BudgetKind, refresh_at, take
from incident.models import NAME, Actor, ActorKind, Severity, Status, UpdateReply
from incident.policy import CONFIRM_SEVERITY, Decision, Verdict, resembles
from incident.state import MAX_PENDING, AcceptedAction
from incident.timeline import Kind
from workflows.incident.approvals import Approvals
from workflows.incident.refusals import APPROVALS, Refusals
from workflows.incident.run import IncidentRun, Rejected
from workflows.incident.shadow import Shadow
from workflows.incident.step_up import StepUp, via
from workflows.messages import (
    ActionReply,
    ActionRequest,
    ActorRequest,
    NoteRequest,
    ResolveRequest,
    RunActionRequest,
    SeverityRequest,
)

ESCALATE_NEXT_LEVEL = "escalate-next-level"
"""`escalate` while a level is being paged brings in the level after it (before: that level was paged again)."""
ACTION_TIMEOUT = ACTION_ATTEMPT_TIMEOUT  # runners' timeouts are checked against it at config load
ACTION_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2), maximum_interval=timedelta(seconds=30), maximum_attempts=3
)
ACTIONS_FROM_MAIN_LOOP = "actions-from-main-loop"
"""Patch id: configured actions are accepted by the update and run in the background from the main loop. Before
it, an auto action ran inside `request` and an approved one held the main loop while it ran."""
ASKED_BEFORE_FIRST = "asked-before-first"
"""Patch id: a request asked again with the same request id is answered with what the first ask became, an
accepted action or an approval, before the boundaries decide again. Before it, only accepted actions were
recognised, and a retried request that needed approval became a second approval."""
ACTION_PARAMS = "action-params"
"""Patch id: a request whose parameters its action's runner does not take (`actions.X.params`) is refused and
recorded. Before it, every parameter reached the runner."""
FOLD_DUPLICATES = "fold-duplicate-requests"
"""Patch id: an agent's request like one of its own pending approvals is answered with that approval, and nobody is
asked again. Before it, each became an approval of its own."""
AGENT_PAGED = "agent-paged-not-oncall"
"""Patch id: people reached only because an agent paged them are not `oncall` approvers of any request."""
PAGING = frozenset({"page", "escalate"})
"""Actions an agent's `pages` budget counts; every other allowed or asked-for request counts as `requests`."""
RECORDED_ONLY = frozenset(
    {"resolve", "acknowledge", "note", "triage_severity", "escalate", "page", "lookup_oncall", "gather_context"}
)
"""Actions `do` carries out on the incident itself, at once; every other one is run by a configured runner."""


class Requests:
    def __init__(self, run: IncidentRun, refusals: Refusals, approvals: Approvals, step_up: StepUp) -> None:
        self.run = run
        self.shadow = Shadow(run)
        self.refusals = refusals
        self.approvals = approvals
        self.step_up = step_up
        self.running: set[str] = set()
        """Actions under way in the background, by id (`R1`, `A1`)."""
        self._tasks: set[asyncio.Future[None]] = set()
        self.decided_at: dict[str, Severity] = {}
        """Per update id under way: the severity the boundaries decided its request at (`stamp` puts it on the
        reply)."""
        run.hold(lambda: bool(self.running) or (run.state is not None and bool(run.state.queued_actions)))

    def gate(
        self, actor: Actor, action: str, ask: ActionRequest, decision: Decision | None = None
    ) -> UpdateReply | None:
        """The boundaries' answer to `actor` doing `action` through its own update: None when allowed, else the
        pending approval it became (or the one like it that still waits), the refusal, or the budget's.
        `decision`: already decided for this request."""
        decision = decision or self.decide(action, actor)
        if decision.verdict is Verdict.APPROVAL and self.run.patched(APPROVALS):
            if (folded := self.folded(ask)) is not None:
                return folded
            return self.over_budget(actor, action) or self.approvals.ask(ask, decision)
        if not decision.allowed:
            return self.refusals.refuse(
                actor, action, decision.rule, "ask a responder to do it", decision.verdict.value
            )
        return self.over_budget(actor, action) or self.alone(actor, action)

    def alone(self, actor: Actor, action: str) -> UpdateReply | None:
        """An allowed request goes ahead (None): counted for the agent's record."""
        self.run.count(actor, action, "alone")
        return None

    def decide(self, action: str, actor: Actor) -> Decision:
        """The boundaries' verdict, at the severity `actor`'s requests are decided at (`deciding_severity`); the
        rule says so when that is not the severity in force."""
        st, bounds = self.run.require(), self.run.policy.boundaries
        at = st.deciding_severity(actor)
        decision = bounds.decide(action, actor, at)
        if at is not st.severity and bounds.decide(action, actor, st.severity).verdict is not decision.verdict:
            decision = Decision(verdict=decision.verdict, rule=f"{decision.rule} ({say.decided_at_floor(at)})")
        self.shadow.compare(action, actor, at, decision)
        if (update := workflow.current_update_info()) is not None:
            self.decided_at[update.id] = at
        return decision

    def stamp(self, reply: UpdateReply) -> UpdateReply:
        """`reply` with the severity its update's request was decided at, when the boundaries decided one. The
        reply alone changes: no command, so running incidents replay as before."""
        update = workflow.current_update_info()
        at = self.decided_at.pop(update.id, None) if update is not None else None
        if at is not None and reply.severity is None:
            reply.severity = at.value
        return reply

    def over_budget(self, actor: Actor, action: str, kind: BudgetKind | None = None) -> UpdateReply | None:
        """The refusal when `actor` (an agent) has used its budget for this kind of request on this incident in
        the current window; None otherwise (and the use is counted). The first refusal of a window goes on the
        timeline; every one is counted."""
        budgets = self.run.policy.budgets
        if actor.kind is not ActorKind.AGENT or budgets is None:
            return None
        kind = kind or ("pages" if action in PAGING else "requests")
        budget, st = budgets.of(actor.name), self.run.require()
        within, use = take(st.budget_use, str(actor), kind, budget.limit(kind), budget.window, workflow.now())
        if within:
            return None
        hint = say.over_budget(actor, kind, refresh_at(use, budget.window))
        return self.refusals.refuse(
            actor, action, budget.rule(actor.name, kind), hint, BUDGET_VERDICT, quiet=use.refused > 1
        )

    def folded(self, req: ActionRequest) -> UpdateReply | None:
        """An agent's request like one of its own that still waits for approval: answered with that approval (a
        resolve proposal is like any other of its resolve proposals; anything else has the same action and
        parameters). Actions the agent may do alone are not folded: a new request is a new run."""
        if req.actor.kind is not ActorKind.AGENT or not self.run.patched(FOLD_DUPLICATES):
            return None
        st, me = self.run.require(), str(req.actor)

        def same(action: str, params: dict[str, str], text: str | None) -> bool:
            if action != req.action:
                return False
            asked = (req.text or "").strip() or None
            return action == "resolve" or (params == req.params and (text or None) == asked)

        for approval in st.pending_approvals:
            if approval.requested_by == me and same(approval.action, approval.params, approval.text):
                return self.approvals.asked_again(approval, folded=True)
        return None

    # ---- the updates that are requests of their own ------------------------------------------------------------

    def acknowledge(self, req: ActorRequest) -> UpdateReply:
        ask = ActionRequest(actor=req.actor, action="acknowledge", rationale="acknowledge")
        return self.gate(req.actor, "acknowledge", ask) or self.ack_by(req.actor)

    def ack_by(self, actor: Actor) -> UpdateReply:
        st = self.run.require()
        if actor.kind is ActorKind.AGENT:
            self.run.record(actor, Kind.COORDINATION, say.agent_coordinates(actor))
            return UpdateReply(ok=True, message="coordination started; a human still acknowledges", status=st.status)
        if st.status is Status.ACKNOWLEDGED:
            return UpdateReply(ok=True, message=f"already acknowledged by {st.acknowledged_by}", status=st.status)
        self.run.apply(lifecycle.acknowledge(st, self.run.policy, actor, workflow.now(), via_source=False))
        return UpdateReply(ok=True, message=f"{st.incident_id} acknowledged by {actor}", status=st.status)

    def resolve(self, req: ResolveRequest, claim: Claim | None = None) -> UpdateReply:
        """Resolve, where the boundaries let this actor; a human who may, when present if `step_up` says so."""
        ask = ActionRequest(actor=req.actor, action="resolve", rationale=req.summary, params={"summary": req.summary})
        return (
            self.gate(req.actor, "resolve", ask)
            or self.step_up.check(req.actor, "resolve", claim, "resolve", "resolve it")
            or self.close(req.actor, req.summary, claim)
        )

    def close(self, actor: Actor, summary: str, claim: Claim | None = None) -> UpdateReply:
        st = self.run.require()
        t = lifecycle.close(st, actor, summary, workflow.now())
        for e in t.entries:
            e.data = via(claim, e.data)
        message = self.run.apply(t)
        return UpdateReply(ok=True, message=message, status=st.status)

    def severity(self, req: SeverityRequest, claim: Claim | None = None) -> UpdateReply:
        """A human sets the severity (confirming or changing it; present, where `step_up` names
        `confirm_severity` and the severity is one a human confirms); an agent proposes, and until a human
        confirms where the policy asks for it, the incident runs at the more severe of what is in force and the
        proposal."""
        st = self.run.require()
        if req.actor.kind is ActorKind.HUMAN:
            if refused := self.confirm_present(req.actor, req.severity, claim, "set it"):
                return refused
            t = lifecycle.set_severity(st, req.actor, req.severity, req.reason, workflow.now())
            for e in t.entries:
                e.data = via(claim, e.data)
            return UpdateReply(ok=True, message=self.run.apply(t), status=st.status)
        ask = ActionRequest(
            actor=req.actor, action="triage_severity", params={"severity": req.severity.value}, rationale=req.reason
        )
        return self.gate(req.actor, "triage_severity", ask) or self.propose_severity(req)

    def confirm_present(self, actor: Actor, severity: Severity, claim: Claim | None, verb: str) -> UpdateReply | None:
        """The step-up refusal for a human setting a severity a human must confirm, or None."""
        if not lifecycle.needs_confirmation(self.run.policy, severity):
            return None
        return self.step_up.check(actor, CONFIRM_SEVERITY, claim, f"severity {severity.value}", verb)

    def propose_severity(self, req: SeverityRequest) -> UpdateReply:
        st = self.run.require()
        t = lifecycle.propose_severity(st, self.run.policy, req.actor, req.severity, req.reason, workflow.now())
        return UpdateReply(ok=True, message=self.run.apply(t), status=st.status)

    def validate_severity(self, req: SeverityRequest) -> None:
        self.run.validate_open()
        if req.actor.kind is not ActorKind.HUMAN and not req.reason.strip():
            raise Rejected("a severity proposal needs a reason")

    def note(self, req: NoteRequest) -> UpdateReply:
        ask = ActionRequest(actor=req.actor, action="note", text=req.text, rationale=req.text)
        decision = self.decide("note", req.actor)
        if decision.allowed:
            spent = self.over_budget(req.actor, "note", "notes") or self.alone(req.actor, "note")
            return spent or self.note_by(req.actor, req.text)
        return self.gate(req.actor, "note", ask, decision) or self.note_by(req.actor, req.text)

    def note_by(self, actor: Actor, text: str) -> UpdateReply:
        self.run.record(actor, Kind.NOTE, text.strip())
        return UpdateReply(ok=True, message="note added", status=self.run.require().status)

    def validate_note(self, req: NoteRequest) -> None:
        self.run.require()
        if not req.text.strip():
            raise Rejected("a note needs text")

    # ---- requests the boundaries decide ------------------------------------------------------------------------

    async def request(self, req: ActionRequest, claim: Claim | None = None) -> UpdateReply:
        """Ask to do an action: it runs now (auto), becomes a pending approval (approval), or is refused. A human
        doing a step-up action at once does it only when present (`claim` says how they proved who they are)."""
        self.run.require()
        request_id = self.request_id(req)
        if (before := self.asked_before(request_id)) is not None and self.run.patched(ASKED_BEFORE_FIRST):
            return before
        decision = self.decide(req.action, req.actor)
        if decision.verdict in (Verdict.NEVER, Verdict.UNDEFINED):
            like = resembles(req.action, self.run.policy.boundaries.actions())
            if decision.verdict is not Verdict.UNDEFINED:
                hint = "ask a responder to do it"
            elif like is not None:
                hint = say.lookalike_hint(like)
            elif req.actor.kind is ActorKind.HUMAN:
                hint = "name it in boundaries.custom_actions (and give agents a rule for it) first"
            else:
                hint = "ask the team to write a rule for it in boundaries, or ask a responder to do it"
            return self.refusals.refuse(req.actor, req.action, decision.rule, hint, decision.verdict.value)
        refused = self.refuse_params(req)
        if refused is not None:
            return refused
        if (folded := self.folded(req)) is not None:
            return folded
        if (spent := self.over_budget(req.actor, req.action)) is not None:
            return spent
        if decision.verdict is Verdict.APPROVAL:
            return self.approvals.ask(req, decision, request_id or None)
        if req.actor.kind is ActorKind.HUMAN and (refused := self.human_present(req, claim)):
            return refused
        self.alone(req.actor, req.action)
        if req.action not in RECORDED_ONLY and self.run.patched(ACTIONS_FROM_MAIN_LOOP):
            return self.accept(req, decision)
        return await self.do(req, req.actor, approval=None)

    def human_present(self, req: ActionRequest, claim: Claim | None) -> UpdateReply | None:
        """The step-up refusal for a human doing `req.action` at once, or None."""
        verb = f"ask for {req.action} again"
        if req.action == "triage_severity":
            return self.confirm_present(req.actor, Severity(req.params["severity"]), claim, verb)
        return self.step_up.check(req.actor, req.action, claim, req.action, verb)

    def refuse_params(self, req: ActionRequest) -> UpdateReply | None:
        """The refusal for parameters the action's runner does not take (its rule: the config path that declares
        them), before it is asked for approval or run; None when they fit, or nothing runs it."""
        declared = self.run.policy.action_params.get(req.action)
        if declared is None or req.action in RECORDED_ONLY:
            return None
        problems = param_problems(req.params, declared)
        if not problems or not self.run.patched(ACTION_PARAMS):
            return None
        hint = "; ".join(p.message for p in problems) + "; ask again with parameters the action takes"
        return self.refusals.refuse(req.actor, req.action, problems[0].rule, hint, PARAMS_VERDICT)

    def accept(self, req: ActionRequest, decision: Decision) -> ActionReply:
        """An allowed action to run: recorded and queued for the main loop; the same request id asked again gets
        the same answer and queues nothing."""
        run, st = self.run, self.run.require()
        request_id = self.request_id(req)
        known = next((a for a in st.actions if request_id and a.request_id == request_id), None)
        if known is not None:
            return self.accepted_again(known)
        ref = st.next_action_id()
        st.actions.append(
            AcceptedAction(
                id=ref,
                request_id=request_id,
                action=req.action,
                params=req.params,
                text=req.text,
                rationale=req.rationale,
                requested_by=str(req.actor),
                requested_at=workflow.now(),
            )
        )
        text = say.action_accepted(req.actor, ref, req.action, decision.rule, req.rationale.strip())
        run.record(req.actor, Kind.ACTION_ACCEPTED, text, {"action": req.action, "ref": ref})
        run.wake = True
        message = f"{ref}: {req.action} accepted; it runs now and its outcome goes on the timeline"
        return ActionReply(ok=True, message=message, status=st.status, action_id=ref)

    @staticmethod
    def request_id(req: ActionRequest) -> str:
        """The caller's request id, else the update's (a retry of the same update asks nothing new either)."""
        update = workflow.current_update_info()
        return req.request_id or (update.id if update else "")

    def asked_before(self, request_id: str) -> UpdateReply | None:
        """The answer again for a request id already asked with: its accepted action's, or its approval's."""
        if not request_id:
            return None
        st = self.run.require()
        if (known := next((a for a in st.actions if a.request_id == request_id), None)) is not None:
            return self.accepted_again(known)
        if (approval := next((a for a in st.approvals if a.request_id == request_id), None)) is not None:
            return self.approvals.asked_again(approval)
        return None

    def accepted_again(self, known: AcceptedAction) -> ActionReply:
        message = f"{known.id}: {known.action} was already accepted ({known.status}); nothing new runs"
        return ActionReply(ok=True, message=message, status=self.run.require().status, action_id=known.id)

    def validate_request(self, req: ActionRequest) -> None:
        self.run.validate_open()
        st = self.run.require()
        if len(st.pending_approvals) >= MAX_PENDING:
            raise Rejected(f"{len(st.pending_approvals)} approvals already wait for a decision: decide those first")
        if len(st.queued_actions) + len(self.running) >= MAX_PENDING:
            raise Rejected(f"{MAX_PENDING} actions are already waiting or running: wait for their outcome")
        if req.actor.kind is not ActorKind.HUMAN and not req.rationale.strip():
            raise Rejected(f"a request to {req.action} needs a rationale: say why")
        if req.action == "customer_comms" and not (req.text or "").strip():
            raise Rejected("customer_comms needs the text to post")
        if req.action == "page" and not page_target_ok(req.params.get("target", "")):
            raise Rejected(
                f"page needs params {{target: NAME | user:NAME | schedule:NAME}}; got {req.params.get('target')!r}"
            )
        if req.action == "triage_severity" and req.params.get("severity") not in list(Severity):
            raise Rejected("triage_severity needs params {severity: SEV0..SEV4}")

    async def run_approved(self, approval_id: str) -> None:
        """The approved action, carried out while the main loop waits (incidents started before the patch)."""
        found = self._approved(approval_id)
        if found is not None:
            await self.do(*found)

    async def start_approved(self, approval_id: str) -> None:
        """The approved action: one the incident records at once, else started in the background."""
        found = self._approved(approval_id)
        if found is None:
            return
        req, approver, approval = found
        if req.action in RECORDED_ONLY:
            await self.do(req, approver, approval)
        else:
            self._background(approval.id, self.run_action(req, approver, approval))

    def _approved(self, approval_id: str) -> tuple[ActionRequest, Actor, Approval] | None:
        st = self.run.require()
        approval = st.approval(approval_id)
        if approval is None or not st.open:
            return None
        approver = Actor.parse(approval.decided_by or "system")
        req = ActionRequest.model_construct(
            actor=Actor.parse(approval.requested_by),
            action=approval.action,
            params=approval.params,
            text=approval.text,
            rationale=approval.rationale,
            request_id=None,
        )
        return req, approver, approval

    def start_next(self) -> bool:
        """Start the next accepted action in the background; False when none waits."""
        queued = self.run.require().queued_actions
        if not queued:
            return False
        accepted = queued[0]
        accepted.status = "running"
        actor = Actor.parse(accepted.requested_by)
        req = ActionRequest.model_construct(
            actor=actor,
            action=accepted.action,
            params=accepted.params,
            text=accepted.text,
            rationale=accepted.rationale,
            request_id=accepted.request_id,
        )

        def done(reply: UpdateReply) -> None:
            accepted.status = "ran" if reply.ok else "failed"

        self._background(accepted.id, self.run_action(req, actor, None, ref=accepted.id), done)
        return True

    def skip_queued(self) -> None:
        """Resolved before these accepted actions started: they never run."""
        for accepted in self.run.require().queued_actions:
            accepted.status = "skipped"
            self.run.record(Actor.system(), Kind.ACTION_SKIPPED, say.action_skipped(accepted.id, approved=False))

    def _background(
        self, ref: str, work: Coroutine[Any, Any, UpdateReply], done: Callable[[UpdateReply], None] | None = None
    ) -> None:
        self.running.add(ref)

        async def go() -> None:
            try:
                reply = await work
                if done is not None:
                    done(reply)
            finally:
                self.running.discard(ref)
                self.run.wake = True

        task = asyncio.ensure_future(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def do(self, req: ActionRequest, by: Actor, approval: Approval | None) -> UpdateReply:
        """Carry out an allowed or approved action. `by` is who answers for it: the approver, or the requester."""
        st = self.run.require()
        match req.action:
            case "resolve":
                return self.close(by, req.params.get("summary") or req.text or req.rationale)
            case "acknowledge":
                return self.ack_by(by)
            case "note":
                return self.note_by(by, req.text or req.rationale or "(empty)")
            case "triage_severity":
                sev = SeverityRequest(actor=by, severity=Severity(req.params["severity"]), reason=req.rationale)
                return self.severity(sev) if by.kind is ActorKind.HUMAN else self.propose_severity(sev)
            case "escalate":
                return self.escalate_now(by, req.rationale)
            case "page":
                return self.page_target(by, req.params["target"], req.rationale)
            case "lookup_oncall" | "gather_context":
                self.run.record(by, Kind(req.action), say.allowed_action(by, req.action, req.rationale))
                return UpdateReply(ok=True, message=f"{req.action}: allowed", status=st.status)
        return await self.run_action(req, by, approval)

    async def run_action(
        self, req: ActionRequest, by: Actor, approval: Approval | None, ref: str | None = None
    ) -> UpdateReply:
        """Rollback, customer comms, a custom action: run by the configured runner, as an activity. Every attempt
        carries the key `<incident id>/<A1 or R1>`: the same for this action, different for any other."""
        st = self.run.require()
        ref = approval.id if approval else (ref or st.next_action_id())
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
                    key=f"{st.incident_id}/{ref}",
                ),
                result_type=ActionRun,
                start_to_close_timeout=ACTION_TIMEOUT,
                retry_policy=ACTION_RETRY,
                summary=f"run {req.action} ({ref})",
            )
        except ActivityError as e:
            run = ActionRun(ok=False, detail=str(e.cause) if e.cause else str(e))
        if approval is not None:
            approval.run = run
        what = req.action + (f" ({approval.id})" if approval else "")
        text = say.action_outcome(what, approval is not None, run.ran, run.dry_run, run.ok, run.runner, run.detail)
        kind = Kind.ACTION_RAN if run.ok else Kind.ACTION_FAILED
        if not run.ok:
            self.run.count(req.actor, req.action, "failed")
        self.run.record(by, kind, text, {"action": req.action, "ref": ref})
        self.run.tell(self.run.responders(), "notice", text)
        return UpdateReply(ok=run.ok, message=text, status=st.status)

    def escalate_now(self, by: Actor, why: str) -> UpdateReply:
        """Page the next level now instead of waiting for its timer (or, acknowledged, bring in the next level)."""
        run, st, now = self.run, self.run.require(), workflow.now()
        levels = run.policy.escalation.levels
        cur = st.escalation
        if cur.active and not cur.pending_exhaustion(run.policy.escalation):
            if run.escalating is cur and self.run.patched(ESCALATE_NEXT_LEVEL):
                return self.escalate_after_paging(by, why)
            st.escalation = cur.model_copy(update={"next_at": now})
            run.record(by, Kind.ESCALATE, say.escalate_now(by, cur.level + 1, why), {"level": cur.level + 1})
            run.wake = True
            return UpdateReply(ok=True, message=f"paging level {cur.level + 1} now", status=st.status)
        if st.top_level >= len(levels):
            return UpdateReply(ok=False, message="every escalation level has already been paged", status=st.status)
        st.top_level += 1
        run.record(by, Kind.ESCALATE, say.bring_in(by, st.top_level, why), {"level": st.top_level})
        run.notices.append((levels[st.top_level - 1].notify, run.page(st.top_level, 0)))
        run.wake = True
        return UpdateReply(ok=True, message=f"paging level {st.top_level} now", status=st.status)

    def escalate_after_paging(self, by: Actor, why: str) -> UpdateReply:
        """Level n is being paged right now: the level after it is due the moment that page is out."""
        run, st, now = self.run, self.run.require(), workflow.now()
        pol, cur = run.policy.escalation, st.escalation
        n, after = cur.level + 1, cur.advance(pol, now, skipped=True)
        if after.pending_exhaustion(pol):
            message = f"level {n}, the last, is being paged now: no level is left to bring in"
            return UpdateReply(ok=False, message=message, status=st.status)
        cur.hurry()
        run.record(by, Kind.ESCALATE, say.escalate_now(by, after.level + 1, why), {"level": after.level + 1})
        return UpdateReply(
            ok=True, message=f"paging level {after.level + 1} as soon as level {n} is paged", status=st.status
        )

    def page_target(self, by: Actor, target: str, why: str) -> UpdateReply:
        """Page one more person (or whoever is on call on a schedule) into this incident."""
        st = self.run.require()
        target = target if ":" in target else f"user:{target}"
        self.run.record(by, Kind.PAGE_REQUESTED, say.page_requested(by, target, why), {"target": target})
        page = self.run.page(max(st.top_level, 1), 0)
        if by.kind is ActorKind.AGENT and self.run.patched(AGENT_PAGED):
            page = page.model_copy(update={"requested_by": str(by)})  # who it reaches is no `oncall` approver
        self.run.notices.append(([target], page))
        self.run.wake = True
        return UpdateReply(ok=True, message=f"paging {target}", status=st.status)


def page_target_ok(target: str) -> bool:
    """`NAME`, `user:NAME` or `schedule:NAME`: anything else would page nobody."""
    kind, _, name = target.rpartition(":")
    return kind in ("", "user", "schedule") and bool(NAME.match(name))
