"""The incident's Slack channel: created (or found) on open, people invited as they are paged or lead, the topic
kept current, bookmarks, the summary, an announcement, what matters mirrored from the timeline, and the channel
archived a while after the resolve.

All of it runs beside the main loop, in one background task per run (like the deliveries of pages): a Slack that is
slow or down never delays a page or a deadline. The task does one step at a time, choosing the next from the state
(`ChannelState` says what is done), so a continue-as-new loses nothing: the next run's task picks up where the state
says. The only work a run holds on to is a message being posted (a repeat would post it twice), and a post is
bounded at `SCHEDULE_TO_CLOSE`. A step Slack refuses for good is recorded and not tried again; one that fails
otherwise is recorded once and tried again, further and further apart (`BACKOFF`).

The resolve ends the incident's run, so the closing message and the archive after `archive_after` run in a child
workflow the run starts and abandons (`workflows.channel_close`): its durable timer outlives the run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError, WorkflowAlreadyStartedError

from incident import sentences as say
from incident.channel import MIRROR_BATCH, ChannelState, lines, to_invite, topic, unmirrored
from incident.coordination import ChannelSettings
from incident.durations import format_duration
from incident.models import Actor
from incident.slack_contract import esc
from incident.timeline import Kind
from workflows.channel_close import ChannelClose, close_id
from workflows.incident.run import IncidentRun
from workflows.messages import (
    SLACK_REFUSED,
    ChannelBookmarksRequest,
    ChannelInvited,
    ChannelInviteRequest,
    ChannelOpened,
    ChannelOpenRequest,
    ChannelPosted,
    ChannelPostRequest,
    ChannelTopicRequest,
)

CHANNEL = "incident-channel"
"""Patch id: the channel work (before: none)."""

RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[SLACK_REFUSED],
)
"""Temporal retries a failed call (after Slack's Retry-After when it sent one) within `SCHEDULE_TO_CLOSE`."""
START_TO_CLOSE = timedelta(seconds=60)
"""One attempt: opening may take a few calls (create, a look through conversations.list, the purpose)."""
SCHEDULE_TO_CLOSE = timedelta(minutes=2)
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=2),
    timedelta(minutes=5),
    timedelta(minutes=10),
    timedelta(minutes=30),
)
"""After a step failed for the whole of `SCHEDULE_TO_CLOSE`: how long until it is tried again, streak by streak."""
CLOSE_WAIT = timedelta(seconds=30)
"""At the resolve, how long the run waits for a step under way (a post, the opening) before it hands the rest over."""


@dataclass
class Job:
    what: str
    """For the timeline: `could not {what}`."""
    run: Callable[[], Awaitable[None]]
    skip: Callable[[], None]
    """Slack refused it for good: mark it done so it is not tried again."""


