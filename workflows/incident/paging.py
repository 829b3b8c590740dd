"""Reaching people: who the targets are right now (the one on-call lookup), and delivering a page or a notice
through a person's contact methods, every attempt on the timeline.

Escalation pages are tried until delivered (`delivery`); follow-ups get a few attempts per method. Since the
"pages-in-background" patch both run beside the main loop, which never waits for a receiver. Since
"pagerduty-follow-ups", an acknowledgement or resolve is told to PagerDuty for everyone paged there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from incident import sentences as say
from incident.models import Actor, Page, PageReceipt, Recipient, Status
from incident.timeline import Kind
from workflows.incident.delivery import HEARTBEAT_TIMEOUT, Deliveries, spawn
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
PAGERDUTY = "pagerduty"
SUMMARIES = {
    "page": "page {p} via {m} (level {level})",
    "recovered": "ask {p} via {m} to confirm the resolve",
    "update": "send {p} the late context via {m}",
    "approval": "ask {p} via {m} to decide {a}",
    "notice": "tell {p} via {m}",
    "status": "tell {m} of {p}'s page that the incident changed",
}
"""Per page kind: the activity's summary, as the Temporal UI shows it."""
DELIVERED = {
    "recovered": Kind.ASKED_TO_RESOLVE,
    "update": Kind.PAGE_UPDATED,
    "approval": Kind.ASKED_TO_DECIDE,
    "notice": Kind.TOLD,
}
"""Per follow-up kind: the timeline entry once delivered (a page itself is `paged`)."""


BACKGROUND = "pages-in-background"
UNTIL_DELIVERED = "page-until-delivered"
FOLLOW_UPS = "pagerduty-follow-ups"
FOLLOW_UP_TIMEOUT = timedelta(seconds=15)
"""A follow-up attempt in the background: a notifier call is bounded at 10 s; heartbeats find a dead worker sooner."""


