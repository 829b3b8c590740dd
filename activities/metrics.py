"""What the worker counts about pages, recorded where a page's outcome is known: in the `send_page` activity.

Never in workflow code: a workflow replays, and would count again every time it does. An activity attempt runs
once; a page that Temporal retries counts each attempt's outcome (a failed attempt, then the delivery).
docs/observability.md lists what each metric means.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

from prometheus_client import Counter, Histogram

from activities.notifiers import NOTIFIERS
from incident.models import Page

PAGES = Counter(
    "baton_pages",
    "Page deliveries by contact method, kind (page, approval, update, notice, recovered, status) and outcome: sent, "
    "failed (the receiver failed or timed out: tried again), refused (no attempt by that method can succeed).",
    ["method", "kind", "outcome"],
)
ALERT_TO_PAGE = Histogram(
    "baton_alert_to_page_seconds",
    "From the incident's opening to each delivery of its first-level page on the first pass (one observation per "
    "person reached that way).",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800),
)
ESCALATIONS = Counter(
    "baton_escalations",
    "Pages delivered to an escalation level past the first, or on a repeated pass: the incident escalated.",
    ["method"],
)
PAGES_LATE = Counter(
    "baton_pages_late",
    "Pages delivered after their level's time had run out (the next level was already being paged).",
    ["method"],
)
PAGE_LATENESS = Histogram(
    "baton_page_lateness_seconds",
    "How long after its level's time ran out a late page was delivered.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)


OUTCOMES = ("sent", "failed", "refused")


def _start_at_zero() -> None:
    """Every method's series exist from the start at 0: a counter that first appears at 1 shows no increase to
    `increase()` and `rate()`, so the first failed page, or the first delivery after an outage, would not count."""
    for method in NOTIFIERS:
        for kind in get_args(Page.model_fields["kind"].annotation):
            for outcome in OUTCOMES:
                PAGES.labels(method, kind, outcome)
        ESCALATIONS.labels(method)
        PAGES_LATE.labels(method)


_start_at_zero()


def page_sent(method: str, page: Page, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    PAGES.labels(method, page.kind, "sent").inc()
    if page.kind != "page":
        return
    if page.level <= 1 and page.cycle == 0:
        ALERT_TO_PAGE.observe(max(0.0, (now - _utc(page.opened_at)).total_seconds()))
    else:
        ESCALATIONS.labels(method).inc()
    if page.late_since is not None:
        PAGES_LATE.labels(method).inc()
        PAGE_LATENESS.observe(max(0.0, (now - _utc(page.late_since)).total_seconds()))


def page_failed(method: str, page: Page, retryable: bool) -> None:
    PAGES.labels(method, page.kind, "failed" if retryable else "refused").inc()


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)