class Channel:
    def __init__(self, run: IncidentRun) -> None:
        self.run = run
        self._task: asyncio.Task[None] | None = None
        self._posting = False
        self._calling = False
        """A step is under way (the resolve waits a moment for it: an opening channel is then handed over too)."""
        self._streak = 0
        run.hold(lambda: self._posting)

    def settings(self) -> ChannelSettings | None:
        c = self.run.policy.coordination
        return c.slack.channel if c is not None else None

    def enabled(self) -> bool:
        """Whether this incident has channel work: its policy asks for a channel (never an old snapshot's), and
        the run is past the patch."""
        return self.settings() is not None and self.run.patched(CHANNEL)

    def deadline(self) -> tuple[datetime, str] | None:
        """None: the channel's work runs beside the main loop and has no deadline in it (its archive is kept by
        the child workflow started at the resolve)."""
        return None

    async def step(self, now: datetime) -> bool:
        """Start the channel's background work once the incident is open; it never needs the loop to act."""
        st = self.run.require()
        if self._task is not None or not st.open or not self.enabled():
            return False
        if st.channel is None:
            st.channel = ChannelState()
        if st.channel.off is None:
            self._task = asyncio.get_running_loop().create_task(self._pump())
        return False

    # ---- the background task -------------------------------------------------------------------------------------

    async def _pump(self) -> None:
        st = self.run.require()
        ch = st.channel
        assert ch is not None
        while st.open and ch.off is None and self.settings() is not None:
            job = self._next()
            if job is None:
                await workflow.wait_condition(lambda: not st.open or self._next() is not None)
                continue
            self._calling = True
            try:
                await job.run()
            except ActivityError as e:
                if (again := self._failed(job, e)) is not None:
                    with contextlib.suppress(TimeoutError):
                        await workflow.wait_condition(
                            lambda: not st.open, timeout=again, timeout_summary=f"slack: {job.what}, again"
                        )
                continue
            except Exception:
                workflow.logger.exception("channel work failed: %s", job.what)
                ch.off = "internal error (see the worker log)"
                self.run.record(Actor.system(), Kind.CHANNEL_PROBLEM, say.channel_problem(job.what, ch.off, None))
                return
            finally:
                self._calling = False
            self._streak = 0

    def _next(self) -> Job | None:
        """The next step, from what the state says is done; None while there is nothing to do (or, the policy
        reloaded without a channel, nothing more to do). Pure: it is the background task's wait condition too."""
        st = self.run.require()
        ch, settings = st.channel, self.settings()
        if ch is None or settings is None or ch.off is not None:
            return None
        if ch.channel_id is None:
            refused = "slack refused to open the channel"
            return Job("open the channel", self._open, lambda: setattr(ch, "off", refused))
        if people := to_invite(st):
            return Job(f"invite {', '.join(people)}", lambda: self._invite(people), lambda: ch.invited.extend(people))
        if ch.summary_ts is None:
            return Job("post the summary", self._summary, lambda: setattr(ch, "summary_ts", ""))
        if not ch.static and ch.topic != (wanted := topic(st)):
            return Job("set the topic", lambda: self._topic(wanted), lambda: setattr(ch, "topic", wanted))
        if settings.announce and not ch.announced:
            where = settings.announce
            return Job(f"announce in {where}", lambda: self._announce(where), lambda: setattr(ch, "announced", True))
        if ch.created and not ch.bookmarked:
            return Job("bookmark the links", self._bookmarks, lambda: setattr(ch, "bookmarked", True))
        entries, upto = unmirrored(st, MIRROR_BATCH)
        if upto > ch.mirrored:
            last = entries[-1].at if entries else ch.mirrored_at

            def done() -> None:
                ch.mirrored, ch.mirrored_at = upto, last

            if not entries:
                return Job("skip what is not mirrored", lambda: _at_once(done), done)
            return Job("mirror the timeline", lambda: self._mirror(lines(entries), done), done)
        return None

    def _failed(self, job: Job, e: ActivityError) -> timedelta | None:
        """Record a failed step: refused for good, it is skipped (None); else it is tried again after the time
        returned. A streak of failures is recorded once."""
        cause = e.cause
        reason = cause.message if isinstance(cause, FailureError) else str(e)
        if isinstance(cause, ApplicationError) and (cause.non_retryable or cause.type == SLACK_REFUSED):
            job.skip()
            self.run.record(Actor.system(), Kind.CHANNEL_PROBLEM, say.channel_problem(job.what, reason, None))
            return None
        again = BACKOFF[min(self._streak, len(BACKOFF) - 1)]
        if self._streak == 0:
            self.run.record(Actor.system(), Kind.CHANNEL_PROBLEM, say.channel_problem(job.what, reason, again))
        self._streak += 1
        return again

    def _call(self, activity: str, arg: Any, result_type: type | None, summary: str) -> Awaitable[Any]:
        return workflow.execute_activity(
            activity,
            arg,
            result_type=result_type,
            start_to_close_timeout=START_TO_CLOSE,
            schedule_to_close_timeout=SCHEDULE_TO_CLOSE,
            retry_policy=RETRY,
            summary=summary,
        )

    async def _post(self, req: ChannelPostRequest, summary: str) -> ChannelPosted:
        self._posting = True
        try:
            posted: ChannelPosted = await self._call("channel_post", req, ChannelPosted, summary)
        finally:
            self._posting = False
        return posted

    # ---- the steps ---------------------------------------------------------------------------------------------------

    async def _open(self) -> None:
        st, settings = self.run.require(), self.settings()
        ch = st.channel
        assert ch is not None and settings is not None
        req = ChannelOpenRequest(
            incident_id=st.incident_id, service=st.service, severity=st.severity, title=st.title, settings=settings
        )
        what = "open the incident's channel" if settings.create else f"find {settings.static}"
        opened: ChannelOpened = await self._call("channel_open", req, ChannelOpened, what)
        if opened.channel_id is None:
            ch.off = opened.problem or "slack gave no channel"
            self.run.record(Actor.system(), Kind.CHANNEL_PROBLEM, say.channel_none(ch.off))
            return
        ch.channel_id, ch.name, ch.created, ch.static = (
            opened.channel_id,
            opened.name,
            opened.created,
            not opened.created,
        )
        data = {"channel_id": ch.channel_id, "name": ch.name, "created": ch.created}
        self.run.record(Actor.system(), Kind.CHANNEL, say.channel_opened(ch.shown, ch.created, opened.found), data)
        self.run.wake = True  # the main loop publishes the channel (IncidentChannel) for `/baton note` in it

    async def _invite(self, people: list[str]) -> None:
        ch = self.run.require().channel
        assert ch is not None and ch.channel_id is not None
        req = ChannelInviteRequest(channel_id=ch.channel_id, people=people)
        got: ChannelInvited = await self._call("channel_invite", req, ChannelInvited, f"invite {', '.join(people)}")
        ch.invited.extend(people)  # whoever could not be invited is not asked again
        if got.invited:
            self.run.record(Actor.system(), Kind.CHANNEL, say.channel_invited(got.invited, ch.shown))
        for problem in got.problems:
            self.run.record(Actor.system(), Kind.CHANNEL_PROBLEM, say.channel_problem("invite", problem, None))

    async def _summary(self) -> None:
        ch = self.run.require().channel
        assert ch is not None and ch.channel_id is not None
        req = ChannelPostRequest(channel=ch.channel_id, text="", summary=self.run.page(0, 0))
        ch.summary_ts = (await self._post(req, f"post the summary in {ch.shown}")).ts

    async def _topic(self, wanted: str) -> None:
        ch = self.run.require().channel
        assert ch is not None and ch.channel_id is not None
        await self._call("channel_topic", ChannelTopicRequest(channel_id=ch.channel_id, topic=wanted), None, "topic")
        ch.topic = wanted

    async def _announce(self, where: str) -> None:
        st = self.run.require()
        ch = st.channel
        assert ch is not None and ch.channel_id is not None
        text = (
            f":rotating_light: *{st.incident_id}* {esc(st.severity_label)} · {esc(st.service)}: {esc(st.title)}\n"
            f"Follow it in <#{ch.channel_id}>"
        )
        posted = await self._post(ChannelPostRequest(channel=where, text=text), f"announce in {where}")
        ch.announced, ch.announcement = True, f"{posted.channel}:{posted.ts}"
        self.run.record(Actor.system(), Kind.CHANNEL, say.channel_announced(where, ch.shown), {"announce": where})

    async def _bookmarks(self) -> None:
        ch = self.run.require().channel
        assert ch is not None and ch.channel_id is not None
        req = ChannelBookmarksRequest(channel_id=ch.channel_id, page=self.run.page(0, 0))
        await self._call("channel_bookmarks", req, int, "bookmark the runbook and dashboards")
        ch.bookmarked = True

    async def _mirror(self, text: str, done: Callable[[], None]) -> None:
        ch = self.run.require().channel
        assert ch is not None and ch.channel_id is not None
        await self._post(ChannelPostRequest(channel=ch.channel_id, text=text, thread_ts=ch.thread), "mirror")
        done()

    # ---- the resolve ---------------------------------------------------------------------------------------------

    async def close(self) -> None:
        """Once resolved: hand the closing message and the archive to a child workflow that outlives this run."""
        st, settings = self.run.require(), self.settings()
        ch = st.channel
        if ch is None or settings is None or not self.enabled():
            return
        if self._calling:  # a message being posted, or the channel being opened: let it finish, briefly
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(lambda: not self._calling, timeout=CLOSE_WAIT)
        if ch.channel_id is None:
            return
        now = workflow.now()
        entries, _ = unmirrored(st, MIRROR_BATCH)
        if ch.created and settings.archive_after:
            ch.archive_at = (st.resolved_at or now) + settings.archive_after
        kind, _, name = (st.resolved_by or "").partition(":")
        by = name or kind or "someone"
        after = (st.resolved_at or now) - st.opened_at
        closing = say.channel_resolved(st.incident_id, esc(by), after, esc(st.resolution) if st.resolution else None)
        if ch.archive_at:
            closing += f"\nThis channel is archived at {ch.archive_at:%Y-%m-%d %H:%M} UTC."
        req = ChannelClose(
            incident_id=st.incident_id,
            channel=ch.channel_id,
            shown=ch.shown,
            text=(lines(entries) + "\n" if entries else "") + closing,
            thread_ts=ch.thread,
            broadcast=ch.thread is not None,
            announcement=ch.announcement,
            announcement_text=f"Resolved by {esc(by)} after {format_duration(after)}: <#{ch.channel_id}>",
            archive_at=ch.archive_at,
        )
        data = {"archive_at": ch.archive_at.isoformat() if ch.archive_at else None}
        text = say.channel_closing(ch.shown, ch.archive_at, workflow.now())
        self.run.record(Actor.system(), Kind.CHANNEL, text, data)
        with contextlib.suppress(WorkflowAlreadyStartedError):
            await workflow.start_child_workflow(
                "ChannelCloseWorkflow",
                req,
                id=close_id(st.workflow_id, st.incident_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                static_summary=f"close {ch.shown} ({st.incident_id})",
            )


async def _at_once(done: Callable[[], None]) -> None:
    """A step with no call to make (entries not worth mirroring): done as soon as it is taken."""
    done()
