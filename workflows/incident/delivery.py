"""A page tried until it is delivered, in the background of the main loop.

An escalation page goes through the person's methods in their order, round after round with backoff, until one
delivers, the incident is acknowledged or resolved, or a newer page to the same person takes over. A slow or dead
receiver holds only its own page: the main loop never waits for one, so no other page and no deadline is late.

Past its level's time (`due`) the page is late: the escalation step tells the next level who was not reached, and
the page keeps trying, more slowly, for up to `LATE_FOR`; delivered late, it says so. The timeline gets the first
failure of each method and one running summary, never an entry per attempt.

Every attempt of one page carries the same idempotency key, so a receiver that got an attempt whose answer was lost
drops the repeat: one page per (incident, pass, level, person).

Since "contact-rules", a person with a contact rule for the incident's urgency is reached step by step instead:
each step waits on a durable timer for its time, then its method is tried like a page of its own, and every step
still waiting or trying stops when anyone acknowledges (a step that was delivered does not stop the next one).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError
from temporalio.exceptions import TimeoutError as TimedOut

from incident import sentences as say
from incident.durations import format_duration
from incident.models import Actor, Page, PageReceipt, PlannedStep, Recipient, Status, TimelineEntry
from incident.timeline import Kind, entry
from workflows.incident.run import IncidentRun
from workflows.messages import DELIVERY_FAILED, PageRequest

ATTEMPT_TIMEOUT = timedelta(seconds=15)
"""One attempt: a notifier's HTTP or SMTP call is bounded at 10 s."""
HEARTBEAT_TIMEOUT = timedelta(seconds=3)
"""The activity heartbeats every second: an attempt lost with its worker, or handed to a worker in the moment
Temporal went down (so no worker ever ran it), is retried after this, on another one."""
ATTEMPT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=500),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=4),
    maximum_attempts=3,
)
"""Temporal retries only a lost attempt (timeout, dead worker): what a receiver answered comes back to the loop."""
FIRST_WAIT = timedelta(seconds=1)
MAX_WAIT = timedelta(seconds=30)
"""Between rounds while the level's time runs: 1 s, 2 s, 4 s ... 30 s."""
LATE_WAIT = timedelta(minutes=2)
LATE_FOR = timedelta(hours=1)
"""How long a late page keeps trying after its level's time ran out (the levels after it are being paged)."""
FIRST_ATTEMPT_LOCAL = "first-attempt-local"
"""Patch: the first attempt of the incident's first page is a local activity, sent from the workflow task that
decided it, without waiting for a task dispatch; every later attempt (and any page after the first) is the ordinary
activity, with its heartbeats and retries, so a lost worker still only delays the page by the heartbeat timeout."""
LOCAL_ATTEMPT_TIMEOUT = timedelta(seconds=2)
"""A local attempt holds the workflow task open, so whatever else the incident has to do waits for it: at most this
long, once. A receiver slower than this gets the page by the next (ordinary) attempt, with the same idempotency
key."""
CONTACT_RULES = "contact-rules"
"""Patch: a recipient with contact steps gets a durable timer per step and a delivery per step's method, stopped by
an acknowledgement; before it (and for everyone without a rule) the page goes through `methods` in order."""


def spawn(run: IncidentRun, work: Coroutine[Any, Any, None], what: str) -> None:
    """Run `work` beside the main loop, counted in `run.pages_in_flight` until it ends. A bug in it is logged and
    goes on the timeline rather than vanishing with the task."""

    async def counted() -> None:
        try:
            await work
        except Exception:
            workflow.logger.exception("delivery failed: %s", what)
            run.record(Actor.system(), Kind.PAGE_DROPPED, f"could not {what}: internal error (see the worker log)")
        finally:
            run.pages_in_flight -= 1
            run.show()  # the loop need not wake: what waits on a page's end (continuing as new) is a condition

    run.pages_in_flight += 1
    task = asyncio.get_running_loop().create_task(counted())
    tasks = _TASKS.setdefault(run, set())
    tasks.add(task)
    task.add_done_callback(tasks.discard)


