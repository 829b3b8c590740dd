"""Who leads: roles taken and handed over by humans, the first human acknowledgement making a lead, and the
incident commanders paged when nobody leads in time (`coordination.lead_within`, a durable deadline).

An agent may propose a lead, never take or assign a role: its attempt is refused and recorded. Incidents whose
policy snapshot has no `coordination` (opened before it) have no roles: a change is rejected with how to get them
(`baton reload`), an acknowledgement makes nobody lead, and nobody is paged for a missing lead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

from incident import roles
from incident import sentences as say
from incident.attestation import Claim
from incident.coordination import COMMANDERS, LEAD
from incident.models import Actor, ActorKind, UpdateReply
from incident.timeline import Kind
from workflows.incident.paging import Paging
from workflows.incident.refusals import Refusals
from workflows.incident.requests import Requests
from workflows.incident.run import IncidentRun, Rejected
from workflows.messages import RoleRequest

ROLES = "roles"
"""Patch id: incidents have roles (before: none, and an acknowledgement made nobody lead)."""
COMMANDERS_FOR = timedelta(hours=1)
"""How long an incident commander's page is tried while nobody takes the lead and it is not delivered."""


class Roles:
    def __init__(self, run: IncidentRun, refusals: Refusals, paging: Paging, requests: Requests) -> None:
        self.run = run
        self.refusals = refusals
        self.paging = paging
        self.requests = requests

    def on(self) -> bool:
        """Whether this incident has roles: its policy has coordination, and the run is past the `roles` patch."""
        return self.run.policy.coordination is not None and self.run.patched(ROLES)

    def validate(self, req: RoleRequest) -> None:
        """Turn away what names nothing: no roles, a role the incident lacks, a person the config lacks."""
        self.run.validate_open()
        st = self.run.require()
        if req.propose and req.person is None:
            raise Rejected("a proposal names the person proposed")
        if req.propose and req.actor.kind is not ActorKind.HUMAN and not req.reason.strip():
            raise Rejected("a proposal needs a reason")
        person = req.person or (req.actor.name if req.actor.kind is ActorKind.HUMAN else None)
        if found := roles.problem(st, self.run.policy, req.role, person):
            raise Rejected(found)

    def change(self, req: RoleRequest, proof: Claim | None) -> UpdateReply:
        """A human takes `role` or hands it to `person`; anyone may propose someone; an agent's take or assign is
        refused by `coordination.roles: humans only`, counted like every refusal."""
        run, st = self.run, self.run.require()
        if not self.on():
            return UpdateReply(ok=False, message=roles.before_roles(st.incident_id), status=st.status)
        actor = req.actor
        if req.propose:
            return self.requests.over_budget(actor, "propose_role") or self._propose(req)
        if actor.kind is not ActorKind.HUMAN:
            what = f"take {req.role}" if req.person is None else f"assign {req.role}"
            hint = f"propose someone for {req.role} instead (propose, with a reason): a human takes or hands it over"
            return self.refusals.refuse(actor, what, roles.HUMANS_ONLY, hint)
        message = run.apply(roles.assign(st, actor, req.role, req.person or actor.name, workflow.now()))
        return UpdateReply(ok=True, message=message, status=st.status)

    def _propose(self, req: RoleRequest) -> UpdateReply:
        run, st = self.run, self.run.require()
        person = req.person or ""
        if st.roles.get(req.role) == person:
            return UpdateReply(ok=True, message=f"{person} already holds {req.role}", status=st.status)
        reason = req.reason.strip()
        data = {"role": req.role, "person": person, "by": str(req.actor)}
        run.record(req.actor, Kind.ROLE_PROPOSED, say.role_proposed(req.actor, person, req.role, reason), data)
        told = [*run.responders(), *([] if f"user:{person}" in run.responders() else [f"user:{person}"])]
        run.tell(told, "notice", say.role_proposal_notice(st.incident_id, req.actor, person, req.role, reason))
        return UpdateReply(ok=True, message=f"proposed {person} as {req.role}; a human decides", status=st.status)

    def acknowledged(self, actor: Actor, reply: UpdateReply) -> UpdateReply:
        """The first human to acknowledge leads, unless someone already does."""
        st = self.run.state
        if st is None or not reply.ok or actor.kind is not ActorKind.HUMAN or st.acknowledged_by != str(actor):
            return reply
        if st.lead is not None or not self.on():
            return reply
        self.run.apply(roles.assign(st, actor, LEAD, actor.name, workflow.now(), first_ack=True))
        return reply.model_copy(update={"message": f"{reply.message}; {actor.name} leads"})

    # ---- nobody leads in time: the incident commanders are paged ---------------------------------------------

    def deadline(self) -> tuple[datetime, str] | None:
        """The next time this helper must act (no lead by `lead_within`), or None."""
        st = self.run.state
        due = roles.lead_deadline(st, self.run.policy) if st is not None else None
        if due is None or not self.on():
            return None
        return due[0], "nobody leads: page the incident commanders"

    async def step(self, now: datetime) -> bool:
        """Act on a deadline that has come; whether anything was done."""
        run, st = self.run, self.run.require()
        due = roles.lead_deadline(st, run.policy)
        if due is None or due[0] > now or not self.on():
            return False
        at, within = due
        st.commanders_paged = True
        people = list(run.policy.boundaries.roles.get(COMMANDERS, []))
        data = {"within": int(within.total_seconds()), "people": people}
        run.record(Actor.system(), Kind.LEAD_MISSING, say.lead_missing(within, people), data)
        if not people:
            return True
        try:
            found = await self.paging.lookup([f"user:{p}" for p in people], at, "who are the incident commanders")
        except ActivityError as e:
            why = str(e.cause or e)
            run.record(Actor.system(), Kind.PAGE_PROBLEM, f"could not look up the incident commanders: {why}")
            return True
        self.paging.report_problems(found)
        if st.lead is not None or not st.open:
            return True  # someone took the lead (or resolved it) while looking up
        page = run.page(0, 0).model_copy(update={"notice": say.lead_missing_page(st.incident_id, within)})
        started = workflow.now()

        def until() -> str | None:
            if (lead := run.require().lead) is not None:
                return f"{lead} leads"
            if workflow.now() >= started + COMMANDERS_FOR:
                return "not delivered within an hour, and nobody leads yet"
            return None

        for r in found.recipients:
            who = r.model_copy(update={"via": f"role:{COMMANDERS}"})
            key = f"{st.workflow_id}/{st.incident_id}/lead/{r.person}"
            self.paging.deliveries.start_beside(who, page, key, until, COMMANDERS)
        return True
