"""Stakeholder updates: due at the cadence for the severity, drafted from the timeline since the last one, asked
of the lead (or `comms`), reminded, then escalated like an approval when nobody sends it; sent to the internal
audiences (machine work where the boundaries allow) or, as customer communication, only by a human decision.

Everything here happens only where the incident's policy has `coordination` (older snapshots have none) and the
run took the `UPDATES` patch, so histories from before replay as they ran."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from incident import sentences as say
from incident.approvals import ActionRun, Approval
from incident.attestation import Claim
from incident.coordination import UpdateSettings
from incident.models import Actor, UpdateReply
from incident.policy import INTERNAL_UPDATE
from incident.state import MAX_PENDING
from incident.timeline import Kind
from incident.updates import (
    CUSTOMERS,
    DRAFT_LIMIT,
    MAX_OUTBOX,
    Outgoing,
    UpdatesState,
    cadence,
    draft,
    next_due,
    remind_after,
    senders,
)
from workflows.incident.refusals import Refusals
from workflows.incident.requests import Requests
from workflows.incident.run import IncidentRun, Rejected
from workflows.messages import ActionReply, ActionRequest, PostUpdateRequest, StakeholderUpdateRequest, UpdatePosted

UPDATES = "stakeholder-updates"
"""Patch id: stakeholder updates fall due (before: none)."""
POST_TIMEOUT = timedelta(seconds=30)
POST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


def _hhmm(t: datetime | None) -> str:
    return t.astimezone(UTC).strftime("%H:%M UTC") if t else "—"


class StakeholderUpdates:
    def __init__(self, run: IncidentRun, refusals: Refusals, requests: Requests) -> None:
        self.run = run
        self.refusals = refusals
        self.requests = requests
        self._patched: bool | None = None
        self.posting: set[str] = set()
        """Updates whose audiences are being posted to right now, by id (`U2`)."""
        self._tasks: set[asyncio.Future[None]] = set()
        run.hold(lambda: bool(self.posting) or bool(run.state and run.state.updates and run.state.updates.outbox))

    # ---- what applies ---------------------------------------------------------------------------------------

    def settings(self) -> UpdateSettings | None:
        """The incident's update settings, where its policy has coordination with a cadence or an audience."""
        c = self.run.policy.coordination
        if c is None or not (c.updates.every or c.updates.internal):
            return None
        return c.updates

    def _active(self) -> UpdateSettings | None:
        """The settings, when updates apply to this run (a command-issuing place only: it may mark the patch)."""
        settings = self.settings()
        if settings is None or self.run.state is None:
            return None
        if self._patched is None:
            self._patched = self.run.patched(UPDATES)
        return settings if self._patched else None

    def _state(self) -> UpdatesState:
        st = self.run.require()
        if st.updates is None:
            st.updates = UpdatesState()
        return st.updates

    # ---- the main loop's side -------------------------------------------------------------------------------

    def deadline(self) -> tuple[datetime, str] | None:
        """The next time this helper must act (an update due, a reminder, an escalation), or None."""
        st, settings = self.run.state, self._active()
        if settings is None or st is None or not st.open:
            return None
        upd = st.updates or UpdatesState()
        if not upd.pending:
            due = next_due(settings, st, upd)
            return (due, f"stakeholder update {upd.number} due") if due else None
        if not upd.reminded and upd.remind_at:
            return upd.remind_at, f"stakeholder update {upd.number} unsent: remind"
        if upd.escalate_at:
            return upd.escalate_at, f"stakeholder update {upd.number} unsent: escalate"
        return None

    async def step(self, now: datetime) -> bool:
        """Act on a deadline that has come, or post an update accepted; whether anything was done."""
        st, settings = self.run.state, self._active()
        if settings is None or st is None or not st.open:
            return False
        upd = self._state()
        if (queued := next((o for o in upd.outbox if o.status == "queued"), None)) is not None:
            self._post(queued)
            return True
        if not upd.pending:
            due = next_due(settings, st, upd)
            upd.due_at = due
            if due is not None and due <= now:
                self._fall_due(settings, upd, due, now)
                return True
            return False
        if not upd.reminded and upd.remind_at and upd.remind_at <= now:
            self._remind(settings, upd, now)
            return True
        if upd.escalate_at and upd.escalate_at <= now:
            self._escalate(settings, upd, now)
            return True
        return False

    def _ask_text(self, upd: UpdatesState) -> str:
        st = self.run.require()
        return say.update_ask(st.incident_id, upd.number, upd.draft or "", self._customers())

    def _customers(self) -> bool:
        """Whether the incident can reach customers: a runner for customer_comms, or a customer-facing service."""
        return "customer_comms" in self.run.policy.action_params or self.run.policy.service.customer_facing

    def _fall_due(self, settings: UpdateSettings, upd: UpdatesState, due: datetime, now: datetime) -> None:
        run, st = self.run, self.run.require()
        every = cadence(settings, st) or timedelta(0)
        upd.pending, upd.due_at, upd.reminded, upd.level = True, due, False, 0
        if upd.draft is None or upd.draft_by in (None, "baton"):
            upd.draft, upd.draft_by = draft(st, run.policy, now, now + every), "baton"
        upd.asked = senders(st, run.policy)
        upd.remind_at, upd.escalate_at = now + remind_after(settings, st), None
        data = {"update": upd.number, "draft": upd.draft, "asked": upd.asked, "by": upd.draft_by}
        run.record(Actor.system(), Kind.UPDATE_DUE, say.update_due(upd.number, upd.asked, every), data)
        run.tell(upd.asked, "notice", self._ask_text(upd))

    def _remind(self, settings: UpdateSettings, upd: UpdatesState, now: datetime) -> None:
        run, st = self.run, self.run.require()
        wait = remind_after(settings, st)
        upd.asked = senders(st, run.policy)  # a lead may have come since it fell due
        upd.reminded, upd.escalate_at = True, now + wait
        text = say.update_reminded(upd.number, wait, upd.asked)
        run.record(Actor.system(), Kind.UPDATE_REMINDED, text, {"update": upd.number, "asked": upd.asked})
        run.tell(upd.asked, "notice", "Reminder: " + self._ask_text(upd))

    def _escalate(self, settings: UpdateSettings, upd: UpdatesState, now: datetime) -> None:
        """Like an unanswered approval: the next escalation level neither paged nor asked about this update yet is
        asked; when every level has been, it stays due, and nobody else is asked."""
        run, st = self.run, self.run.require()
        levels, wait = run.policy.escalation.levels, remind_after(settings, st)
        asked = max(st.top_level, upd.level)
        if asked >= len(levels):
            upd.escalate_at = None
            return
        level = levels[asked]
        upd.level, upd.escalate_at = asked + 1, now + wait
        waited = now - (upd.due_at or now)
        text = say.update_escalated(upd.number, waited, asked + 1, level.notify)
        run.record(Actor.system(), Kind.UPDATE_ESCALATED, text, {"update": upd.number, "level": asked + 1})
        run.tell(level.notify, "notice", self._ask_text(upd))

    # ---- sending and proposing ------------------------------------------------------------------------------

    def validate(self, req: StakeholderUpdateRequest) -> None:
        self.run.validate_open()
        if self.settings() is None:
            raise Rejected("this incident has no stakeholder updates: its policy sets no coordination.updates")
        st = self.run.require()
        upd = st.updates or UpdatesState()
        if req.propose:
            if not (req.text or "").strip():
                raise Rejected("a proposal needs the wording: give the text")
            if req.audience == CUSTOMERS:
                raise Rejected("propose the wording without an audience; the sender picks where it goes")
            return
        if not (req.text or "").strip() and not upd.draft:
            raise Rejected(f"no update is due yet and there is no draft: give the text to send (next due {_due(upd)})")
        if req.audience == CUSTOMERS:
            if len(st.pending_approvals) >= MAX_PENDING:
                raise Rejected(f"{len(st.pending_approvals)} approvals already wait for a decision: decide those first")
            if len(st.queued_actions) >= MAX_PENDING:
                raise Rejected(f"{MAX_PENDING} actions are already waiting or running: wait for their outcome")
        elif len(upd.outbox) >= MAX_OUTBOX:
            raise Rejected(f"{len(upd.outbox)} updates are still being posted: wait for them")

    async def send(self, req: StakeholderUpdateRequest, proof: Claim | None) -> UpdateReply:
        """Propose the wording (`propose`), send to the internal audiences (the boundaries decide for an agent),
        or ask for it to go to customers as `customer_comms` (a human decision, always)."""
        st = self.run.require()
        settings = self._active()
        if settings is None:
            return UpdateReply(ok=False, message="stakeholder updates do not apply to this incident", status=st.status)
        upd = self._state()
        if req.propose:
            return self._propose(req, upd)
        text = (req.text or "").strip() or (upd.draft or "").strip()
        if req.audience == CUSTOMERS:
            return await self._to_customers(req.actor, text, upd, proof)
        ask = ActionRequest.model_construct(
            actor=req.actor,
            action=INTERNAL_UPDATE,
            params={},
            text=text,
            rationale=f"stakeholder update {upd.number} to {', '.join(settings.internal) or 'the timeline'}",
            request_id=None,
        )
        if refused := self.requests.gate(req.actor, INTERNAL_UPDATE, ask):
            return refused
        step_up = self.requests.step_up.check(req.actor, INTERNAL_UPDATE, proof, INTERNAL_UPDATE, "send it")
        if step_up is not None:
            return step_up
        return self._sent(settings, upd, req.actor, text, list(settings.internal))

    def _propose(self, req: StakeholderUpdateRequest, upd: UpdatesState) -> UpdateReply:
        run, st = self.run, self.run.require()
        if spent := self.requests.over_budget(req.actor, "propose_update", "notes"):
            return spent
        text = (req.text or "").strip()[:DRAFT_LIMIT]
        upd.draft, upd.draft_by = text, str(req.actor)
        data = {"update": upd.number, "text": text}
        run.record(req.actor, Kind.UPDATE_PROPOSED, say.update_proposed(req.actor, upd.number, text), data)
        asked = senders(st, run.policy)
        run.tell(asked, "notice", say.update_proposal_notice(st.incident_id, req.actor, upd.number, text))
        who = ", ".join(t.removeprefix("user:") for t in asked) or "nobody yet"
        message = f"your wording is the draft of update {upd.number}; {who} is asked to send it"
        return UpdateReply(ok=True, message=message, status=st.status)

    async def _to_customers(self, actor: Actor, text: str, upd: UpdatesState, proof: Claim | None) -> UpdateReply:
        """Customer-facing text goes through `customer_comms`: an agent's becomes an approval request, a human's
        runs the status page's runner as any of their requests does (present, where step-up says so)."""
        req = ActionRequest(
            actor=actor,
            action="customer_comms",
            text=text,
            rationale=f"stakeholder update {upd.number} for customers",
        )
        reply = await self.requests.request(req, proof)
        if reply.ok and reply.approval_id:
            upd.customer_approvals = [*upd.customer_approvals, reply.approval_id][-MAX_PENDING:]
        if reply.ok and isinstance(reply, ActionReply) and reply.action_id and not reply.approval_id:
            settings = self._active()
            assert settings is not None
            self._sent(settings, upd, actor, text, [], customers=reply.action_id)
            reply = reply.model_copy(update={"message": f"{reply.message}; update {upd.sent} sent to customers"})
        return UpdateReply.model_validate(reply.model_dump(include=set(UpdateReply.model_fields)))

    def approved(self, approval: Approval) -> None:
        """An agent's internal update, approved by a human: it goes out now, with the approver's edit if any."""
        settings, st = self._active(), self.run.require()
        if settings is None or not st.open:
            return
        upd = self._state()
        by = Actor.parse(approval.requested_by)
        approval.run = ActionRun(ok=True, detail="sent as a stakeholder update")
        text = approval.text or upd.draft or ""
        self._sent(settings, upd, by, text, list(settings.internal), approved_by=approval.decided_by)

    def customers_approved(self, approval: Approval) -> None:
        """A `customer_comms` an update asked for, approved by a human: the update is sent to customers (the
        action's outcome follows on the timeline), and the next one is due `every` later."""
        settings, st = self._active(), self.run.require()
        upd = st.updates
        if settings is None or upd is None or approval.id not in upd.customer_approvals:
            return
        upd.customer_approvals = [a for a in upd.customer_approvals if a != approval.id]
        by = Actor.parse(approval.requested_by)
        text = approval.text or ""
        self._sent(settings, upd, by, text, [], approved_by=approval.decided_by, customers=approval.id)

    def _sent(
        self,
        settings: UpdateSettings,
        upd: UpdatesState,
        by: Actor,
        text: str,
        audiences: list[str],
        approved_by: str | None = None,
        customers: str | None = None,
    ) -> UpdateReply:
        """The update is sent: on the record, queued for its audiences, and the next one is due `every` later."""
        run, st, now = self.run, self.run.require(), workflow.now()
        number = upd.number
        upd.sent, upd.last_sent_at = number, now
        upd.pending, upd.draft, upd.draft_by, upd.asked = False, None, None, []
        upd.remind_at = upd.escalate_at = None
        upd.reminded, upd.level = False, 0
        upd.due_at = next_due(settings, st, upd)
        if audiences:
            upd.outbox.append(Outgoing(id=f"U{number}", text=text, audiences=audiences, by=str(by)))
        shown = ["customers (customer_comms " + customers + ")"] if customers else audiences
        data: dict[str, Any] = {"update": number, "text": text, "audiences": shown, "by": str(by)}
        if approved_by:
            data["approved_by"] = approved_by
        if customers:
            data["ref"] = customers
        run.record(by, Kind.UPDATE_SENT, say.update_sent(by, number, shown, text, approved_by), data)
        run.wake = True
        nxt = f"; the next is due at {_hhmm(upd.due_at)}" if upd.due_at else ""
        message = f"update {number} sent to {', '.join(shown) or 'the timeline'}{nxt}"
        return UpdateReply(ok=True, message=message, status=st.status)

    # ---- posting to the internal audiences ------------------------------------------------------------------

    async def finish(self) -> None:
        """The incident is resolved: updates sent before it still reach their audiences, then the run may end."""
        st = self.run.state
        if st is None or st.updates is None or not st.updates.outbox:
            return
        for out in [o for o in st.updates.outbox if o.status == "queued"]:
            self._post(out)
        await workflow.wait_condition(lambda: not self.posting)

    def _post(self, out: Outgoing) -> None:
        out.status = "posting"
        self.posting.add(out.id)

        async def go() -> None:
            try:
                await asyncio.gather(*(self._post_one(out, audience) for audience in out.left))
                self._posted(out)
            finally:
                self.posting.discard(out.id)
                self.run.wake = True

        task = asyncio.ensure_future(go())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post_one(self, out: Outgoing, audience: str) -> None:
        """One audience, as an activity of its own: its retries post there and nowhere else, so an audience
        already reached is never posted to twice."""
        st = self.run.require()
        req = PostUpdateRequest(
            incident_id=st.incident_id,
            workflow_id=st.workflow_id,
            service=st.service,
            title=st.title,
            update_id=out.id,
            audience=audience,
            text=out.text,
            key=f"{st.incident_id}/{out.id}/{audience}",
        )
        try:
            posted: UpdatePosted = await workflow.execute_activity(
                "post_stakeholder_update",
                req,
                result_type=UpdatePosted,
                start_to_close_timeout=POST_TIMEOUT,
                retry_policy=POST_RETRY,
                summary=f"post update {out.id} to {audience}",
            )
        except ActivityError as e:
            posted = UpdatePosted(ok=False, detail=str(e.cause) if e.cause else str(e))
        if posted.ok:
            out.posted.append(audience)
            out.drill = out.drill or posted.dry_run
        else:
            out.failed[audience] = posted.detail[:300] or "failed"

    def _posted(self, out: Outgoing) -> None:
        run, st = self.run, self.run.require()
        upd = self._state()
        number = int(out.id.removeprefix("U"))
        text = say.update_posted(number, out.posted, out.failed, out.drill)
        data = {"update": number, "posted": out.posted, "failed": out.failed}
        run.record(Actor.system(), Kind.UPDATE_POSTED, text, data)
        if out.failed:
            run.tell(senders(st, run.policy), "notice", text)
        upd.outbox = [o for o in upd.outbox if o.id != out.id]


def _due(upd: UpdatesState) -> str:
    return _hhmm(upd.due_at) if upd.due_at else "when the severity has a cadence"
