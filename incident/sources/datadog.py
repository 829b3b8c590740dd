"""Datadog monitors through the Webhooks integration, with the payload template shipped in docs/datadog.md.

`alert_cycle_key` ($ALERT_CYCLE_KEY) links every notification from trigger to recovery, so it is the dedup key;
`transition` ($ALERT_TRANSITION) `Recovered` is a recovery; `id` ($ID) identifies one delivery, so Datadog's
retries are counted once. Tags (`service:checkout`) become labels for routing.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from incident.config import Config
from incident.models import Alert, AlertAction, Link, Severity
from incident.sources.common import IdText, content_id, place

RECOVERED = {"recovered"}
TYPE_SEVERITY = {"error": Severity.SEV2, "warning": Severity.SEV3, "info": Severity.SEV4, "success": Severity.SEV4}


class DatadogEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    alert_cycle_key: IdText = Field(description="$ALERT_CYCLE_KEY")
    transition: str = Field(min_length=1, description="$ALERT_TRANSITION: Triggered, Recovered, Warn, No Data...")
    title: str = Field(min_length=1, description="$ALERT_TITLE")
    id: str | None = Field(None, description="$ID, one notification")
    alert_id: str | None = Field(None, description="$ALERT_ID, the monitor")
    aggreg_key: str | None = None
    alert_type: str | None = Field(None, description="$ALERT_TYPE: error, warning, info, success")
    priority: str | None = Field(None, description="$ALERT_PRIORITY: P1..P5")
    message: str | None = Field(None, description="$EVENT_MSG")
    scope: str | None = Field(None, description="$ALERT_SCOPE")
    tags: str | list[str] | None = Field(None, description="$TAGS, comma separated")
    hostname: str | None = None
    link: str | None = None
    date: StrictInt | StrictStr | None = Field(None, description="$DATE_POSIX (seconds or milliseconds) or $DATE")
    org_id: IdText | None = Field(None, max_length=255)

    @field_validator("alert_cycle_key", "transition", "title")
    @classmethod
    def _unexpanded(cls, v: str) -> str:
        if v.startswith("$"):
            raise ValueError(f"got the unexpanded template variable {v}: is this a test notification?")
        return v

    @field_validator("date")
    @classmethod
    def _a_time(cls, v: int | str | None) -> int | str | None:
        """A number must be a time (not `nan`, not past the year 9999); other text is kept and not read."""
        _when(v)
        return v


def _tags(raw: str | list[str] | None) -> dict[str, str]:
    items = raw if isinstance(raw, list) else (raw or "").split(",")
    labels: dict[str, str] = {}
    for tag in (t.strip() for t in items):
        if not tag:
            continue
        key, sep, value = tag.partition(":")
        labels[key] = value if sep else "true"
    return labels


def _when(value: int | str | None) -> datetime | None:
    """The time a number says; None for text that is not a number. ValueError for a number that is no time."""
    if value is None or value == "":
        return None
    try:
        n = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not math.isfinite(n):
        raise ValueError(f"{value!r} is not a time")
    try:
        return datetime.fromtimestamp(n / 1000 if n > 1e11 else n, UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"{value!r} is not a time (seconds or milliseconds since 1970)") from None


def event_to_alert(ev: DatadogEvent, config: Config, raw: dict[str, Any], received_at: datetime) -> Alert:
    labels = _tags(ev.tags) | _tags(ev.scope)
    if ev.hostname:
        labels.setdefault("host", ev.hostname)
    if ev.alert_id:
        labels["monitor_id"] = ev.alert_id
    fallback = TYPE_SEVERITY.get((ev.alert_type or "").lower(), Severity.SEV3)
    where = place(config, labels, source_severity=ev.priority, fallback=fallback)
    recovered = ev.transition.strip().lower() in RECOVERED
    return Alert(
        source="datadog",
        scope="datadog" + (f":{ev.org_id}" if ev.org_id else ""),
        dedup_key=ev.alert_cycle_key,
        alert_key=ev.alert_cycle_key,
        event_id=ev.id or content_id(raw),
        action=AlertAction.RESOLVE if recovered else AlertAction.TRIGGER,
        summary=ev.title,
        service=where.service,
        severity=where.severity,
        source_severity=ev.priority or ev.alert_type,
        origin=ev.hostname,
        details={k: v for k, v in raw.items() if k not in ("title",)},
        labels=labels,
        links=[Link(href=ev.link, text="datadog")] if ev.link else [],
        occurred_at=_when(ev.date),
        received_at=received_at,
    )
