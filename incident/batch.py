"""What the intake hands over for one incident: its workflow id, the policy to start it with, and the alerts."""

from __future__ import annotations

from pydantic import BaseModel, Field

from incident.models import Alert
from incident.state import IncidentPolicy


class AlertBatch(BaseModel):
    workflow_id: str
    policy: IncidentPolicy
    alerts: list[Alert]
    size: int = Field(0, description="approximate bytes, so batches stay inside Temporal's payload limits")


def merge(batches: list[AlertBatch]) -> list[AlertBatch]:
    """One batch per incident, alerts in arrival order: fewer, larger signals downstream."""
    by_id: dict[str, AlertBatch] = {}
    for h in batches:
        if h.workflow_id in by_id:
            m = by_id[h.workflow_id]
            m.alerts.extend(h.alerts)
            m.size += h.size
        else:
            by_id[h.workflow_id] = h.model_copy(update={"alerts": list(h.alerts)})
    return list(by_id.values())
