"""The incident's Slack channel: create (or find) it, invite people, keep the topic, bookmark links, post, archive.

Each activity is one step the workflow keeps track of, and each is safe to run again:

- `channel_open` creates `inc-7k2q9m-checkout` from the name template. An attempt that created the channel keeps its
  id in the activity's heartbeat, so the retry reuses it; and a name that is taken is looked up: a channel whose
  purpose or topic names this incident (baton marks it so at once), or one baton's own bot user created and never
  marked (an attempt lost between the two calls), is this incident's and is reused; any other makes the name
  `…-2`, `…-3`. One channel per incident however often the step runs.
- `channel_invite` treats `already_in_channel` as done; `channel_bookmarks` adds only links the channel lacks;
  `channel_topic` and `channel_archive` are the same on a repeat.
- A 429 raises an error whose `next_retry_delay` is Slack's `Retry-After`, so Temporal waits as long as Slack asked.

A drill's worker (`local=True`) never calls Slack: `LocalSlack` answers as Slack would, from memory.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from activities import slack_api
from activities.notifiers import render
from activities.notifiers import slack as slack_blocks
from activities.notifiers.base import headline
from incident.config import Config
from incident.coordination import ChannelSettings
from incident.models import Page
from incident.slack_contract import esc
from workflows.messages import (
    SLACK_FAILED,
    SLACK_RATE_LIMITED,
    SLACK_REFUSED,
    ChannelArchiveRequest,
    ChannelBookmarksRequest,
    ChannelInvited,
    ChannelInviteRequest,
    ChannelOpened,
    ChannelOpenRequest,
    ChannelPosted,
    ChannelPostRequest,
    ChannelTopicRequest,
)

log = structlog.get_logger("baton.channel")

NAME_MAX = 80
"""Slack's limit on a channel name."""
TOPIC_MAX = 250
PURPOSE_MAX = 250
SUFFIXES = 20
"""Names tried before giving up: `inc-7k2q9m-checkout`, `…-2`, … `…-20`."""
LIST_PAGES = 10
LIST_LIMIT = 200
"""conversations.list is paged: at most this many pages of this many channels are looked through for a name."""
BOOKMARKS_MAX = 10
NOT_CONFIGURED = "integrations.slack is not configured on the worker"
_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_NOT_NAME = re.compile(r"[^a-z0-9_-]+")

BENIGN = ApplicationErrorCategory.BENIGN
Call = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


def channel_name(template: str, incident_id: str, service: str, severity: str, title: str) -> str:
    """The template filled in and made a name Slack takes: lowercase letters, digits, `-` and `_`, at most 80
    characters. `{id}` is the incident id without its `INC-` (`inc-{id}-{service}` -> `inc-7k2q9m-checkout`)."""
    short = incident_id.removeprefix("INC-")
    filled = template.format(id=short, service=service, severity=severity, title=title).lower()
    name = _NOT_NAME.sub("-", filled)
    name = re.sub(r"-{2,}", "-", name).strip("-_")
    return name[:NAME_MAX].rstrip("-_") or f"inc-{short.lower()}"


def suffixed(name: str, n: int) -> str:
    """The `n`th name to try: the name itself, then `…-2`, `…-3`, kept within 80 characters."""
    if n == 1:
        return name
    tail = f"-{n}"
    return name[: NAME_MAX - len(tail)].rstrip("-_") + tail


def marker(incident_id: str) -> str:
    """What baton puts in a channel's purpose (and topic) so that a later attempt knows the channel is this
    incident's."""
    return f"baton incident {incident_id}"


def failure(e: slack_api.SlackCallError) -> ApplicationError:
    """What Temporal should do about a failed call: wait as long as Slack asked (429), retry, or give up."""
    if e.error == "ratelimited" and e.wait is not None:
        return ApplicationError(str(e), type=SLACK_RATE_LIMITED, next_retry_delay=timedelta(seconds=max(e.wait, 1.0)))
    if e.retryable:
        return ApplicationError(str(e), type=SLACK_FAILED)
    return ApplicationError(str(e), type=SLACK_REFUSED, non_retryable=True)


def bookmark_links(page: Page, link: str) -> list[tuple[str, str]]:
    """(title, link): the incident in Temporal's UI, the runbook, then the dashboards the page links to (the
    alert's links, the context's, each metric's graph and the logs), web links only, at most `BOOKMARKS_MAX`."""
    out = [(lk.text, lk.href) for lk in render.links(page, link)]
    out[0] = ("Incident (Temporal UI)", link)
    ctx = page.context
    if ctx is not None:
        out += [(f"Graph: {m.name}", m.link) for m in ctx.metrics if m.link]
        if ctx.logs and ctx.logs.link:
            out.append(("Logs", ctx.logs.link))
    seen: set[str] = set()
    kept = []
    for title, href in out:
        if href in seen or not render.safe_href(href):
            continue
        seen.add(href)
        kept.append((title[:100] or "Link", href))
    return kept[:BOOKMARKS_MAX]