_TASKS: weakref.WeakKeyDictionary[IncidentRun, set[asyncio.Task[None]]] = weakref.WeakKeyDictionary()
"""Strong references to each run's deliveries while they run (asyncio keeps only weak ones), gone with the run."""


@dataclass
class Delivery:
    """One escalation page to one person, and how trying it goes."""

    recipient: Recipient
    page: Page
    key: str
    due: datetime | None
    """When the level's time runs out (the next level is paged); after it the page is late."""
    delivered: bool = False
    finished: bool = False
    superseded: bool = False
    failed: dict[str, tuple[str, int]] = field(default_factory=dict)
    """method -> (latest reason, failed attempts)."""
    summary: TimelineEntry | None = None
    until: Callable[[], str | None] | None = None
    """A page outside the escalation (an incident commander's): why trying it is over, or None while it goes on;
    it is not stopped by an acknowledgement, nor is it the person's current escalation page."""
    parent: Delivery | None = None
    """For one step of a contact rule: the person's page, which is delivered once any step is."""

    @property
    def person(self) -> str:
        return self.recipient.person

    @property
    def attempts(self) -> int:
        return sum(n for _, n in self.failed.values())

    def failures(self) -> list[tuple[str, str, int]]:
        return [(m, reason, n) for m, (reason, n) in self.failed.items()]

    def late(self, now: datetime) -> bool:
        return self.due is not None and now >= self.due


