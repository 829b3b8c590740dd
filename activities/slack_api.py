"""One call to Slack's Web API with the bot token, and what its failure means: the same rules for every activity
that talks to Slack beyond a page (the incident's channel, stakeholder updates).

Slack answers HTTP 200 with `{"ok": false, "error": ...}` for most refusals, and 429 with `Retry-After` when it
rate-limits a method; `SlackCallError` says whether another attempt may help and how long Slack asked us to wait,
so the activity's retry (Temporal's) honours it.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from activities.http_rules import excerpt, retry_after, retryable_exception, retryable_status
from incident.config import SlackIntegration

TIMEOUT = 10.0
PERMANENT = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "missing_scope", "no_permission"}
    | {"channel_not_found", "user_not_found", "is_archived", "not_in_channel", "restricted_action"}
    | {"invalid_blocks", "invalid_arguments", "msg_too_long", "no_text", "invalid_name", "invalid_name_specials"}
    | {"invalid_name_required", "invalid_name_maxlength", "name_taken", "already_in_channel", "cant_invite_self"}
)
"""Errors another attempt of the same call cannot fix (callers handle `name_taken`, `already_in_channel` as
answers); anything else (`ratelimited`, `internal_error`, `fatal_error`, …) is retried."""


class SlackCallError(Exception):
    def __init__(self, message: str, error: str, retryable: bool, wait: float | None = None) -> None:
        super().__init__(message)
        self.error = error
        """Slack's error code (`name_taken`), or `http_NNN` / `unreachable`."""
        self.retryable = retryable
        self.wait = wait
        """Seconds Slack asked us to wait before the next call (429's Retry-After), if it said."""


async def call(http: httpx.AsyncClient, slack: SlackIntegration, method: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST `body` as JSON to `method` (`conversations.create`); Slack's answer when it is `ok`."""
    token = slack.bot_token.reveal()
    if not token:
        raise SlackCallError(f"slack bot token is not set ({slack.bot_token!r})", "not_authed", retryable=False)
    try:
        resp = await http.post(
            f"{slack.api_url.rstrip('/')}/{method}",
            content=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "baton",
            },
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as e:
        raise SlackCallError(
            f"slack unreachable ({method}): {type(e).__name__}", "unreachable", retryable_exception(e)
        ) from None
    if resp.status_code == 429:
        wait = retry_after(resp.headers)
        shown = "?" if wait is None else f"{wait:g}"
        raise SlackCallError(f"slack rate limited {method} (Retry-After: {shown} s)", "ratelimited", True, wait)
    if resp.status_code >= 400:
        raise SlackCallError(
            f"slack answered HTTP {resp.status_code} to {method}: {excerpt(resp.text)}",
            f"http_{resp.status_code}",
            retryable_status(resp.status_code),
        )
    try:
        answer = resp.json()
    except ValueError:
        raise SlackCallError(f"slack answered {method} without JSON", "invalid_json", True) from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        error = str((answer.get("error") if isinstance(answer, dict) else None) or "unknown_error")
        raise SlackCallError(f"slack refused {method}: {error}", error, retryable=error not in PERMANENT)
    return answer
