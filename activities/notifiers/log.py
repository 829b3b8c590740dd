"""The log notifier: the page goes to the worker's log. The last resort, and what a fresh install uses."""

from __future__ import annotations

import structlog

from activities.notifiers import render
from activities.notifiers.base import NotifierReceipt, NotifyEnv
from incident.config import Person
from incident.models import Page, Recipient

log = structlog.get_logger("baton.page")


async def send_log(
    env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str
) -> NotifierReceipt:
    """One record per page: the whole rendered page as the message, so it reads the same as an email."""
    log.warning(
        ("PAGE " if page.kind == "page" else "") + render.text(page, link, person.timezone).rstrip("\n"),
        to=recipient.person,
        incident=page.incident_id,
        page_id=key,
    )
    return NotifierReceipt(detail="written to the worker log")
