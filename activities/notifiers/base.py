"""What every notifier returns or raises."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

import httpx

from incident import display
from incident.config import Config
from incident.models import Page


@dataclass
class NotifierReceipt:
    detail: str = ""
    thread: str | None = None
    """Where later updates to this page go (Slack `channel:ts`, an email Message-ID...), if the method threads."""


@dataclass
class NotifyEnv:
    """What every notifier may use: one HTTP client for the worker, and the worker's config (integrations)."""

    http: httpx.AsyncClient
    config: Config


class NotifierError(Exception):
    """A delivery failed. `retryable` says whether trying the same method again may help."""

    def __init__(self, message: str, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


def headline(page: Page) -> str:
    """One line a responder reads on a lock screen: the title as its source wrote it, on one line, with its
    control and invisible characters shown as escapes."""
    line = f"[{page.severity.value}] {page.incident_id} {page.service}: {display.one_line(page.title)}"
    if page.kind == "page" and page.late_since is not None:
        return f"LATE {line}"
    if page.kind == "status":
        return f"{page.status.value.upper()} {line}"
    if page.kind == "recovered":
        return f"RECOVERED {line} (every alert recovered: confirm with `baton resolve {page.incident_id}`)"
    if page.kind == "approval":
        return f"APPROVAL {page.approval_id} NEEDED {line}"
    if page.kind == "notice":
        return f"UPDATE {line}"
    return line


def page_notes(page: Page) -> list[str]:
    """What a page says before its facts when its delivery went wrong: that it is late, who before was unreachable."""
    notes = []
    if page.late_since is not None:
        due = page.late_since.astimezone(UTC).strftime("%H:%M UTC")
        notes.append(
            f"This page is late: it could not be delivered before {due}, when level {page.level}'s time ran out. "
            "Nobody has acknowledged the incident yet."
        )
    if page.unreachable:
        notes.append(page.unreachable)
    if page.notice:  # a page outside the escalation says why it comes (an incident commander's)
        notes.append(page.notice)
    return notes
