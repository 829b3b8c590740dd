"""Paging activities: resolve escalation targets to people at the moment of paging, and deliver one page."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable
from urllib.parse import quote

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities import metrics
from activities.notifiers import NOTIFIERS, NotifierError, NotifierReceipt, NotifyEnv
from incident.config import Config
from incident.models import PageReceipt, Recipient
from workflows.messages import DELIVERY_FAILED, DELIVERY_REFUSED, PageRequest, TargetsRequest, TargetsResult

log = structlog.get_logger("baton.paging")

HEARTBEAT_EVERY_S = 1.0
BENIGN = ApplicationErrorCategory.BENIGN


async def heartbeating(work: Awaitable[NotifierReceipt]) -> NotifierReceipt:
    """Await `work`, heartbeating every second while it runs when the activity has a heartbeat timeout."""
    if not activity.info().heartbeat_timeout:
        return await work
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        task.cancel()


class PagingActivities:
    """Holds the worker's config and one HTTP client; each method is an activity."""

    def __init__(
        self,
        config: Config,
        http: httpx.AsyncClient,
        ui_url: str | None = None,
        capture: list[PageRequest] | None = None,
    ):
        self.config = config
        self.capture = capture
        """A drill's list: pages are appended here instead of sent."""
        self.http = http
        self.env = NotifyEnv(http=http, config=config)
        self.ui_url = (ui_url or os.environ.get("BATON_UI_URL") or "http://localhost:8233").rstrip("/")

    @activity.defn(name="lookup_targets")
    async def lookup_targets(self, req: TargetsRequest) -> TargetsResult:
        """`user:NAME` is that person; `schedule:NAME` is whoever is on call on it at `req.at`."""
        seen: dict[str, Recipient] = {}
        problems: list[str] = []
        for target in req.targets:
            kind, _, name = target.partition(":")
            if kind == "schedule":
                schedule = self.config.schedules.get(name)
                if schedule is None:
                    problems.append(f"{target}: no such schedule in the worker's config")
                    continue
                on_call = schedule.on_call(req.at)
                if on_call is None:
                    problems.append(f"{target}: nobody is on call")
                    continue
                person = on_call
            else:
                person = name
            who = self.config.people.get(person)
            if who is None:
                problems.append(f"{target}: {person!r} is not a person in the worker's config")
                continue
            seen.setdefault(
                person,
                Recipient(
                    person=person,
                    display_name=who.name or person,
                    methods=self.config.contact_methods(person),
                    via=target,
                    steps=self.config.contact_steps(person, req.severity, req.at) if req.severity else [],
                ),
            )
        return TargetsResult(recipients=list(seen.values()), problems=problems)

    @activity.defn(name="send_page")
    async def send_page(self, req: PageRequest) -> PageReceipt:
        """Deliver one page by one method, heartbeating while the receiver answers (so an attempt lost with its
        worker is retried within the heartbeat timeout, not after the start-to-close timeout).

        A request without a `key` is retried by Temporal when the next attempt may fix it. A request with a `key`
        comes from a page the workflow keeps trying itself, through the person's methods and with its own backoff:
        a failed delivery is reported at once, its type saying whether trying again may help."""
        info = activity.info()
        key = req.key or f"{info.workflow_id}/{info.workflow_run_id}/{info.activity_id}"
        person = self.config.people.get(req.recipient.person)
        notifier = NOTIFIERS.get(req.method)
        if person is None or notifier is None:
            raise ApplicationError(
                f"cannot page {req.recipient.person} via {req.method}: not configured", non_retryable=True
            )
        if self.capture is not None:
            self.capture.append(req)
            return PageReceipt(person=req.recipient.person, method=req.method, ok=True, detail="captured (drill)")
        wid = quote(info.workflow_id or "", safe="")
        link = f"{self.ui_url}/namespaces/{info.workflow_namespace}/workflows/{wid}/{info.workflow_run_id}"
        try:
            result = await heartbeating(notifier(self.env, person, req.recipient, req.page, key, link))
        except NotifierError as e:
            metrics.page_failed(req.method, req.page, e.retryable)
            if req.key is None:
                raise ApplicationError(str(e), non_retryable=not e.retryable) from None
            # The workflow records it and decides; one line here rather than a traceback per attempt.
            log.warning("page not delivered", incident=req.page.incident_id, person=req.recipient.person, error=str(e))
            kind = DELIVERY_FAILED if e.retryable else DELIVERY_REFUSED
            raise ApplicationError(str(e), type=kind, non_retryable=True, category=BENIGN) from None
        metrics.page_sent(req.method, req.page)
        log.info("page delivered", incident=req.page.incident_id, person=req.recipient.person, method=req.method)
        return PageReceipt(
            person=req.recipient.person, method=req.method, ok=True, detail=result.detail, thread=result.thread
        )
