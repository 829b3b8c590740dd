"""A request the boundaries turn down: on the timeline, counted (search attribute `BoundaryRefusals` and the memo
`baton boundaries report` reads), and told to the responders the first time of its kind, a few times at most."""

from __future__ import annotations

from datetime import datetime

from temporalio import workflow

from incident import sentences as say
from incident.approvals import (
    MAX_NAMED_KINDS,
    MAX_REFUSAL_KINDS,
    MAX_REFUSAL_NOTICES,
    OTHER_NAMES,
    Refusal,
    refusal_memo,
)
from incident.models import Actor, UpdateReply
from incident.policy import JUDGMENT, Verdict, resembles
from incident.timeline import Kind
from workflows import search_attributes as sa
from workflows.incident.run import IncidentRun

IMPERSONATION = "impersonation"
"""The verdict of a request whose actor is not proven by the gateway's signed claim."""
IMPERSONATION_RULE = "identity.proof"
APPROVALS = "approvals"
"""Patch id: agents' judgment requests become approvals, and refusals are counted and told. Incidents that
started before it keep refusing them as they did (the saved histories in tests/fixtures replay this way)."""
REFUSALS_BOUNDED = "refusals-bounded"
"""Patch id: refusal kinds are kept so that judgment calls always show in the report (junk names past a bound are
counted together), and responders get at most `MAX_REFUSAL_NOTICES` refusal notices per incident. Before it, the
first 50 kinds were kept and each new kind was told."""


class Refusals:
    def __init__(self, run: IncidentRun) -> None:
        self.run = run

    def refuse(
        self, actor: Actor, action: str, rule: str, hint: str, verdict: str = "never", quiet: bool = False
    ) -> UpdateReply:
        """Refuse, record and count. `quiet`: counted, but not written on the timeline again (a budget refused
        more than once in its window)."""
        run, st = self.run, self.run.require()
        undefined = verdict == Verdict.UNDEFINED
        run.count(actor, action, verdict if verdict in (Verdict.NEVER, Verdict.UNDEFINED) else "refused")
        text = say.refused(actor, action, rule, hint, undefined)
        if not quiet:
            run.record(actor, Kind.UNDEFINED if undefined else Kind.REFUSED, text, {"action": action})
        if not self.run.patched(APPROVALS):  # incidents started before refusals were counted and told
            return UpdateReply(ok=False, message=f"refused by {rule}: {hint}", rule=rule, status=st.status)
        self._count(str(actor), action, rule, verdict, text)
        message = f"{action} is undefined: {rule}; {hint}" if undefined else f"refused by {rule}: {hint}"
        return UpdateReply(ok=False, message=message, rule=rule, status=st.status, verdict=verdict)

    def impersonation(self, claimed: Actor, update: str, problem: str) -> UpdateReply:
        """A request whose actor is not proven: recorded as the system's finding (not as the claimed actor, who
        did nothing), counted as its own kind, and told to the responders the first time."""
        run, st = self.run, self.run.require()
        text = say.impersonation(claimed, update, problem)
        run.count(claimed, update, IMPERSONATION)
        run.record(Actor.system(), Kind.IMPERSONATION, text, {"claimed": str(claimed), "update": update})
        self._count(str(claimed), update, IMPERSONATION_RULE, IMPERSONATION, text)
        message = f"refused: the request claims to be from {claimed}, but {problem}"
        return UpdateReply(ok=False, message=message, rule=IMPERSONATION_RULE, status=st.status, verdict=IMPERSONATION)

    def _count(self, actor: str, action: str, rule: str, verdict: str, text: str) -> None:
        run, st, now = self.run, self.run.require(), workflow.now()
        st.refused_total += 1
        found: Refusal | None
        if self.run.patched(REFUSALS_BOUNDED):
            found, new = self._kind(actor, action, rule, verdict, now)
            if new and st.refusal_notices < MAX_REFUSAL_NOTICES:
                st.refusal_notices += 1
                last = st.refusal_notices == MAX_REFUSAL_NOTICES
                notice = say.refused_notice(text) + (say.LAST_REFUSAL_NOTICE if last else "")
                run.tell(run.responders(), "notice", notice)
        else:
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

    def _kind(self, actor: str, action: str, rule: str, verdict: str, now: datetime) -> tuple[Refusal, bool]:
        """The kind this refusal is counted under, and whether it is new. A look-alike of an action the policy
        names counts under that action (every variant of `rollback` is one row: a look-alike of it); judgment
        calls are always kept one by one, other named actions up to `MAX_NAMED_KINDS`, unknown names up to
        `MAX_REFUSAL_KINDS`; past those, one row per actor and verdict counts the rest."""
        st = self.run.require()
        named = self.run.policy.boundaries.actions()
        if (like := resembles(action, named)) is not None:
            action, rule = like, say.lookalike_rule(like)
        key = (actor, action, rule)
        if (found := next((r for r in st.refusals if r.key == key), None)) is not None:
            return found, False
        known = [r for r in st.refusals if r.action in named]
        if action in JUDGMENT and len(known) < 2 * MAX_NAMED_KINDS:
            keep = True
        elif action in named:
            keep = len(known) < MAX_NAMED_KINDS
        else:
            keep = len(st.refusals) - len(known) < MAX_REFUSAL_KINDS
        if not keep:
            action, rule = OTHER_NAMES, say.OTHER_NAMES_RULE
            key = (actor, action, rule)
            found = next((r for r in st.refusals if r.key == key and r.verdict == verdict), None)
            if found is not None:
                return found, False
        found = Refusal(actor=actor, action=action, verdict=verdict, rule=rule, first_at=now, last_at=now)
        st.refusals.append(found)
        return found, True