def summary_blocks(page: Page, link: str) -> list[dict[str, Any]]:
    """The page's Block Kit with its buttons (Acknowledge, Resolve, Open incident, each pinned to the incident),
    its facts those of the incident rather than of one escalation level."""
    blocks = slack_blocks.blocks(page.model_copy(update={"kind": "page", "late_since": None}), link)
    facts = [
        ("Service", page.service),
        ("Severity", page.severity.value),
        ("Status", page.status.value),
        ("Opened", render.opened(page)),
    ]
    for b in blocks:
        if "fields" in b:
            b["fields"] = [{"type": "mrkdwn", "text": f"*{name}*\n{esc(value)}"} for name, value in facts]
    return blocks


class LocalSlack:
    """Slack's Web API as a drill plays it: channels, members, topics, bookmarks and messages kept in memory, the
    answers shaped as Slack's. Nothing leaves the worker."""

    def __init__(self) -> None:
        self.channels: dict[str, dict[str, Any]] = {}
        self.ids = itertools.count(1)

    async def call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        by_name = {c["name"]: c for c in self.channels.values()}
        match method:
            case "conversations.create":
                if body["name"] in by_name:
                    raise slack_api.SlackCallError("name_taken", "name_taken", retryable=False)
                cid = f"CDRILL{next(self.ids):04d}"
                self.channels[cid] = {"id": cid, "name": body["name"], "purpose": {"value": ""}, "topic": {"value": ""}}
                return {"ok": True, "channel": self.channels[cid]}
            case "conversations.list":
                return {"ok": True, "channels": list(self.channels.values()), "response_metadata": {"next_cursor": ""}}
            case "conversations.setPurpose":
                self.channels[body["channel"]]["purpose"] = {"value": body["purpose"]}
            case "conversations.setTopic":
                self.channels[body["channel"]]["topic"] = {"value": body["topic"]}
            case "chat.postMessage":
                return {"ok": True, "channel": body["channel"], "ts": f"{next(self.ids)}.000100"}
            case "bookmarks.list":
                return {"ok": True, "bookmarks": []}
        return {"ok": True}


