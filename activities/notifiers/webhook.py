"""The generic webhook notifier: a JSON POST per page, with an Idempotency-Key so receivers can drop repeats."""

from __future__ import annotations

import httpx

from activities.notifiers.base import Delivered, NotifierError, NotifyEnv, headline
from incident.config import Person
from incident.models import Page, Recipient


def payload(page: Page, recipient: Recipient, key: str, link: str) -> dict[str, object]:
    return {
        "type": page.kind,
        "page_id": key,
        "incident_id": page.incident_id,
        "workflow_id": page.workflow_id,
        "level": page.level,
        "levels": page.levels,
        "cycle": page.cycle,
        "recipient": recipient.person,
        "via": recipient.via,
        "summary": headline(page),
        "title": page.title,
        "service": page.service,
        "severity": page.severity.value,
        "status": page.status.value,
        "alert_count": page.alert_count,
        "opened_at": page.opened_at.isoformat(),
        "links": {"incident": link, "runbook": page.runbook, "source": [lk.model_dump() for lk in page.links]},
    }


async def send_webhook(
    env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str
) -> Delivered:
    assert person.webhook is not None
    try:
        resp = await env.http.post(
            person.webhook,
            json=payload(page, recipient, key, link),
            headers={"Idempotency-Key": key, "User-Agent": "baton"},
            timeout=10.0,
        )
    except httpx.HTTPError as e:
        raise NotifierError(f"webhook unreachable: {type(e).__name__}") from None
    if resp.status_code >= 400:
        retryable = resp.status_code >= 500 or resp.status_code in (408, 429)
        raise NotifierError(f"webhook answered {resp.status_code}", retryable=retryable)
    return Delivered(detail=f"webhook answered {resp.status_code}")
