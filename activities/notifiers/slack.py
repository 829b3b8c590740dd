"""The Slack notifier: a direct message from the app (chat.postMessage to the person's member id) in Block Kit.

Updates and recovery questions go into the thread of the first page, so one incident is one conversation.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from activities.http_rules import retry_after, retryable_exception, retryable_status
from activities.notifiers import render
from activities.notifiers.base import NotifierError, NotifierReceipt, NotifyEnv, headline
from incident import display, slack_contract
from incident.config import Person
from incident.models import Page, Recipient
from incident.slack_contract import ButtonValue, esc, esc_href

PERMANENT = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "missing_scope", "no_permission"}
    | {"channel_not_found", "user_not_found", "is_archived", "not_in_channel"}
    | {"invalid_blocks", "invalid_arguments", "msg_too_long", "no_text"}
)
"""Errors another attempt cannot fix: the token, the member id or the message itself is wrong. Anything else
(`ratelimited`, `internal_error`, `fatal_error`, …) is retried."""

HEADER_MAX = 150
SECTION_MAX = 3000


def mlink(href: str, label: str) -> str:
    if not render.safe_href(href):
        return esc(display.one_line(f"{label} ({href})"))
    return f"<{esc_href(href)}|{esc(display.one_line(label)).replace('|', '¦')}>"


def code(s: str) -> str:
    """Inline code; a backtick inside would end it early."""
    return "`" + esc(display.one_line(s)).replace("`", "'") + "`"


def _cut(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


BULLET_INDENT = "    "
"""Where a bullet's continuation lines start: under its text, never where a bullet would."""


def _section(title: str, lines: list[str]) -> dict[str, Any]:
    """`lines` are mrkdwn, escaped with `BULLET_INDENT` for what continues on another line."""
    body = f"*{title}*\n" + "\n".join(f"• {line}" for line in lines)
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(body, SECTION_MAX)}}


def button_value(page: Page, approval: bool = False) -> str:
    """What the interaction handler needs to find the incident: its id, the workflow behind it, the approval."""
    return slack_contract.encode_button(
        ButtonValue(page.incident_id, page.workflow_id, page.approval_id if approval else None)
    )


def actions(page: Page, link: str) -> dict[str, Any]:
    value = button_value(page)
    return {
        "type": "actions",
        "block_id": slack_contract.ACTIONS_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": slack_contract.ACK,
                "text": {"type": "plain_text", "text": "Acknowledge"},
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": slack_contract.RESOLVE,
                "text": {"type": "plain_text", "text": "Resolve"},
                "value": value,
            },
            {
                "type": "button",
                "action_id": slack_contract.TAKE_LEAD,
                "text": {"type": "plain_text", "text": "Take lead"},
                "value": value,
            },
            {
                "type": "button",
                "action_id": slack_contract.OPEN,
                "text": {"type": "plain_text", "text": "Open incident"},
                "url": link,
            },
        ],
    }


