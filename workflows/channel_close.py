"""ChannelCloseWorkflow: what the incident's channel is told once the incident is resolved, and its archive.

The incident's run ends at the resolve (its workflow id opens the next incident on the same alert key), so the
last channel work runs on its own, started by the resolved run as a child it abandons: the closing message (the
summary, the postmortem draft's place) in the channel and in the announcement's thread, then a durable timer until
`archive_after`, then `conversations.archive`. A Slack that is down only makes this workflow wait and try again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, FailureError

from incident.channel import clip_post
from workflows.messages import SLACK_REFUSED, ChannelArchiveRequest, ChannelPosted, ChannelPostRequest

CLOSE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=5),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=[SLACK_REFUSED],
)
POST_FOR = timedelta(hours=1)
ARCHIVE_FOR = timedelta(days=1)
"""How long the closing message, and the archive, are tried before the workflow gives up on them."""


class ChannelClose(BaseModel):
    incident_id: str
    channel: str
    shown: str = Field(description="#inc-7k2q9m-checkout, for summaries")
    text: Annotated[str, BeforeValidator(clip_post)]
    thread_ts: str | None = None
    broadcast: bool = False
    announcement: str | None = Field(None, description="`C123:ts` of the announcement, for a reply in its thread")
    announcement_text: str = ""
    archive_at: datetime | None = Field(None, description="None: the channel is kept (or it is not baton's)")


class ChannelClosed(BaseModel):
    told: bool = False
    archived: bool = False
    problems: list[str] = Field(default_factory=list)


def close_id(workflow_id: str, incident_id: str) -> str:
    return f"{workflow_id}/channel/{incident_id}"


@workflow.defn(name="ChannelCloseWorkflow", sandboxed=False)
class ChannelCloseWorkflow:
    @workflow.run
    async def run(self, req: ChannelClose) -> ChannelClosed:
        out = ChannelClosed()
        post = ChannelPostRequest(channel=req.channel, text=req.text, thread_ts=req.thread_ts, broadcast=req.broadcast)
        out.told = await self._try(out, "tell the channel of the resolve", "channel_post", post, POST_FOR)
        if req.announcement and req.announcement_text:
            where, _, ts = req.announcement.partition(":")
            reply = ChannelPostRequest(channel=where, text=req.announcement_text, thread_ts=ts or None)
            await self._try(out, "reply to the announcement", "channel_post", reply, POST_FOR)
        if req.archive_at is not None:
            if (wait := req.archive_at - workflow.now()) > timedelta(0):
                await workflow.sleep(wait, summary=f"archive {req.shown}")
            done = ChannelArchiveRequest(channel_id=req.channel)
            out.archived = await self._try(out, f"archive {req.shown}", "channel_archive", done, ARCHIVE_FOR)
        return out

    async def _try(self, out: ChannelClosed, what: str, activity: str, arg: BaseModel, within: timedelta) -> bool:
        try:
            await workflow.execute_activity(
                activity,
                arg,
                result_type=ChannelPosted if activity == "channel_post" else None,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=within,
                retry_policy=CLOSE_RETRY,
                summary=what,
            )
        except ActivityError as e:
            reason = e.cause.message if isinstance(e.cause, FailureError) else str(e)
            out.problems.append(f"could not {what}: {reason}")
            return False
        return True
