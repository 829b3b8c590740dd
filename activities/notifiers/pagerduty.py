"""The PagerDuty notifier: pages forwarded to the Events API v2 with the person's routing key.

For teams whose phones ring through PagerDuty. The dedup key is one per baton incident (`dedup_key`), so every page
of one incident (retries, later levels, repeats) lands on one PagerDuty alert instead of opening new ones, and the
next incident on the same baton dedup key opens a new one. When baton's incident is acknowledged or resolved, a
`status` follow-up sends `acknowledge` or `resolve` on the same key, so PagerDuty stops escalating too.
"""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from activities.http_rules import excerpt, retryable_exception, retryable_status
from activities.notifiers import render
from activities.notifiers.base import NotifierError, NotifierReceipt, NotifyEnv, headline, page_notes
from incident.config import PagerDutyIntegration, Person
from incident.models import Page, Recipient, Severity, Status

SEVERITY = {
    Severity.SEV0: "critical",
    Severity.SEV1: "critical",
    Severity.SEV2: "error",
    Severity.SEV3: "warning",
    Severity.SEV4: "info",
}
SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
"""PagerDuty refuses longer dedup keys."""
ACTIONS = {Status.ACKNOWLEDGED: "acknowledge", Status.RESOLVED: "resolve"}
"""What a `status` follow-up sends for baton's status."""


def dedup_key(page: Page) -> str:
    """`baton/<incident id>/<hash of the workflow id>`: one per incident (the workflow id is reused by the next
    incident on the same key, the incident id is not), told apart across deployments, and short."""
    digest = hashlib.sha256(page.workflow_id.encode()).hexdigest()[:16]
    return f"baton/{page.incident_id}/{digest}"[:DEDUP_KEY_MAX]


def event(page: Page, routing_key: str, link: str) -> dict[str, Any]:
    """An Events v2 `trigger` carrying what a responder needs in PagerDuty's incident view."""
    ctx = page.context
    details: dict[str, Any] = {
        "incident_id": page.incident_id,
        "service": page.service,
        "level": f"{page.level} of {page.levels}",
        "alert_count": page.alert_count,
        "suspects": [s.text for s in ctx.suspects] if ctx else [],
        "metrics": [render.metric_line(m) for m in ctx.metrics] if ctx else [],
    }
    if ctx and ctx.missing:
        details["missing"] = ctx.missing
    if notes := page_notes(page):
        details["delivery"] = notes
    summary = headline(page)
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(page),
        "payload": {
            "summary": summary if len(summary) <= SUMMARY_MAX else summary[: SUMMARY_MAX - 1] + "…",
            "source": "baton",
            "severity": SEVERITY[page.severity],
            "timestamp": page.opened_at.isoformat(),
            "component": page.service,
            "custom_details": details,
        },
        "links": [{"href": lk.href, "text": lk.text} for lk in render.links(page, link) if render.safe_href(lk.href)],
        "client": "baton",
        "client_url": link,
    }


async def send_pagerduty(
    env: NotifyEnv, person: Person, recipient: Recipient, page: Page, key: str, link: str
) -> NotifierReceipt:
    if page.kind not in ("page", "status") or (page.kind == "status" and page.status not in ACTIONS):
        return NotifierReceipt(detail="not forwarded")  # PagerDuty keeps its own incident; only pages ring phones
    routing_key = person.pagerduty.reveal() if person.pagerduty else None
    if not routing_key:
        raise NotifierError(f"no PagerDuty routing key for this person ({person.pagerduty!r})", retryable=False)
    url = (env.config.integrations.pagerduty or PagerDutyIntegration()).url
    if page.kind == "status":
        body: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": ACTIONS[page.status],
            "dedup_key": dedup_key(page),
        }
    else:
        body = event(page, routing_key, link)
    try:
        resp = await env.http.post(url, json=body, headers={"User-Agent": "baton"}, timeout=10.0)
    except httpx.HTTPError as e:
        raise NotifierError(f"pagerduty unreachable: {type(e).__name__}", retryable_exception(e)) from None
    if resp.status_code >= 300:
        reason = _reason(resp)
        raise NotifierError(f"pagerduty answered {resp.status_code}{reason}", retryable_status(resp.status_code))
    return NotifierReceipt(detail=f"pagerduty accepted {body['event_action']} (dedup_key {body['dedup_key']})")


def _reason(resp: httpx.Response) -> str:
    """PagerDuty's own explanation of a refusal (`message` and `errors`), kept short."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [str(body.get("message") or "")] + [str(e) for e in body.get("errors") or []]
    text = "; ".join(p for p in parts if p)
    return f": {excerpt(text)}" if text else ""
