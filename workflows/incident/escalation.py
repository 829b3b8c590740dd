"""One step of the escalation loop: page the level that is due (gathering the first minute's context alongside
the first lookup), skip a level that resolves to nobody, or declare escalation exhausted.

Since "page-until-delivered" and "pages-in-background" a step starts the level's pages and returns: they are tried
in the background until delivered, and the next deadline is the schedule's (this level's due time plus its
`after`), not whenever the pages finished. A step also tells the level it pages who of the level before could not
be reached, on their page and on the timeline.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

from incident import sentences as say
from incident.durations import format_duration
from incident.models import Actor
from incident.timeline import Kind
from workflows.incident.context import ContextGathering
from workflows.incident.delivery import Delivery
from workflows.incident.paging import Paging
from workflows.incident.run import IncidentRun

LATE_STEP = timedelta(minutes=1)
"""A step this late (no worker was running at its time) gives its level the whole `after` from when it runs."""


class Escalation:
    def __init__(self, run: IncidentRun, paging: Paging, context: ContextGathering) -> None:
        self.run = run
        self.paging = paging
        self.context = context
        self.previous: list[Delivery] = []
        """The pages of the level paged last, while they are tried."""

    async def step(self) -> None:
        run, st = self.run, self.run.require()
        pol = run.policy.escalation
        cur = st.escalation
        now = workflow.now()
        persist, background = self.paging.until_delivered(), self.paging.in_background()
        if background and cur.next_at is not None and now - cur.next_at <= LATE_STEP:
            now = cur.next_at  # the schedule's time: a step that started late does not push the next deadline
        if cur.level == 0 and cur.cycle == 0:
            self.previous = []  # escalation (re)starts: nobody before level 1
        if cur.pending_exhaustion(pol):
            if persist:
                self._tell_unreached(None)
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
        if not persist:
            await asyncio.gather(*(self.paging.page_person(r, page) for r in found.recipients))
            st.top_level = max(st.top_level, n)
            if st.escalation is cur:
                st.escalation = cur.advance(pol, now, skipped=False)
            return
        if note := self._tell_unreached(n):
            page = page.model_copy(update={"unreachable": note})
        st.top_level = max(st.top_level, n)
        st.escalation = cur.advance(pol, now, skipped=False)
        due = st.escalation.next_at
        self.previous = [self.paging.deliveries.start(r, page, due) for r in found.recipients]
        if not background:
            await workflow.wait_condition(lambda: all(d.finished for d in self.previous))

    def _tell_unreached(self, next_level: int | None) -> str | None:
        """Who of the level paged last was not reached in its time, on the timeline; the note for `next_level`'s
        page (None when no level follows)."""
        unreached = self.paging.deliveries.unreached(self.previous)
        self.previous = []
        if not unreached:
            return None
        level = unreached[0].page.level
        after = format_duration(self.run.policy.escalation.levels[level - 1].after)
        for d in unreached:
            what = say.failures(d.failures())
            text = say.level_unreachable(d.person, level, after, what, next_level)
            self.run.record(Actor.system(), Kind.PAGE_UNREACHABLE, text, {"person": d.person, "level": level})
        what = "; ".join(say.failures(d.failures()) for d in unreached)
        return say.unreachable_note(level, [d.person for d in unreached], what)