class Deliveries:
    """The escalation pages being tried, the newest per person."""

    def __init__(self, run: IncidentRun) -> None:
        self.run = run
        self.current: dict[str, Delivery] = {}
        self.tried: dict[str, set[str]] = {}
        """method -> people a page was attempted to through it (an attempt whose answer was lost may have arrived)."""

    def start(self, recipient: Recipient, page: Page, due: datetime | None) -> Delivery:
        st = self.run.require()
        if (older := self.current.get(recipient.person)) and not older.finished:
            older.superseded = True  # the new page reaches them with what is current; the older one stops
        key = f"{st.workflow_id}/{st.incident_id}/page/{page.cycle + 1}/{page.level}/{recipient.person}"
        d = Delivery(recipient=recipient, page=page, key=key, due=due)
        self.current[recipient.person] = d
        if recipient.steps and self.run.patched(CONTACT_RULES):
            spawn(self.run, self._keep_stepping(d), f"page {d.person} by their contact rule (level {page.level})")
            return d
        spawn(self.run, self._keep_trying(d), f"page {d.person} (level {page.level})")
        return d

    def start_beside(
        self, recipient: Recipient, page: Page, key: str, until: Callable[[], str | None], what: str
    ) -> Delivery:
        """A page beside the escalation, tried until delivered, until the incident is resolved, or until `until`
        says why not; `key` (its idempotency key) says which page of the incident it is."""
        d = Delivery(recipient=recipient, page=page, key=key, due=None, until=until)
        spawn(self.run, self._keep_trying(d), f"page {d.person} ({what})")
        return d

    def _stopped(self, d: Delivery) -> str | None:
        """Why trying this page is over, or None while it goes on."""
        st = self.run.require()
        if st.status is Status.RESOLVED:
            return "the incident was resolved"
        if d.until is not None:
            return d.until()  # a person's page (or a contact step, which checks the window itself)
        if st.maintenance is not None:
            return f"held by maintenance window {st.maintenance.window_id}"
        if st.status is Status.ACKNOWLEDGED:
            return f"acknowledged by {st.acknowledged_by}"
        if d.superseded:
            return "a newer page to them took over"
        if d.due is not None and workflow.now() >= d.due + LATE_FOR:
            return f"not delivered {format_duration(LATE_FOR)} after level {d.page.level}'s time ran out"
        return None

    async def _keep_trying(self, d: Delivery) -> None:
        try:
            await self._rounds(d)
        finally:
            d.finished = True

    async def _keep_stepping(self, d: Delivery) -> None:
        try:
            await asyncio.gather(*(self._step(d, i, step) for i, step in enumerate(d.recipient.steps)))
        finally:
            d.finished = True

    async def _step(self, d: Delivery, i: int, step: PlannedStep) -> None:
        """One step: wait for its time (unless someone acknowledges first), then try its method until delivered."""
        on_time = d.due is None or step.at < d.due  # a step meant for later than the level's time is not late
        sd = Delivery(
            recipient=d.recipient.model_copy(update={"methods": [step.method], "steps": []}),
            page=d.page,
            key=d.key if i == 0 else f"{d.key}/{i + 1}",
            due=d.due if on_time else None,
            until=lambda: self._step_stopped(d, step),
            parent=d,
        )
        if (left := step.at - workflow.now()) > timedelta(0):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._stopped(sd) is not None,
                    timeout=left,
                    timeout_summary=f"contact {d.person} via {step.method} (level {d.page.level})",
                )
        try:
            await self._rounds(sd)
        finally:
            sd.finished = True

    def _step_stopped(self, d: Delivery, step: PlannedStep) -> str | None:
        """Why a contact step is over (the incident's resolve is checked before): an acknowledgement, a newer page,
        or an hour past the later of its level's time and its own."""
        st = self.run.require()
        if st.status is Status.ACKNOWLEDGED:
            return f"acknowledged by {st.acknowledged_by}"
        if st.maintenance is not None:
            return f"held by maintenance window {st.maintenance.window_id}"
        if d.superseded:
            return "a newer page to them took over"
        since = step.at if d.due is None or step.at >= d.due else d.due
        if workflow.now() >= since + LATE_FOR:
            return f"not delivered {format_duration(LATE_FOR)} after its time"
        return None

    async def _rounds(self, d: Delivery) -> None:
        methods = list(d.recipient.methods)
        wait = FIRST_WAIT
        while True:
            began = workflow.now()
            for method in list(methods):
                if why := self._stopped(d):
                    return self._drop(d, why)
                try:
                    receipt = await self._attempt(d, method)
                except FailureError as e:  # a local attempt's failure is not wrapped in an ActivityError
                    cause = e.cause if isinstance(e, ActivityError) else e
                    rest = methods[methods.index(method) + 1 :]
                    if isinstance(cause, ApplicationError) and cause.non_retryable and cause.type != DELIVERY_FAILED:
                        methods.remove(method)  # refused: no attempt by this method can deliver it
                    reason = cause.message if isinstance(cause, FailureError) else str(e)
                    self._failed(d, method, reason, rest[0] if rest else None, bool(methods))
                    continue
                return self._delivered(d, method, receipt)
            if not methods:
                return  # every method refused: the last failure said "no method left"
            if why := self._stopped(d):
                return self._drop(d, why)
            # The wait counts from the round's start: an attempt that hung until its timeout has waited already,
            # so a receiver that recovered meanwhile gets the page at once, not a whole backoff later.
            if (left := wait - (workflow.now() - began)) > timedelta(0):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(
                        lambda: self._stopped(d) is not None,
                        timeout=left,
                        timeout_summary=f"page {d.person} again (level {d.page.level})",
                    )
            cap = LATE_WAIT if d.late(workflow.now()) else MAX_WAIT
            wait = min(wait * 2, cap)

    def _attempt(self, d: Delivery, method: str) -> Any:
        first = self._first_attempt(d, method)
        self.tried.setdefault(method, set()).add(d.person)
        page = d.page.model_copy(update={"late_since": d.due}) if d.late(workflow.now()) else d.page
        if first:
            return self._attempt_locally(d, method, page)
        return self._attempt_remotely(d, method, page)

    def _attempt_remotely(self, d: Delivery, method: str, page: Page) -> Any:
        return workflow.execute_activity(
            "send_page",
            PageRequest(recipient=d.recipient, method=method, page=page, key=d.key),
            result_type=PageReceipt,
            start_to_close_timeout=ATTEMPT_TIMEOUT,
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=ATTEMPT_RETRY,
            summary=f"page {d.person} via {method} (level {d.page.level})",
        )

    async def _attempt_locally(self, d: Delivery, method: str, page: Page) -> PageReceipt:
        try:
            receipt: PageReceipt = await workflow.execute_local_activity(
                "send_page",
                PageRequest(recipient=d.recipient, method=method, page=page, key=d.key),
                result_type=PageReceipt,
                start_to_close_timeout=LOCAL_ATTEMPT_TIMEOUT,
                retry_policy=RetryPolicy(maximum_attempts=1),
                summary=f"page {d.person} via {method} (level {d.page.level})",
            )
            return receipt
        except ActivityError as e:
            if not isinstance(e.cause, TimedOut):
                raise
            # A slow receiver, not a failed method: the ordinary attempt asks it again, with the same key.
        finally:
            # The timers this workflow task starts count from its end, which the attempt pushed back: the main
            # loop arms its deadline again from now, so a slow receiver makes no deadline late.
            self.run.wake = True
        later: PageReceipt = await self._attempt_remotely(d, method, page)
        return later

    def _first_attempt(self, d: Delivery, method: str) -> bool:
        """Whether this is the first attempt of the incident's first page to this person: nobody is paged yet,
        and nothing was tried by this page."""
        st = self.run.require()
        if d.page.kind != "page" or st.first_page_at is not None or d.failed or d.person in self.tried.get(method, ()):
            return False
        return self.run.patched(FIRST_ATTEMPT_LOCAL)

    def _failed(self, d: Delivery, method: str, reason: str, next_method: str | None, retrying: bool) -> None:
        _, n = d.failed.get(method, (reason, 0))
        d.failed[method] = (reason, n + 1)
        if d.parent is not None:  # the level after is told who of this one was not reached, and why
            _, pn = d.parent.failed.get(method, (reason, 0))
            d.parent.failed[method] = (reason, pn + 1)
        data: dict[str, Any] = {"person": d.person, "method": method, "level": d.page.level}
        if n == 0:
            text = say.page_failed(d.person, method, reason, next_method, retrying)
            self.run.record(Actor.system(), Kind.PAGE_FAILED, text, data)
            return
        text = say.still_trying(d.person, d.page.level, d.failures())
        data = {
            "person": d.person,
            "level": d.page.level,
            "attempts": d.attempts,
            "methods": {m: count for m, _, count in d.failures()},
        }
        if d.summary is None:  # one running entry, brought up to date on every later failure
            d.summary = entry(workflow.now(), Actor.system(), Kind.PAGE_RETRYING, text, data)
            self.run.require().timeline.append(d.summary)
        else:
            d.summary.text, d.summary.data = text, data

    def _delivered(self, d: Delivery, method: str, receipt: PageReceipt) -> None:
        st, now = self.run.require(), workflow.now()
        d.delivered = True
        if d.parent is not None:
            d.parent.delivered = True
        late = d.late(now)
        st.threads.setdefault(d.person, {})[method] = receipt.thread or ""
        if d.person not in st.paged:
            st.paged.append(d.person)
        if d.person in st.agent_paged:  # an escalation level reached them too: they are on call here
            st.agent_paged.remove(d.person)
        if st.first_page_at is None:
            st.first_page_at = now
            if st.alert_received_at is not None:
                st.seconds_to_first_page = round((now - st.alert_received_at).total_seconds(), 3)
        level, attempts = d.page.level, d.attempts + 1
        text = say.paged(d.person, method, level, d.recipient.via, late=late, attempts=attempts)
        data = {"person": d.person, "method": method, "level": level, "detail": receipt.detail, "late": late}
        self.run.record(Actor.system(), Kind.PAGED, text, data | {"attempts": attempts})

    def _drop(self, d: Delivery, why: str) -> None:
        if d.failed:  # a page stopped before its first attempt is simply not needed any more
            self.run.record(Actor.system(), Kind.PAGE_DROPPED, say.page_dropped(d.person, d.page.level, why), _who(d))

    def unreached(self, deliveries: list[Delivery]) -> list[Delivery]:
        return [d for d in deliveries if not d.delivered]


def _who(d: Delivery) -> dict[str, Any]:
    return {"person": d.person, "level": d.page.level}
