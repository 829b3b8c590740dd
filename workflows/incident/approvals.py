"""Approvals: a request whose rule is `approval` waits for a human with the right to decide; approved, its
action runs from the main loop."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from incident import lifecycle
from incident import sentences as say
from incident.approvals import Approval, ApprovalStatus
from incident.attestation import Claim
from incident.models import Actor, ActorKind, UpdateReply
from incident.policy import Decision, Verdict
from incident.timeline import Kind
from workflows.incident.refusals import Refusals
from workflows.incident.run import IncidentRun, Rejected
from workflows.incident.step_up import StepUp, via
from workflows.messages import ActionRequest, DecisionRequest, WithdrawRequest

APPROVAL_OWN_LEVEL = "approval-own-level"
"""An unanswered approval escalates on its own level and leaves the incident's (`top_level`) to `escalate`."""


class Approvals:
    def __init__(self, run: IncidentRun, refusals: Refusals, step_up: StepUp) -> None:
        self.run = run
        self.refusals = refusals
        self.step_up = step_up
        self.approved: list[str] = []
        """Approved approvals whose action the main loop runs."""
        run.hold(lambda: bool(self.approved))

    def ask(self, req: ActionRequest, decision: Decision, request_id: str | None = None) -> UpdateReply:
        """A new pending approval; `request_id` is kept on it, so a retry of the request is answered with it."""
        run, st, now = self.run, self.run.require(), workflow.now()
        bounds = run.policy.boundaries
        approval = Approval(
            id=st.next_approval_id(),  # counted, so ids stay unique when decided ones are not carried
            action=req.action,
            params=req.params,
            text=(req.text or "").strip() or None,
            rationale=req.rationale.strip(),
            requested_by=str(req.actor),
            requested_at=now,
            rule=decision.rule,
            approvers=bounds.approvers_for(req.action),
            deadline=now + bounds.approval_timeout,
            request_id=request_id,
        )
        st.approvals.append(approval)
        run.count(req.actor, req.action, "approval")
        run.record(
            req.actor,
            Kind.APPROVAL_REQUESTED,
            say.approval_requested(req.actor, approval, bounds.approval_timeout),
            {"approval": approval.id, "action": req.action},
        )
        run.tell(self._targets(approval), "approval", say.approval_question(st.incident_id, approval), approval.id)
        return UpdateReply(
            ok=True,
            message=f"{approval.id}: {approval.describe()} waits for approval by {', '.join(approval.approvers)}",
            rule=decision.rule,
            status=st.status,
            verdict=Verdict.APPROVAL.value,
            approval_id=approval.id,
        )

    def asked_again(self, approval: Approval, folded: bool = False) -> UpdateReply:
        """The answer to a retry of the request `approval` came from (or, `folded`, to a request like it while it
        waits): the same approval, nothing new asked."""
        st, asked = self.run.require(), f"{approval.id}: {approval.describe()}"
        message = f"{asked} was already asked for ({approval.status.value}); nothing new is asked"
        if folded:
            message = f"{asked} already waits for approval; this request is folded into it and nothing new is asked"
        return UpdateReply(
            ok=True,
            message=message,
            rule=approval.rule,
            status=st.status,
            verdict=Verdict.APPROVAL.value,
            approval_id=approval.id,
        )

    def _targets(self, approval: Approval) -> list[str]:
        """Who is asked: the people who may approve; with nobody paged yet, the first escalation level."""
        st, policy = self.run.require(), self.run.policy
        people = policy.boundaries.approver_people(approval.action, st.oncall)
        targets = [f"user:{p}" for p in people if f"user:{p}" != approval.requested_by.replace("human:", "user:")]
        if "oncall" in approval.approvers and not st.oncall and policy.escalation.levels:
            targets += policy.escalation.levels[0].notify
        return targets

    def timed_out(self, approval: Approval, now: datetime) -> None:
        own_level = self.run.patched(APPROVAL_OWN_LEVEL)
        self.run.apply(lifecycle.approval_timed_out(self.run.require(), self.run.policy, approval, now, own_level))
        if approval.status is ApprovalStatus.EXPIRED:
            self.run.count(Actor.parse(approval.requested_by), approval.action, "expired")

    def decide(self, req: DecisionRequest, claim: Claim | None = None) -> UpdateReply:
        """A human approves or denies a pending approval; `claim` is how the gateway says they proved who they are
        (a step-up action needs them present)."""
        run, st, now = self.run, self.run.require(), workflow.now()
        approval = st.approval(req.approval_id)
        assert approval is not None  # the validator checked
        verb = "approve" if req.approve else "deny"
        refuse = self.refusals.refuse
        if req.actor.kind is not ActorKind.HUMAN:
            return refuse(req.actor, f"{verb} {approval.id}", "only humans decide approvals", "a responder decides")
        bounds = run.policy.boundaries
        if not bounds.may_approve(approval.action, req.actor.name, st.oncall):
            return refuse(
                req.actor,
                f"{verb} {approval.id}",
                f"boundaries.approvers: {', '.join(approval.approvers)}",
                f"{req.actor.name} is not among those who may decide {approval.action}",
            )
        if approval.requested_by == str(req.actor) and not bounds.self_approval:
            return refuse(
                req.actor,
                f"{verb} {approval.id}",
                "boundaries.self_approval: false",
                "you asked for it; another approver decides",
            )
        if refused := self.step_up.check(req.actor, approval.action, claim, f"{verb} {approval.id}", f"{verb} it"):
            return refused
        approval.decided_by, approval.decided_at = str(req.actor), now
        if not req.approve:
            approval.status, approval.reason = ApprovalStatus.DENIED, req.reason.strip()
            run.count(Actor.parse(approval.requested_by), approval.action, "denied")
            text = say.approval_denied(req.actor, approval)
            run.record(req.actor, Kind.APPROVAL_DENIED, text, via(claim, {"approval": approval.id}))
            run.tell(run.responders(), "notice", text)
            return UpdateReply(ok=True, message=text, status=st.status)
        approval.status = ApprovalStatus.APPROVED
        run.count(Actor.parse(approval.requested_by), approval.action, "approved")
        if req.text and req.text.strip():
            approval.text = req.text.strip()
        text = say.approval_approved(req.actor, approval, edited=bool(req.text and req.text.strip()))
        run.record(req.actor, Kind.APPROVAL_APPROVED, text, via(claim, {"approval": approval.id}))
        self.approved.append(approval.id)
        run.wake = True
        return UpdateReply(ok=True, message=text, status=st.status)

    def withdraw(self, req: WithdrawRequest) -> UpdateReply:
        """Whoever asked takes back a request that still waits: nobody decides it any more."""
        run, st, now = self.run, self.run.require(), workflow.now()
        approval = st.approval(req.approval_id)
        assert approval is not None  # the validator checked
        if approval.requested_by != str(req.actor):
            return self.refusals.refuse(
                req.actor,
                f"withdraw {approval.id}",
                "only whoever asked may withdraw a request",
                f"{approval.id} was asked for by {approval.requested_by}; a responder may deny it",
            )
        approval.status, approval.decided_by, approval.decided_at = ApprovalStatus.WITHDRAWN, str(req.actor), now
        approval.reason = req.reason.strip() or None
        text = say.withdrawn(req.actor, approval)
        run.record(req.actor, Kind.APPROVAL_WITHDRAWN, text, {"approval": approval.id})
        run.wake = True  # its deadline is no longer one to wait for
        return UpdateReply(ok=True, message=text, status=st.status, approval_id=approval.id)

    def validate_withdraw(self, req: WithdrawRequest) -> None:
        self._validate_pending(req.approval_id)

    def validate_decide(self, req: DecisionRequest) -> None:
        self._validate_pending(req.approval_id)
        if not req.approve and not req.reason.strip():
            raise Rejected("a denial needs a reason (--reason)")

    def _validate_pending(self, approval_id: str) -> None:
        self.run.validate_open()
        st = self.run.require()
        approval = st.approval(approval_id)
        if approval is None:
            pending = ", ".join(a.id for a in st.pending_approvals) or "none"
            raise Rejected(f"{st.incident_id} has no approval {approval_id}; pending: {pending}")
        if approval.status is ApprovalStatus.EXPIRED:
            raise Rejected(
                f"{approval.id} expired at {approval.decided_at:%H:%M:%S} UTC; it can no longer be decided "
                "(the requester may ask again)"
            )
        if not approval.pending:
            raise Rejected(
                f"{approval.id} was already {approval.status.value} by {approval.decided_by} "
                f"at {approval.decided_at:%H:%M:%S} UTC"
            )
