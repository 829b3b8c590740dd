"""A request the boundaries turn down: on the timeline, counted (search attribute `BoundaryRefusals` and the memo
`baton boundaries report` reads), and told to the responders the first time of its kind."""

from __future__ import annotations

from temporalio import workflow

from incident import sentences as say
from incident.approvals import MAX_REFUSAL_KINDS, Refusal, refusal_memo
from incident.models import Actor, UpdateReply
from incident.policy import Verdict
from incident.timeline import Kind
from workflows import search_attributes as sa
from workflows.incident.run import IncidentRun

IMPERSONATION = "impersonation"
"""The verdict of a request whose actor is not proven by the gateway's signed claim."""
IMPERSONATION_RULE = "identity.proof"
APPROVALS = "approvals"
"""Patch id: agents' judgment requests become approvals, and refusals are counted and told. Incidents that
started before it keep refusing them as they did (the saved histories in tests/fixtures replay this way)."""


class Refusals:
    def __init__(self, run: IncidentRun) -> None:
        self.run = run

    def refuse(self, actor: Actor, action: str, rule: str, hint: str, verdict: str = "never") -> UpdateReply:
        run, st = self.run, self.run.require()
        undefined = verdict == Verdict.UNDEFINED
        text = say.refused(actor, action, rule, hint, undefined)
        run.record(actor, Kind.UNDEFINED if undefined else Kind.REFUSED, text, {"action": action})
        if not workflow.patched(APPROVALS):  # incidents started before refusals were counted and told
            return UpdateReply(ok=False, message=f"refused by {rule}: {hint}", rule=rule, status=st.status)
        self._count(str(actor), action, rule, verdict, text)
        message = f"{action} is undefined: {rule}; {hint}" if undefined else f"refused by {rule}: {hint}"
        return UpdateReply(ok=False, message=message, rule=rule, status=st.status, verdict=verdict)

    def impersonation(self, claimed: Actor, update: str, problem: str) -> UpdateReply:
        """A request whose actor is not proven: recorded as the system's finding (not as the claimed actor, who
        did nothing), counted as its own kind, and told to the responders the first time."""
        run, st = self.run, self.run.require()
        text = say.impersonation(claimed, update, problem)
        run.record(Actor.system(), Kind.IMPERSONATION, text, {"claimed": str(claimed), "update": update})
        self._count(str(claimed), update, IMPERSONATION_RULE, IMPERSONATION, text)
        message = f"refused: the request claims to be from {claimed}, but {problem}"
        return UpdateReply(ok=False, message=message, rule=IMPERSONATION_RULE, status=st.status, verdict=IMPERSONATION)

    def _count(self, actor: str, action: str, rule: str, verdict: str, text: str) -> None:
        run, st, now = self.run, self.run.require(), workflow.now()
        st.refused_total += 1
        found = next((r for r in st.refusals if r.key == (actor, action, rule)), None)
        if found is None and len(st.refusals) < MAX_REFUSAL_KINDS:
            found = Refusal(actor=actor, action=action, verdict=verdict, rule=rule, first_at=now, last_at=now)
            st.refusals.append(found)
            run.tell(run.responders(), "notice", say.refused_notice(text))
        if found is not None:
            found.count += 1
            found.last_at = now
        workflow.upsert_search_attributes([sa.BOUNDARY_REFUSALS.value_set(st.refused_total)])
        workflow.upsert_memo(refusal_memo(st.refusals))
