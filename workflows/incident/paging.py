"""Reaching people: who the targets are right now (the one on-call lookup), and delivering a page or a notice
through a person's contact methods, every attempt on the timeline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from incident import sentences as say
from incident.models import Actor, Page, PageReceipt, Recipient
from incident.timeline import Kind
from workflows.incident.run import IncidentRun
from workflows.messages import PageRequest, TargetsRequest, TargetsResult

LOOKUP_TIMEOUT = timedelta(seconds=30)
LOOKUP_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_attempts=5)
PAGE_TIMEOUT = timedelta(seconds=30)
PAGE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=3,
)
NOT_FORWARDED = "not forwarded"
SUMMARIES = {
    "page": "page {p} via {m} (level {level})",
    "recovered": "ask {p} via {m} to confirm the resolve",
    "update": "send {p} the late context via {m}",
    "approval": "ask {p} via {m} to decide {a}",
    "notice": "tell {p} via {m}",
}
"""Per page kind: the activity's summary, as the Temporal UI shows it."""
DELIVERED = {
    "recovered": Kind.ASKED_TO_RESOLVE,
    "update": Kind.PAGE_UPDATED,
    "approval": Kind.ASKED_TO_DECIDE,
    "notice": Kind.TOLD,
}
"""Per follow-up kind: the timeline entry once delivered (a page itself is `paged`)."""


class Paging:
    def __init__(self, run: IncidentRun) -> None:
        self.run = run

    def lookup(self, targets: list[str], at: datetime, summary: str) -> Awaitable[TargetsResult]:
        """Who `targets` (`user:NAME`, `schedule:NAME`) are at `at`: a local activity, read from the worker's config."""
        return workflow.execute_local_activity(
            "lookup_targets",
            TargetsRequest(targets=targets, at=at),
            start_to_close_timeout=LOOKUP_TIMEOUT,
            result_type=TargetsResult,
            retry_policy=LOOKUP_RETRY,
            summary=summary,
        )

    def report_problems(self, found: TargetsResult) -> None:
        for problem in found.problems:
            self.run.record(Actor.system(), Kind.PAGE_PROBLEM, problem)

    async def send_notices(self) -> None:
        """Send what the incident has to tell or ask people (confirm a resolve, decide an approval, a refusal),
        each to its targets, through their contact methods."""
        notices, self.run.notices = self.run.notices, []
        for targets, notice in notices:
            if not targets:
                continue
            summary = "who to tell: " + ", ".join(t.removeprefix("user:") for t in targets)
            found = await self.lookup(targets, workflow.now(), summary)
            self.report_problems(found)
            await asyncio.gather(*(self.page_person(r, notice) for r in found.recipients))

    async def page_person(self, recipient: Recipient, page: Page) -> None:
        """Try the person's contact methods in order until one delivers; every attempt goes on the timeline."""
        st = self.run.require()
        for i, method in enumerate(recipient.methods):
            try:
                delivery: PageReceipt = await workflow.execute_activity(
                    "send_page",
                    PageRequest(recipient=recipient, method=method, page=page),
                    result_type=PageReceipt,
                    start_to_close_timeout=PAGE_TIMEOUT,
                    retry_policy=PAGE_RETRY,
                    summary=SUMMARIES[page.kind].format(
                        p=recipient.person, m=method, level=page.level, a=page.approval_id
                    ),
                )
            except ActivityError as e:
                reason = str(e.cause) if e.cause else str(e)
                rest = recipient.methods[i + 1 :]
                self.run.record(
                    Actor.system(),
                    Kind.PAGE_FAILED,
                    say.page_failed(recipient.person, method, reason, rest[0] if rest else None),
                    {"person": recipient.person, "method": method, "level": page.level},
                )
                continue
            if page.kind != "page" and delivery.detail == NOT_FORWARDED:
                continue  # a method that only carries pages (PagerDuty): the follow-up goes by the next one
            if page.kind != "page":
                data: dict[str, Any] = {"person": recipient.person, "method": method}
                if page.approval_id:
                    data["approval"] = page.approval_id
                text = say.followed_up(page.kind, recipient.person, method, page.approval_id)
                self.run.record(Actor.system(), DELIVERED[page.kind], text, data)
                if page.kind == "approval":
                    st.threads.setdefault(recipient.person, {}).setdefault(method, delivery.thread or "")
                    if recipient.person not in st.paged:
                        st.paged.append(recipient.person)
                return
            st.threads.setdefault(recipient.person, {})[method] = delivery.thread or ""
            if recipient.person not in st.paged:
                st.paged.append(recipient.person)
            if st.first_page_at is None:
                st.first_page_at = workflow.now()
                if st.alert_received_at is not None:
                    st.seconds_to_first_page = round((st.first_page_at - st.alert_received_at).total_seconds(), 3)
            self.run.record(
                Actor.system(),
                Kind.PAGED,
                say.paged(recipient.person, method, page.level, recipient.via),
                {"person": recipient.person, "method": method, "level": page.level, "detail": delivery.detail},
            )
            return