class ChannelActivities:
    """Holds the worker's config and one HTTP client; each method is an activity. `local=True` (a drill) plays
    Slack in memory instead of calling it."""

    def __init__(self, config: Config, http: httpx.AsyncClient, local: bool = False, ui_url: str | None = None):
        self.config = config
        self.http = http
        self.local = LocalSlack() if local else None
        self.ui_url = (ui_url or os.environ.get("BATON_UI_URL") or "http://localhost:8233").rstrip("/")
        self._bot_user: str | None = None

    def _slack(self) -> Call:
        if self.local is not None:
            return self.local.call
        slack = self.config.integrations.slack
        if slack is None:
            raise ApplicationError(NOT_CONFIGURED, type=SLACK_REFUSED, non_retryable=True)

        async def call(method: str, body: dict[str, Any]) -> dict[str, Any]:
            return await slack_api.call(self.http, slack, method, body)

        return call

    async def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            return await self._slack()(method, body)
        except slack_api.SlackCallError as e:
            raise failure(e) from None

    def _link(self) -> str:
        """The incident in Temporal's UI, as a page links to it."""
        info = activity.info()
        wid = quote(info.workflow_id or "", safe="")
        return f"{self.ui_url}/namespaces/{info.workflow_namespace}/workflows/{wid}/{info.workflow_run_id}"

    # ---- opening -----------------------------------------------------------------------------------------------

    @activity.defn(name="channel_open")
    async def open(self, req: ChannelOpenRequest) -> ChannelOpened:
        """Create the incident's channel (or find the one an earlier attempt created), or find the static one."""
        if self.local is None and self.config.integrations.slack is None:
            return ChannelOpened(problem=NOT_CONFIGURED)
        if not req.settings.create:
            return await self._static(req.settings)
        done = activity.info().heartbeat_details
        if done and isinstance(done[0], dict) and done[0].get("channel_id"):
            cid, name = str(done[0]["channel_id"]), str(done[0].get("name") or "")
            await self._mark(cid, req.incident_id, req.service)
            return ChannelOpened(channel_id=cid, name=name, created=True, found=True)
        base = channel_name(req.settings.name, req.incident_id, req.service, req.severity.value, req.title)
        for n in range(1, SUFFIXES + 1):
            name = suffixed(base, n)
            try:
                answer = await self._slack()("conversations.create", {"name": name, "is_private": False})
            except slack_api.SlackCallError as e:
                if e.error != "name_taken":
                    raise failure(e) from None
                if (found := await self._ours(name, req.incident_id)) is not None:
                    await self._mark(found, req.incident_id, req.service)
                    return ChannelOpened(channel_id=found, name=name, created=True, found=True)
                continue
            cid = str((answer.get("channel") or {}).get("id") or "")
            if not cid:
                raise ApplicationError(f"slack created #{name} but gave no channel id", type=SLACK_FAILED)
            activity.heartbeat({"channel_id": cid, "name": name})  # a retry from here on reuses it
            await self._mark(cid, req.incident_id, req.service)
            log.info("channel created", incident=req.incident_id, channel=cid, name=name)
            return ChannelOpened(channel_id=cid, name=name, created=True)
        return ChannelOpened(
            name=base, problem=f"#{base} and {SUFFIXES - 1} suffixed names are taken by other channels"
        )

    async def _mark(self, channel_id: str, incident_id: str, service: str) -> None:
        purpose = f"{marker(incident_id)} ({service}); opened by baton"
        await self._call("conversations.setPurpose", {"channel": channel_id, "purpose": purpose[:PURPOSE_MAX]})

    async def _ours(self, name: str, incident_id: str) -> str | None:
        """The id of the channel called `name` when it is this incident's (see the module's docstring)."""
        found = await self._find(name, archived=True)
        if found is None or found.get("is_archived"):
            return None
        said = " ".join(str((found.get(f) or {}).get("value") or "") for f in ("purpose", "topic"))
        if marker(incident_id) in said or incident_id in said:
            return str(found["id"])
        if not said.strip() and found.get("creator") and found.get("creator") == await self._bot():
            return str(found["id"])
        return None

    async def _bot(self) -> str | None:
        """baton's own bot user (auth.test), asked once per worker."""
        if self._bot_user is None and self.local is None:
            self._bot_user = str((await self._call("auth.test", {})).get("user_id") or "")
        return self._bot_user

    async def _find(self, name: str, archived: bool = False) -> dict[str, Any] | None:
        cursor = ""
        for _ in range(LIST_PAGES):
            body: dict[str, Any] = {
                "limit": LIST_LIMIT,
                "exclude_archived": not archived,
                "types": "public_channel",
            }
            if cursor:
                body["cursor"] = cursor
            answer = await self._call("conversations.list", body)
            for ch in answer.get("channels") or []:
                if ch.get("name") == name:
                    return dict(ch)
            cursor = str((answer.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return None
        return None

    async def _static(self, settings: ChannelSettings) -> ChannelOpened:
        given = (settings.static or "").strip()
        if not given:
            return ChannelOpened(problem="`create: false` needs `static:` (the channel to post in)")
        if _ID.match(given):
            return ChannelOpened(channel_id=given, name=given)
        name = given.removeprefix("#")
        found = await self._find(name)
        if found is None:
            return ChannelOpened(
                name=name,
                problem=f"#{name} is not among the workspace's public channels: give a private channel by its id (C…)",
            )
        return ChannelOpened(channel_id=str(found["id"]), name=name)

    # ---- people, topic, bookmarks ------------------------------------------------------------------------------

    @activity.defn(name="channel_invite")
    async def invite(self, req: ChannelInviteRequest) -> ChannelInvited:
        """Invite each person by their `slack:` member id, one call each (one refusal stops nobody else)."""
        out = ChannelInvited()
        call = self._slack()
        for person in req.people:
            found = self.config.people.get(person)
            member = (found.slack or "").strip() if found else ""
            if not member:
                out.problems.append(f"{person} has no `slack:` member id in the config")
                continue
            try:
                await call("conversations.invite", {"channel": req.channel_id, "users": member})
            except slack_api.SlackCallError as e:
                if e.error in ("already_in_channel", "cant_invite_self"):
                    out.invited.append(person)
                    continue
                if e.retryable:
                    raise failure(e) from None
                out.problems.append(f"{person}: slack refused the invite: {e.error}")
                continue
            out.invited.append(person)
        return out

    @activity.defn(name="channel_topic")
    async def topic(self, req: ChannelTopicRequest) -> None:
        await self._call("conversations.setTopic", {"channel": req.channel_id, "topic": req.topic[:TOPIC_MAX]})

    @activity.defn(name="channel_bookmarks")
    async def bookmarks(self, req: ChannelBookmarksRequest) -> int:
        """Add the links the channel has no bookmark for yet; how many were added."""
        have = await self._call("bookmarks.list", {"channel_id": req.channel_id})
        existing = {str(b.get("link") or "") for b in have.get("bookmarks") or []}
        added = 0
        for title, link in bookmark_links(req.page, self._link()):
            if link in existing:
                continue
            body = {"channel_id": req.channel_id, "title": title, "type": "link", "link": link}
            await self._call("bookmarks.add", body)
            added += 1
        return added

    # ---- messages and the end ----------------------------------------------------------------------------------

    @activity.defn(name="channel_post")
    async def post(self, req: ChannelPostRequest) -> ChannelPosted:
        body: dict[str, Any] = {
            "channel": req.channel,
            "text": req.text,
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if req.summary is not None:
            body["text"] = esc(headline(req.summary))
            body["blocks"] = summary_blocks(req.summary, self._link())
        if req.thread_ts:
            body["thread_ts"] = req.thread_ts
            if req.broadcast:
                body["reply_broadcast"] = True
        answer = await self._call("chat.postMessage", body)
        return ChannelPosted(channel=str(answer.get("channel") or req.channel), ts=str(answer.get("ts") or ""))

    @activity.defn(name="channel_archive")
    async def archive(self, req: ChannelArchiveRequest) -> None:
        try:
            await self._slack()("conversations.archive", {"channel": req.channel_id})
        except slack_api.SlackCallError as e:
            if e.error != "already_archived":
                raise failure(e) from None
