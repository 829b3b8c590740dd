"""One step of the escalation loop: page the level that is due (gathering the first minute's context alongside
the first lookup), skip a level that resolves to nobody, or declare escalation exhausted."""

from __future__ import annotations

import asyncio

from temporalio import workflow

from incident import sentences as say
from incident.models import Actor
from incident.timeline import Kind
from workflows.incident.context import ContextGathering
from workflows.incident.paging import Paging
from workflows.incident.run import IncidentRun


class Escalation:
    def __init__(self, run: IncidentRun, paging: Paging, context: ContextGathering) -> None:
        self.run = run
        self.paging = paging
        self.context = context

    async def step(self) -> None:
        run, st = self.run, self.run.require()
        pol = run.policy.escalation
        cur = st.escalation
        now = workflow.now()
        if cur.pending_exhaustion(pol):
            passes, levels = pol.repeat + 1, len(pol.levels)
            text = say.escalation_exhausted(passes, levels)
            run.record(Actor.system(), Kind.ESCALATION_EXHAUSTED, text, {"levels": levels, "passes": passes})
            st.escalation = cur.exhaust()
            return
        level = pol.levels[cur.level]
        n = cur.level + 1
        lookup = self.paging.lookup(level.notify, now, f"who is level {n}: {', '.join(level.notify)}")
        if st.context is None:
            # The first minute: who is on call and what changed, what the metrics and logs say, in parallel;
            # the page waits for the context at most `context.deadline`, and what comes later follows it.
            found, _ = await asyncio.gather(lookup, self.context.first_minute())
        else:
            found = await lookup
        self.paging.report_problems(found)
        if st.escalation is not cur:
            return  # acknowledged or resolved while looking up
        if not found.recipients:
            text = say.escalation_skipped(n, level.notify)
            run.record(Actor.system(), Kind.ESCALATION_SKIPPED, text, {"level": n})
            st.escalation = cur.advance(pol, now, skipped=True)
            return
        people = [r.person for r in found.recipients]
        text = say.escalation(n, len(pol.levels), cur.cycle + 1 if pol.repeat else None, people)
        data = {"level": n, "levels": len(pol.levels), "pass": cur.cycle + 1, "people": people}
        run.record(Actor.system(), Kind.ESCALATION, text, data)
        page = run.page(n, cur.cycle)
        await asyncio.gather(*(self.paging.page_person(r, page) for r in found.recipients))
        st.top_level = max(st.top_level, n)
        if st.escalation is cur:
            st.escalation = cur.advance(pol, now, skipped=False)
