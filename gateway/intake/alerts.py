"""`/v1/events` and `/v1/alerts/*`: alert sources POST here. A 2xx means the event is durably in Temporal.

Every alert is checked to cross into Temporal unchanged before anything is sent (gateway.intake.crossing): one that
would not is refused by itself. A request whose alerts are all refused is a 422; otherwise the others are
recorded, and the answer lists the refused ones (`refused`), so one bad alert never blocks its group.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway.answers import answers
from gateway.client import Unavailable
from gateway.coalescer import AlertTooLarge, Backlogged
from gateway.intake.crossing import problem
from gateway.intake.dependencies import Intake, IntakeDep, credential
from gateway.intake.errors import RETRY_LATER, ApiError
from gateway.intake.guard import GuardedRoute
from gateway.metrics import ALERTS_RECEIVED
from incident.ids import workflow_id_for
from incident.models import Alert, AlertAction
from incident.sources.alertmanager import AmWebhook, webhook_to_alerts
from incident.sources.datadog import DatadogEvent
from incident.sources.datadog import event_to_alert as datadog_to_alert
from incident.sources.events import Event, event_to_alert

log = structlog.get_logger("baton.intake")
router = APIRouter(tags=["alerts"], route_class=GuardedRoute)
ANSWERS = answers(400, 401, 403, 404, 413, 422, 503)


class Accepted(BaseModel):
    status: str = "success"
    message: str
    dedup_key: str


class RefusedAlert(BaseModel):
    index: int = Field(description="the alert's position in the request's `alerts`")
    alert_key: str
    message: str


class Recorded(BaseModel):
    status: str = "success"
    alerts: int = Field(description="alerts recorded")
    incidents: int
    refused: list[RefusedAlert] | None = Field(None, description="alerts refused one by one (none recorded)")
    suppressed: int | None = Field(None, description="alerts recorded by an open maintenance window: nobody paged")


def crossing(alerts: list[Alert]) -> tuple[list[Alert], list[RefusedAlert]]:
    """Split the alerts into those a workflow takes exactly and those it could not (refused, with why)."""
    good: list[Alert] = []
    refused: list[RefusedAlert] = []
    for i, alert in enumerate(alerts):
        why = problem(alert)
        if why is None:
            good.append(alert)
        else:
            refused.append(RefusedAlert(index=i, alert_key=alert.key.encode("utf-8", "replace").decode(), message=why))
            ALERTS_RECEIVED.labels(alert.source, "refused").inc()
    if not good:
        first = refused[0]
        problems = [{"field": f"alerts.{r.index}", "message": r.message} for r in refused]
        raise ApiError(422, "invalid_event", f"alerts.{first.index}: {first.message}", problems=problems)
    return good, refused


async def suppressing(intake: Intake, alerts: list[Alert]) -> tuple[list[Alert], int]:
    """Hand the alerts an open maintenance window matches to it: the rest, and how many triggers it took (they
    page no one). A resolve or acknowledge it matches goes on as usual too: an incident open before the window
    hears of it. 503 when a window cannot record what it matches, so the source retries."""
    windows = intake.windows.cache
    if windows is None:
        return alerts, 0
    taken: dict[tuple[str, str], list[Alert]] = {}
    for alert in alerts:
        if (window_id := await windows.matching(alert)) is not None:
            wid = workflow_id_for(alert.dedup_scope, alert.dedup_key)
            taken.setdefault((window_id, wid), []).append(alert)
    if not taken:
        return alerts, 0
    try:
        took = await asyncio.gather(*(intake.windows.suppress(w, wid, batch) for (w, wid), batch in taken.items()))
    except Unavailable:
        raise ApiError(
            503, "temporal_unavailable", "the maintenance window could not record the event; retry", RETRY_LATER
        ) from None
    held = {id(a) for ok, batch in zip(took, taken.values(), strict=True) if ok for a in batch}
    suppressed = [a for a in alerts if id(a) in held and a.action is AlertAction.TRIGGER]
    for alert in suppressed:
        ALERTS_RECEIVED.labels(alert.source, "suppressed").inc()
    rest = [a for a in alerts if not (id(a) in held and a.action is AlertAction.TRIGGER)]
    return rest, len(suppressed)


async def record(intake: Intake, alerts: list[Alert]) -> int:
    """Hand alerts to their incidents; returns how many incidents took some. 503 unless all are durable."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(workflow_id_for(alert.dedup_scope, alert.dedup_key), []).append(alert)
    if not groups:
        return 0
    try:
        submitted = (
            intake.coalescer.submit(wid, batch, intake.policies[batch[0].service]) for wid, batch in groups.items()
        )
        taken = await counted(alerts, asyncio.gather(*submitted))
    except Unavailable:
        raise ApiError(
            503, "temporal_unavailable", "the event could not be recorded durably; retry", RETRY_LATER
        ) from None
    except AlertTooLarge as e:
        raise ApiError(413, "alert_too_large", str(e)) from None
    except Backlogged as e:
        raise ApiError(503, "storm_backlog", f"{e}; retry", RETRY_LATER) from None
    except Exception as e:
        # Never a 500 and never a lost alert: whatever went wrong, the source should keep it and retry. Logged
        # without the traceback's locals: they hold the alerts.
        log.error("recording alerts failed", error=f"{type(e).__name__}: {str(e)[:300]}")
        raise ApiError(503, "not_recorded", "the event could not be recorded; retry", RETRY_LATER) from None
    return sum(taken)


