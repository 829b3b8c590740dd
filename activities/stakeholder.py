"""The `post_stakeholder_update` activity: one stakeholder update posted to one internal audience.

`slack:#support` is a `chat.postMessage` to that channel with the bot token (`activities.slack_api`); `email:ADDR`
is a plain-text message over the SMTP integration the email notifier uses, its Message-ID from the post's key, so a
retried delivery is recognisably the same message. The workflow posts each audience as an activity of its own, so a
retry reaches only the audience it is for: an audience already posted to is never posted to again.

Failures another attempt may fix (Slack rate-limiting with `Retry-After`, 5xx, a broken connection, SMTP 4xx) are
raised and retried by Temporal, honouring Slack's wait; the rest come back as `UpdatePosted(ok=False)` and go on
the timeline. With `dry_run=True` (drills) nothing is posted.
"""

from __future__ import annotations

import asyncio
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate

import httpx
import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.notifiers.email import _deliver, _error, message_id
from activities.slack_api import SlackCallError, call
from incident.config import Config
from workflows.messages import PostUpdateRequest, UpdatePosted

log = structlog.get_logger("baton.stakeholder")


def slack_text(text: str) -> str:
    """Text as Slack shows it literally: `&`, `<` and `>` escaped, so nothing in it becomes a mention (`<!channel>`)
    or a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def compose(req: PostUpdateRequest, sender: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    number = req.update_id.removeprefix("U")
    title = " ".join(req.title.split())[:150]
    msg["Subject"] = f"[{req.incident_id}] Stakeholder update {number}: {title}" if title else f"[{req.incident_id}]"
    msg["From"] = sender
    msg["To"] = to
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(req.key, sender)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Baton-Incident"] = req.incident_id
    msg.set_content(req.text)
    return msg


class StakeholderActivities:
    """Holds the worker's config and one HTTP client. `dry_run=True` (drills) never posts."""

    def __init__(self, config: Config, http: httpx.AsyncClient, dry_run: bool = False) -> None:
        self.config = config
        self.http = http
        self.dry_run = dry_run

    @activity.defn(name="post_stakeholder_update")
    async def post_update(self, req: PostUpdateRequest) -> UpdatePosted:
        kind, _, where = req.audience.partition(":")
        bound = log.bind(incident=req.incident_id, update=req.update_id, audience=req.audience)
        if self.dry_run:
            return UpdatePosted(ok=True, detail=f"drill: would post to {req.audience}", dry_run=True)
        if kind == "slack":
            posted = await self._slack(req, where)
        elif kind == "email":
            posted = await self._email(req, where)
        else:
            posted = UpdatePosted(ok=False, detail=f"{req.audience!r} is not slack:#channel or email:address")
        bound.info("update posted" if posted.ok else "update not posted", detail=posted.detail)
        return posted

    async def _slack(self, req: PostUpdateRequest, channel: str) -> UpdatePosted:
        slack = self.config.integrations.slack
        if slack is None:
            return UpdatePosted(ok=False, detail="integrations.slack is not configured")
        body = {"channel": channel, "text": slack_text(req.text), "unfurl_links": False, "unfurl_media": False}
        try:
            answer = await call(self.http, slack, "chat.postMessage", body)
        except SlackCallError as e:
            if e.retryable:
                delay = timedelta(seconds=e.wait) if e.wait else None
                raise ApplicationError(str(e), type="SlackCallError", next_retry_delay=delay) from None
            return UpdatePosted(ok=False, detail=str(e))
        return UpdatePosted(ok=True, detail=f"posted in {channel} (ts {answer.get('ts', '?')})")

    async def _email(self, req: PostUpdateRequest, address: str) -> UpdatePosted:
        smtp = self.config.integrations.smtp
        if smtp is None:
            return UpdatePosted(ok=False, detail="integrations.smtp is not configured")
        password = smtp.password.reveal() if smtp.password else None
        if smtp.username and not password:
            return UpdatePosted(ok=False, detail=f"smtp password is not set ({smtp.password!r})")
        msg = compose(req, smtp.sender, address)
        try:
            await asyncio.to_thread(_deliver, smtp, password, msg)
        except (smtplib.SMTPException, OSError) as e:
            problem = _error(e)
            if problem.retryable:
                raise ApplicationError(str(problem), type="SmtpError") from None
            return UpdatePosted(ok=False, detail=str(problem))
        return UpdatePosted(ok=True, detail=f"email accepted by {smtp.host} for {address}")
