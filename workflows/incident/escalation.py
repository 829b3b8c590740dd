"""One step of the escalation loop: page the level that is due (gathering the first minute's context alongside
the first lookup), skip a level that resolves to nobody, or declare escalation exhausted."""

from __future__ import annotations

import asyncio

from temporalio import workflow

from incident.models import Actor
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
            passes = pol.repeat + 1
            run.record(
                Actor.system(),
                "escalation_exhausted",
                f"escalation exhausted: nobody acknowledged after {passes} pass{'es' if passes > 1 else ''} "
                f"through {len(pol.levels)} level(s)",
            )
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
            run.record(
                Actor.system(),
                "escalation_skipped",
                f"level {n} ({', '.join(level.notify)}) resolves to nobody; skipped",
            )
            st.escalation = cur.advance(pol, now, skipped=True)
            return
        names = ", ".join(r.person for r in found.recipients)
        pass_note = f", pass {cur.cycle + 1}" if pol.repeat else ""
        run.record(Actor.system(), "escalation", f"paging level {n} of {len(pol.levels)}{pass_note}: {names}")
        page = run.page(n, cur.cycle)
        await asyncio.gather(*(self.paging.page_person(r, page) for r in found.recipients))
        st.top_level = max(st.top_level, n)
        if st.escalation is cur:
            st.escalation = cur.advance(pol, now, skipped=False)
