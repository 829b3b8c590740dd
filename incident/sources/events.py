"""The PagerDuty Events API v2 shape, accepted at `POST /v1/events`, normalised into an Alert."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incident.config import Config
from incident.models import Alert, AlertAction, Link
from incident.sources.common import IdText, content_id, place


class EventPayload(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    custom_details: dict[str, Any] | str | None = None


class EventLink(BaseModel):
    href: str = Field(min_length=1)
    text: str = ""


class EventImage(BaseModel):
    src: str = Field(min_length=1)
    href: str | None = None
    alt: str | None = None


class Event(BaseModel):
    """One PagerDuty-style event. `routing_key` names the baton service (unknown keys go to the default)."""

    routing_key: IdText = Field(max_length=255)
    event_action: AlertAction
    dedup_key: IdText | None = Field(None, max_length=255)
    payload: EventPayload | None = None
    links: list[EventLink] = Field(default_factory=list)
    images: list[EventImage] = Field(default_factory=list)
    client: str | None = None
    client_url: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> Event:
        if self.event_action is AlertAction.TRIGGER and self.payload is None:
            raise ValueError("payload is required when event_action is trigger")
        if self.event_action is not AlertAction.TRIGGER and not self.dedup_key:
            raise ValueError(f"dedup_key is required when event_action is {self.event_action.value}")
        return self


def event_to_alert(event: Event, config: Config, received_at: datetime) -> Alert:
    """`routing_key` naming a service sends the event there; otherwise the routing rules and labels decide.
    A trigger without a dedup key gets one from its content, so a retried delivery joins the same incident."""
    raw = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    delivery = content_id(raw)
    dedup_key = event.dedup_key or delivery
    p = event.payload
    labels: dict[str, str] = {"routing_key": event.routing_key}
    if p:
        labels |= {
            k: v
            for k, v in (("source", p.source), ("component", p.component), ("group", p.group), ("class", p.class_))
            if v
        }
    if event.client:
        labels["client"] = event.client
    where = place(config, labels, service_hint=event.routing_key, source_severity=p.severity if p else None)
    links = [Link(href=lk.href, text=lk.text) for lk in event.links]
    if event.client_url:
        links.append(Link(href=event.client_url, text=event.client or "source"))
    links += [Link(href=im.href or im.src, text=im.alt or "image") for im in event.images]
    details: dict[str, Any] = {}
    if p and p.custom_details is not None:
        details = p.custom_details if isinstance(p.custom_details, dict) else {"details": p.custom_details}
    return Alert(
        source="events",
        scope=f"events:{event.routing_key}",
        dedup_key=dedup_key,
        event_id=delivery,
        action=event.event_action,
        summary=p.summary if p else f"{event.event_action.value} for {dedup_key}",
        service=where.service,
        severity=where.severity,
        source_severity=p.severity if p else None,
        origin=p.source if p else None,
        component=p.component if p else None,
        group=p.group if p else None,
        alert_class=p.class_ if p else None,
        details=details,
        labels=labels,
        links=links,
        occurred_at=p.timestamp if p else None,
        received_at=received_at,
    )
