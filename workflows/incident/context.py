"""Context for the first page: recent changes, metrics and logs, gathered in parallel while on-call is looked up.

The page waits for the context at most `context.deadline`; providers get longer than that, and what answers late
follows the page, as one update to the same thread each responder got the page in.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

from incident import sentences as say
from incident.context import ContextPart, ContextRequest, assemble, describe_context
from incident.lifecycle import AGENT
from incident.models import Actor
from incident.timeline import Kind
from workflows.incident.paging import Paging
from workflows.incident.run import IncidentRun
from workflows.messages import ChangesRequest

CONTEXT_TIMEOUT = timedelta(seconds=30)
ONCE = RetryPolicy(maximum_attempts=1)
LATE_FACTOR, LATE_MIN_S = 5, 10.0
CONTEXT_ACTIVITIES = {"metrics": "gather_metrics", "logs": "gather_logs", "github": "gather_deployments"}
CHANGES_DEADLINE = "changes-deadline"
"""Patch: the change log is asked by an ordinary activity under the context deadline, like every other provider.
Before, it was a local activity and only remote providers got the deadline timer: a local activity holds the
workflow task open, so a change log that did not answer held the first page until the lookup gave up (~10 s)."""


CHANGES_LOCAL = "changes-local"
"""Patch: the change log is asked first by a local activity bounded by the context deadline, in the same workflow
task as the on-call lookup, so the first page need not wait for a task dispatch; only when that gives up is it asked
by the ordinary activity, whose answer then follows the page as late context."""


CHANGES_LOCAL_TIMEOUT = timedelta(seconds=1)
"""The local read of the change log holds the workflow task open: at most this long (or the context deadline if
shorter), then the ordinary activity asks again."""


class ContextGathering:
    def __init__(self, run: IncidentRun, paging: Paging) -> None:
        self.run = run
        self.paging = paging
        self.parts: list[ContextPart] = []
        self.late_pending = 0
        self.late_ready = False
        """A provider answered after the first page: the main loop posts the late context."""
        self._read_locally = False
        """The local read of the change log is over (`CHANGES_LOCAL`), answered or not."""

    async def first_minute(self) -> None:
        """Ask every provider at once; wait for them until the deadline, then assemble what answered."""
        run, st = self.run, self.run.require()
        ctx = run.policy.context
        on_deadline = self.run.patched(CHANGES_DEADLINE)
        local = on_deadline and "changes" in run.policy.providers and self.run.patched(CHANGES_LOCAL)
        began = workflow.now()
        tasks = [asyncio.ensure_future(self._part(name, on_deadline, local)) for name in run.policy.providers]
        # Incidents started before the patch gave only remote providers the deadline timer.
        timed = on_deadline or any(name != "changes" for name in run.policy.providers)
        deadline = ctx.deadline
        if local:
            # The timer starts when this workflow task ends, which the local read may have pushed back: it is
            # armed once the read is over, for what is left of the deadline.
            await workflow.wait_condition(lambda: self._read_locally)
            deadline = max(ctx.deadline - (workflow.now() - began), timedelta(0))
        done, pending = await workflow.wait(tasks, timeout=deadline.total_seconds() if timed else None)
        self.parts = [t.result() for t in done]
        for t in pending:
            t.add_done_callback(self._late_part)
        self.late_pending = len(pending)
        st.context = assemble(self.parts, st.opened_at, ctx.window, run.policy.providers)
        run.record(Actor.agent(AGENT), Kind.CONTEXT, say.context_gathered(describe_context(st.context)))

    async def _part(self, provider: str, on_deadline: bool, local: bool = False) -> ContextPart:
        ctx, st = self.run.policy.context, self.run.require()
        # Providers get longer than the page waits: what misses the page follows it to the same thread.
        timeout = max(ctx.deadline.total_seconds() * LATE_FACTOR, LATE_MIN_S)
        try:
            if provider == "changes" and local:
                bound = min(ctx.deadline, CHANGES_LOCAL_TIMEOUT)
                try:
                    part = await self._changes_locally(st.service, st.opened_at - ctx.window, bound)
                finally:
                    self._read_locally = True
                if part is not None:
                    return part
            if provider == "changes" and on_deadline:
                return await workflow.execute_activity(
                    "recent_changes",
                    ChangesRequest(service=st.service, since=st.opened_at - ctx.window, timeout_s=timeout),
                    result_type=ContextPart,
                    start_to_close_timeout=CONTEXT_TIMEOUT,
                    retry_policy=ONCE,
                    summary="recent changes",
                )
            if provider == "changes":
                return await workflow.execute_local_activity(
                    "recent_changes",
                    ChangesRequest(service=st.service, since=st.opened_at - ctx.window, timeout_s=timeout),
                    result_type=ContextPart,
                    start_to_close_timeout=CONTEXT_TIMEOUT,
                    retry_policy=ONCE,
                    summary="recent changes",
                )  # local: it reads Temporal and answers in milliseconds, so no task-queue round trip
            return await workflow.execute_activity(
                CONTEXT_ACTIVITIES[provider],
                ContextRequest(service=st.service, alert_at=st.opened_at, timeout_s=timeout),
                result_type=ContextPart,
                start_to_close_timeout=CONTEXT_TIMEOUT,
                retry_policy=ONCE,
                summary=f"gather {provider}",
            )
        except ActivityError as e:
            return ContextPart(provider=provider, ok=False, error=(str(e.cause) if e.cause else str(e))[:500])
        except Exception as e:  # any failure is context not available, never a failed incident
            return ContextPart(provider=provider, ok=False, error=f"{type(e).__name__}: {e}"[:500])

    async def _changes_locally(self, service: str, since: datetime, deadline: timedelta) -> ContextPart | None:
        """The change log, read in this workflow task within `deadline`; None when it did not answer in time (or
        its lookup failed), so the ordinary activity asks again."""
        try:
            part: ContextPart = await workflow.execute_local_activity(
                "recent_changes",
                ChangesRequest(service=service, since=since, timeout_s=deadline.total_seconds()),
                result_type=ContextPart,
                schedule_to_close_timeout=deadline,
                retry_policy=ONCE,
                summary="recent changes",
            )
        except Exception:  # timed out or failed (a local activity's failure is not wrapped): ask the ordinary way
            return None
        return part if part.ok else None

    def _late_part(self, task: asyncio.Future[ContextPart]) -> None:
        self.parts.append(task.result())
        self.late_pending -= 1
        self.late_ready = True
        self.run.wake = True

    async def post_late(self) -> None:
        """Context that missed the first page goes to the same thread each responder got the page in."""
        self.late_ready = False
        run, st = self.run, self.run.require()
        st.context = assemble(self.parts, st.opened_at, run.policy.context.window, run.policy.providers)
        if self.late_pending:
            return  # wait for the rest, then send one update
        run.record(Actor.agent(AGENT), Kind.CONTEXT, say.late_context(describe_context(st.context)))
        if not st.threads:
            return
        found = await self.paging.lookup([f"user:{p}" for p in st.threads], workflow.now(), "who gets the late context")
        update = run.page(0, 0).model_copy(update={"kind": "update"})
        sends = []
        for r in found.recipients:
            for method, thread in st.threads.get(r.person, {}).items():
                page = update.model_copy(update={"thread": thread or None})
                sends.append(self.paging.page_person(r.model_copy(update={"methods": [method]}), page))
        await asyncio.gather(*sends)
