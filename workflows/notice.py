"""A notice to the people a config names (`user:NAME`, `schedule:NAME`): each by their first contact method that
delivers it, through the notifiers, never as a page. A notice that cannot be delivered is dropped, not retried
forever: it tells, it decides nothing."""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from incident.models import Page, Severity, Status
    from workflows.messages import PageRequest, TargetsRequest, TargetsResult

NOTICE_RETRY = RetryPolicy(maximum_attempts=5, maximum_interval=timedelta(minutes=1))


async def tell(targets: list[str], text: str, about: str, service: str) -> None:
    """Send `text` to everyone `targets` names now; `about` is what the notice is filed under (its incident id)."""
    now = workflow.now()
    try:
        found: TargetsResult = await workflow.execute_activity(
            "lookup_targets",
            TargetsRequest(targets=targets, at=now),
            result_type=TargetsResult,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=NOTICE_RETRY,
        )
    except ActivityError:
        return
    await deliver(found, text, about, service, now)


async def deliver(found: TargetsResult, text: str, about: str, service: str, at: datetime) -> None:
    """Send `text` to each of `found`, by their first contact method that delivers it; `at` is when it was decided
    (the notice's time)."""
    page = Page(
        kind="notice",
        incident_id=about,
        workflow_id=workflow.info().workflow_id,
        title=text.splitlines()[0],
        service=service,
        severity=Severity.SEV4,
        status=Status.TRIGGERED,
        level=0,
        levels=0,
        cycle=0,
        alert_count=0,
        opened_at=at,
        notice=text,
    )
    for recipient in found.recipients:
        for method in recipient.methods:
            try:
                await workflow.execute_activity(
                    "send_page",
                    PageRequest(recipient=recipient, method=method, page=page),
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=NOTICE_RETRY,
                    summary=f"tell {recipient.person} via {method}",
                )
                break
            except ActivityError:
                continue