async def counted(alerts: list[Alert], recording: Awaitable[list[bool]]) -> list[bool]:
    """`recording`, with its alerts counted as accepted (durable) or not: unavailable (503) or refused (413)."""
    try:
        taken = await recording
    except AlertTooLarge:
        outcome = "refused"
        raise
    except BaseException:
        outcome = "unavailable"
        raise
    else:
        outcome = "accepted"
    finally:
        for alert in alerts:
            ALERTS_RECEIVED.labels(alert.source, outcome).inc()
    return taken


@router.post(
    "/v1/events",
    status_code=202,
    response_model=Accepted,
    responses=ANSWERS,
    dependencies=[Depends(credential("events"))],
)
async def post_event(event: Event, intake: IntakeDep) -> Accepted:
    """A PagerDuty Events API v2 event: `trigger` opens or joins the incident for `dedup_key`."""
    alert = event_to_alert(event, intake.config, datetime.now(UTC))
    crossing([alert])
    rest, suppressed = await suppressing(intake, [alert])
    if suppressed:
        return Accepted(message="Event recorded by a maintenance window; nobody paged", dedup_key=alert.dedup_key)
    taken = await record(intake, rest)
    message = "Event processed" if taken else f"no open incident for this dedup_key; {alert.action} ignored"
    return Accepted(message=message, dedup_key=alert.dedup_key)


@router.post(
    "/v1/alerts/alertmanager",
    status_code=202,
    response_model=Recorded,
    response_model_exclude_none=True,
    responses=ANSWERS,
    dependencies=[Depends(credential("alertmanager"))],
)
async def post_alertmanager(hook: AmWebhook, intake: IntakeDep) -> Recorded:
    """Alertmanager's webhook (v4): one incident per group, or per alert with `incident_per: alert`."""
    return await record_all(intake, webhook_to_alerts(hook, intake.config, datetime.now(UTC), "alertmanager"))


@router.post(
    "/v1/alerts/grafana",
    status_code=202,
    response_model=Recorded,
    response_model_exclude_none=True,
    responses=ANSWERS,
    dependencies=[Depends(credential("grafana"))],
)
async def post_grafana(hook: AmWebhook, intake: IntakeDep) -> Recorded:
    """Grafana alerting's webhook contact point (the Alertmanager shape with Grafana's additions)."""
    return await record_all(intake, webhook_to_alerts(hook, intake.config, datetime.now(UTC), "grafana"))


@router.post(
    "/v1/alerts/datadog",
    status_code=202,
    response_model=Recorded,
    response_model_exclude_none=True,
    responses=ANSWERS,
    dependencies=[Depends(credential("datadog", query_token=True))],
)
async def post_datadog(event: DatadogEvent, intake: IntakeDep) -> Recorded:
    """A Datadog monitor notification through the Webhooks integration (template in docs/datadog.md)."""
    raw = event.model_dump(mode="json", exclude_none=True)
    return await record_all(intake, [datadog_to_alert(event, intake.config, raw, datetime.now(UTC))])


async def record_all(intake: Intake, alerts: list[Alert]) -> Recorded:
    good, refused = crossing(alerts)
    rest, suppressed = await suppressing(intake, good)
    incidents = await record(intake, rest)
    return Recorded(alerts=len(good), incidents=incidents, refused=refused or None, suppressed=suppressed or None)
