"""`/v1/events` and `/v1/alerts/*`: alert sources POST here. A 2xx means the event is durably in Temporal."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from gateway.client import Unavailable
from gateway.coalescer import AlertTooLarge, Backlogged
from gateway.intake.dependencies import Intake, IntakeDep, credential
from gateway.intake.errors import RETRY_LATER, ApiError
from incident.ids import workflow_id_for
from incident.models import Alert
from incident.sources.alertmanager import AmWebhook, webhook_to_alerts
from incident.sources.datadog import DatadogEvent
from incident.sources.datadog import event_to_alert as datadog_to_alert
from incident.sources.events import Event, event_to_alert

log = structlog.get_logger("baton.intake")
router = APIRouter(tags=["alerts"])


class Accepted(BaseModel):
    status: str = "success"
    message: str
    dedup_key: str


class Recorded(BaseModel):
    status: str = "success"
    alerts: int
    incidents: int


async def record(intake: Intake, alerts: list[Alert]) -> int:
    """Hand alerts to their incidents; returns how many incidents took some. 503 unless all are durable."""
    groups: dict[str, list[Alert]] = {}
    for alert in alerts:
        groups.setdefault(workflow_id_for(alert.dedup_scope, alert.dedup_key), []).append(alert)
    try:
        taken = await asyncio.gather(
            *(intake.coalescer.submit(wid, batch, intake.policies[batch[0].service]) for wid, batch in groups.items())
        )
    except Unavailable:
        raise ApiError(
            503, "temporal_unavailable", "the event could not be recorded durably; retry", RETRY_LATER
        ) from None
    except AlertTooLarge as e:
        raise ApiError(413, "alert_too_large", str(e)) from None
    except Backlogged as e:
        raise ApiError(503, "storm_backlog", f"{e}; retry", RETRY_LATER) from None
    except Exception:
        # Never a 500 and never a lost alert: whatever went wrong, the source should keep it and retry.
        log.exception("recording alerts failed")
        raise ApiError(503, "not_recorded", "the event could not be recorded; retry", RETRY_LATER) from None
    return sum(taken)


@router.post("/v1/events", status_code=202, response_model=Accepted, dependencies=[Depends(credential("events"))])
async def post_event(event: Event, intake: IntakeDep) -> Accepted:
    """A PagerDuty Events API v2 event: `trigger` opens or joins the incident for `dedup_key`."""
    alert = event_to_alert(event, intake.config, datetime.now(UTC))
    taken = await record(intake, [alert])
    message = "Event processed" if taken else f"no open incident for this dedup_key; {alert.action} ignored"
    return Accepted(message=message, dedup_key=alert.dedup_key)


@router.post(
    "/v1/alerts/alertmanager",
    status_code=202,
    response_model=Recorded,
    dependencies=[Depends(credential("alertmanager"))],
)
async def post_alertmanager(hook: AmWebhook, intake: IntakeDep) -> Recorded:
    """Alertmanager's webhook (v4): one incident per group, or per alert with `incident_per: alert`."""
    alerts = webhook_to_alerts(hook, intake.config, datetime.now(UTC), "alertmanager")
    return Recorded(alerts=len(alerts), incidents=await record(intake, alerts))


@router.post(
    "/v1/alerts/grafana", status_code=202, response_model=Recorded, dependencies=[Depends(credential("grafana"))]
)
async def post_grafana(hook: AmWebhook, intake: IntakeDep) -> Recorded:
    """Grafana alerting's webhook contact point (the Alertmanager shape with Grafana's additions)."""
    alerts = webhook_to_alerts(hook, intake.config, datetime.now(UTC), "grafana")
    return Recorded(alerts=len(alerts), incidents=await record(intake, alerts))


@router.post(
    "/v1/alerts/datadog",
    status_code=202,
    response_model=Recorded,
    dependencies=[Depends(credential("datadog", query_token=True))],
)
async def post_datadog(event: DatadogEvent, intake: IntakeDep) -> Recorded:
    """A Datadog monitor notification through the Webhooks integration (template in docs/datadog.md)."""
    raw = event.model_dump(mode="json", exclude_none=True)
    alert = datadog_to_alert(event, intake.config, raw, datetime.now(UTC))
    return Recorded(alerts=1, incidents=await record(intake, [alert]))
