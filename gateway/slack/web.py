"""Talking to Slack: the Web API with the bot token, an interaction's `response_url`, and replacing a page's
buttons with the outcome."""

from __future__ import annotations

import json
from typing import Any

import httpx
import structlog

from gateway.slack.messages import Origin, without_buttons
from incident.config import SlackIntegration

log = structlog.get_logger("baton.slack")

SLACK_TIMEOUT = 5.0


class SlackError(Exception):
    """Slack's Web API said no, or could not be reached."""


class SlackWeb:
    """Slack's Web API and response URLs, for the integration in the config."""

    def __init__(self, slack: SlackIntegration | None):
        self.slack = slack

    async def update_message(self, origin: Origin, line: str) -> None:
        """Replace the message's buttons with the outcome.

        chat.update with the message's channel and ts first: the page is the bot's own message, so the bot token
        (chat:write, which paging needs anyway) may update it at any time and Slack answers `ok` or an error. The
        payload's `response_url` is the fallback (`replace_original: true`): it needs no token, but it works only
        five times within 30 minutes of the click, and a modal can stay open longer than that.

        Both replace the whole message, so the original blocks are sent back without the buttons. A modal's
        submission does not carry the message: it was kept, for every intake, when the modal opened
        (`gateway.slack.originals`); when it could not be, only the outcome line is put back.
        """
        blocks = without_buttons(origin.blocks, line)
        body = {"text": origin.text or line, "blocks": blocks}
        if origin.channel and origin.ts:
            try:
                await self.api("chat.update", {"channel": origin.channel, "ts": origin.ts, **body})
                return
            except SlackError as e:
                log.warning("chat.update failed; trying response_url", error=str(e))
        await self.respond(origin.response_url, {"replace_original": True, **body})

    async def api(self, method: str, body: dict[str, Any], timeout: float = SLACK_TIMEOUT) -> dict[str, Any]:
        """A Slack Web API call with the bot token; raises SlackError unless Slack answers `ok`."""
        assert self.slack is not None
        token = self.slack.bot_token.reveal()
        if not token:
            raise SlackError(f"the Slack bot token is not set ({self.slack.bot_token!r})")
        try:
            async with httpx.AsyncClient(timeout=timeout) as http:
                resp = await http.post(
                    f"{self.slack.api_url.rstrip('/')}/{method}",
                    content=json.dumps(body).encode(),
                    headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json; charset=utf-8"},
                )
            answer = resp.json()
        except (httpx.HTTPError, ValueError) as e:
            raise SlackError(f"Slack {method} failed: {type(e).__name__}") from None
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else None
            raise SlackError(f"Slack {method} answered {error or f'HTTP {resp.status_code}'}")
        return answer

    async def respond(self, response_url: str | None, body: dict[str, Any]) -> None:
        """Post to an interaction's or a command's `response_url` (no token: the URL is the credential)."""
        if not response_url:
            log.warning("no response_url to answer on", text=body.get("text"))
            return
        try:
            async with httpx.AsyncClient(timeout=SLACK_TIMEOUT) as http:
                resp = await http.post(response_url, json=body)
            if resp.status_code >= 400:
                log.warning("response_url refused the answer", status=resp.status_code)
        except httpx.HTTPError as e:
            log.warning("response_url unreachable", error=type(e).__name__)