def blocks(page: Page, link: str, tz: str = "UTC") -> list[dict[str, Any]]:
    """Header, facts, suspects, metric and log highlights, links, and the buttons (not on updates: the buttons
    are already on the first page of the thread)."""
    title = headline(page) if page.kind != "update" else f"Update: {headline(page)}"
    out: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_MAX)}}]
    if intro := render.intro(page):
        text = "\n".join(esc(line) for line in intro.split("\n"))  # baton's own lines (an approval's question)
        out.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_MAX)}})
    facts = render.fields(page, tz)[:5]  # service, severity, status, lead, level: the rest is in the context line
    out.append(
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{esc(value)}"} for name, value in facts]}
    )
    ctx = page.context if page.kind not in render.BRIEF else None
    if ctx and ctx.suspects:
        out.append(_section("Suspects", [esc(s.text, BULLET_INDENT) for s in ctx.suspects]))
    if ctx and ctx.metrics:
        lines = [
            esc(render.metric_line(m), BULLET_INDENT) + (f" {mlink(m.link, 'graph')}" if m.link else "")
            for m in ctx.metrics
        ]
        out.append(_section("Metrics", lines))
    if ctx and ctx.logs:
        lines = [code(render.log_line(t)) for t in ctx.logs.top]
        if ctx.logs.link:
            lines.append(mlink(ctx.logs.link, "All matching logs"))
        out.append(_section(f"Logs ({ctx.logs.total:,} lines matched)", lines))
    context = [
        f"Alerts: {page.alert_count} · Opened {esc(render.opened(page, tz))}",
        " · ".join(mlink(lk.href, lk.text) for lk in render.links(page, link)),
    ]
    if missing := render.missing_line(ctx):
        context.append(f"⚠ {esc(missing)}")
    out.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _cut(t, SECTION_MAX)} for t in context]})
    if page.kind == "approval":
        out.append(approval_actions(page))
    elif page.kind in ("page", "recovered"):
        out.append(actions(page, link))
    return out


def approval_actions(page: Page) -> dict[str, Any]:
    """Approve and Deny for one pending approval; the interaction handler finds it by the value."""
    value = button_value(page, approval=True)
    return {
        "type": "actions",
        "block_id": slack_contract.APPROVAL_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": slack_contract.APPROVE,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": slack_contract.DENY,
                "text": {"type": "plain_text", "text": "Deny"},
                "style": "danger",
                "value": value,
            },
        ],
    }


def message(page: Page, channel: str, link: str, tz: str = "UTC") -> dict[str, Any]:
    """The chat.postMessage body; into the first page's thread for updates and recovery questions."""
    body: dict[str, Any] = {
        "channel": channel,
        "text": esc(headline(page)),
        "blocks": blocks(page, link, tz),
        "unfurl_links": False,
        "unfurl_media": False,
    }
    if page.kind != "page" and page.thread:
        thread_channel, _, thread_ts = page.thread.partition(":")
        if thread_ts:
            body["channel"] = thread_channel
            body["thread_ts"] = thread_ts
            if page.kind in ("recovered", "approval"):
                body["reply_broadcast"] = True  # a question that needs an answer: show it in the DM too
    return body


async def send_slack(
    env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str
) -> NotifierReceipt:
    slack = env.config.integrations.slack
    if slack is None or not person.slack:
        raise NotifierError("slack is not configured for this person (integrations.slack and slack: member id)", False)
    token = slack.bot_token.reveal()
    if not token:
        raise NotifierError(f"slack bot token is not set ({slack.bot_token!r})", retryable=False)
    body = message(page, person.slack, link, person.timezone)
    try:
        resp = await env.http.post(
            f"{slack.api_url.rstrip('/')}/chat.postMessage",
            content=json.dumps(body).encode(),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": "baton",
            },
            timeout=10.0,
        )
    except httpx.HTTPError as e:
        raise NotifierError(f"slack unreachable: {type(e).__name__}", retryable_exception(e)) from None
    if resp.status_code == 429:
        wait = retry_after(resp.headers)
        raise NotifierError(f"slack rate limited (Retry-After: {'?' if wait is None else f'{wait:g}'} s)")
    if resp.status_code >= 400:
        raise NotifierError(f"slack answered HTTP {resp.status_code}", retryable=retryable_status(resp.status_code))
    try:
        answer = resp.json()
    except ValueError:
        raise NotifierError(f"slack answered HTTP {resp.status_code} without JSON") from None
    if not answer.get("ok"):
        error = str(answer.get("error") or "unknown_error")
        raise NotifierError(f"slack refused the message: {error}", retryable=error not in PERMANENT)
    channel, ts = str(answer.get("channel") or body["channel"]), str(answer.get("ts") or "")
    root = body.get("thread_ts") or ts
    return NotifierReceipt(detail=f"slack ts {ts} in {channel}", thread=f"{channel}:{root}")
