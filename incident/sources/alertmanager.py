"""Alertmanager's webhook (v4) and Grafana alerting's webhook, which extends it.

Default: one incident per Alertmanager group (`groupKey`), its alerts attached by fingerprint; a routing rule
with `incident_per: alert` makes one incident per alert fingerprint instead. Alertmanager re-sends a whole group
on every `group_interval`/`repeat_interval`; a repeat of an alert already seen in the same state is recognised
(fingerprint, status, startsAt) and not counted again.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from incident.config import Config
from incident.models import Alert, AlertAction, Link
from incident.sources.common import INT64, IdText, content_id, place

NOT_ENDED = "0001-01-01T00:00:00Z"


class AmAlert(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: Literal["firing", "resolved"]
    labels: dict[str, str] = Field(min_length=1)
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str
    endsAt: str = NOT_ENDED
    generatorURL: str = ""
    fingerprint: IdText = Field(max_length=255)
    # Grafana's additions
    dashboardURL: str | None = None
    panelURL: str | None = None
    silenceURL: str | None = None
    imageURL: str | None = None
    values: dict[str, Any] | None = None
    valueString: str | None = None


class AmWebhook(BaseModel):
    """The Alertmanager webhook payload, version 4. Grafana adds `orgId`, `title`, `state`, `message`."""

    model_config = ConfigDict(extra="allow")

    version: str = "4"
    groupKey: IdText = Field(max_length=10_000)
    truncatedAlerts: StrictInt = Field(0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[AmAlert] = Field(min_length=1)
    # Grafana's additions
    orgId: StrictInt | None = Field(None, ge=-INT64, lt=INT64)
    title: str | None = None
    state: str | None = None
    message: str | None = None


def summary_of(a: AmAlert) -> str:
    ann = a.annotations
    text = ann.get("summary") or ann.get("description") or ann.get("message")
    if text:
        return text
    name = a.labels.get("alertname", "alert")
    rest = ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items()) if k not in ("alertname", "severity"))
    return f"{name} ({rest})" if rest else name


def _when(text: str) -> datetime | None:
    if not text or text.startswith("0001-01-01"):
        return None
    # Go writes up to nine fractional digits; Python reads six.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _links(hook: AmWebhook, a: AmAlert) -> list[Link]:
    candidates = [
        (a.generatorURL, "source"),
        (a.dashboardURL, "dashboard"),
        (a.panelURL, "panel"),
        (a.silenceURL, "silence"),
        (a.imageURL, "image"),
        (a.annotations.get("runbook_url"), "runbook"),
        (a.annotations.get("dashboard_url"), "dashboard"),
        (hook.externalURL, "alertmanager" if hook.orgId is None else "grafana"),
    ]
    return [Link(href=href, text=text) for href, text in candidates if href]


def webhook_to_alerts(hook: AmWebhook, config: Config, received_at: datetime, source: str) -> list[Alert]:
    """Every alert in the notification, each placed by its own labels."""
    out = []
    scope = source if hook.orgId is None else f"{source}:{hook.orgId}"
    for a in hook.alerts:
        labels = hook.commonLabels | a.labels
        where = place(config, labels)
        per_alert = where.incident_per == "alert"
        details: dict[str, Any] = {"annotations": a.annotations, "startsAt": a.startsAt}
        if a.endsAt and not a.endsAt.startswith("0001-01-01"):
            details["endsAt"] = a.endsAt
        if a.values is not None:
            details["values"] = a.values
        if a.valueString:
            details["valueString"] = a.valueString
        if hook.receiver:
            details["receiver"] = hook.receiver
        if hook.truncatedAlerts:
            details["truncatedAlerts"] = hook.truncatedAlerts
        out.append(
            Alert(
                source=source,
                scope=scope,
                dedup_key=a.fingerprint if per_alert else hook.groupKey,
                alert_key=a.fingerprint,
                event_id=content_id(scope, a.fingerprint, a.status, a.startsAt),
                action=AlertAction.TRIGGER if a.status == "firing" else AlertAction.RESOLVE,
                summary=summary_of(a),
                service=where.service,
                severity=where.severity,
                source_severity=labels.get(config.routing.severity_label),
                origin=labels.get("instance") or labels.get("job"),
                details=details,
                labels=labels,
                links=_links(hook, a),
                occurred_at=_when(a.startsAt),
                received_at=received_at,
            )
        )
    return out
