"""The generic webhook notifier: a JSON POST per page, with an Idempotency-Key so receivers can drop repeats.

With `integrations.webhook` configured every request is signed, so a receiver can tell a page from baton from
anyone else's POST: `X-Baton-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>` with the timestamp in
`X-Baton-Timestamp`. Receivers check it with `verify_signature` (or its few lines in docs/paging.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import httpx

from activities.http_rules import retryable_exception, retryable_status
from activities.notifiers.base import NotifierError, NotifierReceipt, NotifyEnv, headline
from incident.config import Person
from incident.models import Page, Recipient

SCHEME = "v1"


def payload(page: Page, recipient: Recipient, key: str, link: str) -> dict[str, object]:
    return {
        "type": page.kind,
        "kind": page.kind,
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
        "lead": page.lead,
        "alert_count": page.alert_count,
        "opened_at": page.opened_at.isoformat(),
        "links": {"incident": link, "runbook": page.runbook, "source": [lk.model_dump() for lk in page.links]},
        "context": page.context.model_dump(mode="json") if page.context else None,
        "notice": page.notice,
        "approval_id": page.approval_id,
        "late": page.late_since is not None,
        "late_since": page.late_since.isoformat() if page.late_since else None,
        "unreachable": page.unreachable,
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=<hex>`: the timestamp is signed with the body, so a captured request cannot be replayed later."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def verify_signature(
    secret: str, timestamp: str, body: bytes, signature: str, tolerance_s: int = 300, now: float | None = None
) -> bool:
    """True when `signature` (the X-Baton-Signature header; several comma-separated `v1=` values are accepted,
    for secret rotation) signs exactly this `body` at `timestamp`, and the timestamp is within `tolerance_s`
    of `now`."""
    try:
        ts = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body)  # the timestamp as sent: it is what was signed
    candidates = [part.strip() for part in signature.split(",")]
    return any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates if c.startswith(f"{SCHEME}="))


async def send_webhook(
    env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str
) -> NotifierReceipt:
    if person.webhook is None:
        raise NotifierError("no webhook is set for this person", retryable=False)
    body = json.dumps(payload(page, recipient, key, link), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": key, "User-Agent": "baton"}
    if (integration := env.config.integrations.webhook) is not None:
        secret = integration.secret.reveal()
        if not secret:
            raise NotifierError(f"webhook signing secret is not set ({integration.secret!r})", retryable=False)
        timestamp = str(int(time.time()))
        headers["X-Baton-Timestamp"] = timestamp
        headers["X-Baton-Signature"] = sign(secret, timestamp, body)
    try:
        resp = await env.http.post(person.webhook, content=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as e:
        raise NotifierError(f"webhook unreachable: {type(e).__name__}", retryable_exception(e)) from None
    if resp.status_code >= 400:
        raise NotifierError(f"webhook answered {resp.status_code}", retryable=retryable_status(resp.status_code))
    return NotifierReceipt(detail=f"webhook answered {resp.status_code}")