class Paging:
    def __init__(self, run: IncidentRun) -> None:
        self.run = run
        self.deliveries = Deliveries(run)
        self._forwarded: Status | None = None
        """The status last told to PagerDuty (or found when this run started)."""

    def in_background(self) -> bool:
        """Pages and follow-ups run beside the main loop (new incidents); running ones keep awaiting them."""
        return self.run.patched(BACKGROUND)

    def until_delivered(self) -> bool:
        """Escalation pages are tried until delivered or their level's time runs out, then late."""
        return self.run.patched(UNTIL_DELIVERED)

    def lookup(self, targets: list[str], at: datetime, summary: str) -> Awaitable[TargetsResult]:
        """Who `targets` (`user:NAME`, `schedule:NAME`) are at `at`: a local activity, read from the worker's config."""
        severity = self.run.state.severity if self.run.state is not None else None
        return workflow.execute_local_activity(
            "lookup_targets",
            TargetsRequest(targets=targets, at=at, severity=severity),
            start_to_close_timeout=LOOKUP_TIMEOUT,
            result_type=TargetsResult,
            retry_policy=LOOKUP_RETRY,
            summary=summary,
        )

    def report_problems(self, found: TargetsResult) -> None:
        for problem in found.problems:
            self.run.record(Actor.system(), Kind.PAGE_PROBLEM, problem)

    async def send_notices(self, held: bool = False) -> None:
        """Send what the incident has to tell or ask people (confirm a resolve, decide an approval, a refusal),
        each to its targets, through their contact methods. `held` (a maintenance window holds the incident):
        only pages someone asked for go out; the rest stay queued until the window ends."""
        notices, self.run.notices = self.run.notices, []
        if held:
            self.run.notices = [n for n in notices if n[1].kind != "page"]
            notices = [n for n in notices if n[1].kind == "page"]
        for targets, notice in notices:
            if not targets:
                continue
            summary = "who to tell: " + ", ".join(t.removeprefix("user:") for t in targets)
            found = await self.lookup(targets, workflow.now(), summary)
            self.report_problems(found)
            await asyncio.gather(*(self.page_person(r, notice) for r in found.recipients))

    # ---- PagerDuty keeps its own incident: tell it of the ack and the resolve ---------------------------------

    def forward_due(self) -> bool:
        """Whether the incident's acknowledgement or resolve is still to be told to PagerDuty."""
        st = self.run.state
        if st is None:
            return False
        if self._forwarded is None or st.status is Status.TRIGGERED:
            self._forwarded = st.status
        if st.status is self._forwarded:
            return False
        if not self._paged_via_pagerduty():
            self._forwarded = st.status
            return False
        return True

    def _paged_via_pagerduty(self) -> list[str]:
        """Everyone a page reached through PagerDuty, or was attempted to (its answer may have been lost)."""
        st = self.run.require()
        people = [p for p, methods in st.threads.items() if PAGERDUTY in methods]
        return people + sorted(self.deliveries.tried.get(PAGERDUTY, set()) - set(people))

    def forward_status(self) -> None:
        """Send `acknowledge` or `resolve` to PagerDuty for everyone paged there, in the background."""
        st = self.run.require()
        self._forwarded = st.status
        if not self.run.patched(FOLLOW_UPS):
            return
        page = self.run.page(0, 0).model_copy(update={"kind": "status"})
        for person in self._paged_via_pagerduty():
            who = Recipient(person=person, display_name=person, methods=[PAGERDUTY], via=f"user:{person}")
            spawn(self.run, self._send(who, page, fast=True), f"tell pagerduty of {person}'s page")

    # ---- delivering --------------------------------------------------------------------------------------------

    async def page_person(self, recipient: Recipient, page: Page) -> None:
        """Try the person's contact methods in order until one delivers; every attempt goes on the timeline. In
        the background of the main loop (returning at once) since "pages-in-background"."""
        if self.in_background():
            spawn(self.run, self._send(recipient, page, fast=True), f"send {recipient.person} a {page.kind}")
            return
        await self._send(recipient, page, fast=False)

    async def _send(self, recipient: Recipient, page: Page, fast: bool) -> None:
        st = self.run.require()
        timeouts: dict[str, Any] = (
            {"start_to_close_timeout": FOLLOW_UP_TIMEOUT, "heartbeat_timeout": HEARTBEAT_TIMEOUT}
            if fast
            else {"start_to_close_timeout": PAGE_TIMEOUT}
        )
        for i, method in enumerate(recipient.methods):
            try:
                delivery: PageReceipt = await workflow.execute_activity(
                    "send_page",
                    PageRequest(recipient=recipient, method=method, page=page),
                    result_type=PageReceipt,
                    retry_policy=PAGE_RETRY,
                    summary=SUMMARIES[page.kind].format(
                        p=recipient.person, m=method, level=page.level, a=page.approval_id
                    ),
                    **timeouts,
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
            if page.kind == "status":
                data: dict[str, Any] = {"person": recipient.person, "method": method, "status": page.status.value}
                text = say.forwarded(recipient.person, method, page.status.value)
                self.run.record(Actor.system(), Kind.FORWARDED, text, data)
                return
            if page.kind != "page":
                data = {"person": recipient.person, "method": method}
                if page.approval_id:
                    data["approval"] = page.approval_id
                text = say.followed_up(page.kind, recipient.person, method, page.approval_id)
                self.run.record(Actor.system(), DELIVERED[page.kind], text, data)
                if page.kind == "approval":
                    st.threads.setdefault(recipient.person, {}).setdefault(method, delivery.thread or "")
                    if recipient.person not in st.paged:
                        st.paged.append(recipient.person)
                    if recipient.person in st.agent_paged:  # asked to decide by the policy's own rules
                        st.agent_paged.remove(recipient.person)
                return
            st.threads.setdefault(recipient.person, {})[method] = delivery.thread or ""
            if recipient.person not in st.paged:
                st.paged.append(recipient.person)
                if page.requested_by:  # reached only because an agent asked: not one of `oncall`
                    st.agent_paged.append(recipient.person)
            elif not page.requested_by and recipient.person in st.agent_paged:
                st.agent_paged.remove(recipient.person)
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
