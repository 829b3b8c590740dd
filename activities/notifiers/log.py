"""The log notifier: the page goes to the worker's log. The last resort, and what a fresh install uses."""

from __future__ import annotations

import structlog

from activities.notifiers.base import Delivered, NotifyEnv, headline
from incident.config import Person
from incident.models import Page, Recipient

log = structlog.get_logger("baton.page")


async def send_log(env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str) -> Delivered:
    log.warning(
        ("PAGE " if page.kind == "page" else "") + headline(page),
        to=recipient.person,
        level=f"{page.level}/{page.levels}",
        alerts=page.alert_count,
        runbook=page.runbook,
        link=link,
        page_id=key,
    )
    return Delivered(detail="written to the worker log")
