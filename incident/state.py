"""The state an incident workflow keeps, and the policy snapshot it is started with."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from incident.approvals import Approval, Refusal
from incident.config import Config, EscalationPolicy, ServiceContext
from incident.context import PageContext
from incident.escalation import EscalationCursor
from incident.models import Alert, AlertRecord, Severity, Status, TimelineEntry
from incident.policy import Boundaries

TIMELINE_ALERT_ENTRIES = 20
"""Alert events written to the timeline one by one; past this the count goes on and one entry sums them up."""
MAX_ALERT_RECORDS = 200
"""Distinct alerts an incident tracks individually; further ones are counted only."""
RECENT_EVENTS = 1_000
"""Delivery ids remembered to recognise a source's retry; older ones are forgotten first."""


class ServiceInfo(BaseModel):
    name: str
    escalation: str
    customer_facing: bool = False
    runbook: str | None = None
    team: str | None = None
    on_recovery: Literal["ask", "resolve", "ignore"] = "ask"


class IncidentPolicy(BaseModel):
    """What the incident was started with. A config change applies to new incidents, not to running ones."""

    service: ServiceInfo
    escalation: EscalationPolicy
    boundaries: Boundaries
    context: ServiceContext = Field(default_factory=ServiceContext)
    providers: list[str] = Field(
        default_factory=lambda: ["changes"], description="context providers to wait for before the first page"
    )

    @classmethod
    def snapshot(cls, config: Config, service: str) -> IncidentPolicy:
        svc = config.services[service]
        return cls(
            service=ServiceInfo(
                name=service,
                escalation=svc.escalation,
                customer_facing=svc.customer_facing,
                runbook=svc.runbook,
                team=svc.team,
                on_recovery=svc.on_recovery,
            ),
            escalation=config.escalation_policies[svc.escalation],
            boundaries=config.boundaries,
            context=svc.context,
            providers=context_providers(config, service),
        )


def context_providers(config: Config, service: str) -> list[str]:
    """Which context providers a service has configured: baton's own change log always."""
    ctx, integ = config.services[service].context, config.integrations
    out = ["changes"]
    if ctx.metrics and integ.prometheus:
        out.append("metrics")
    if ctx.logs and integ.loki:
        out.append("logs")
    if ctx.deploys.github:  # without integrations.github, the public API is asked without a token
        out.append("github")
    return out


class IncidentState(BaseModel):
    """Everything the incident is. Read with the `state` query; carried across continue-as-new."""

    incident_id: str
    workflow_id: str
    title: str
    service: str
    severity: Severity = Field(description="the severity in force: a human's, else the most severe proposed")
    severity_confirmed_by: str | None = None
    severity_needs_confirmation: bool = False
    status: Status = Status.TRIGGERED
    opened_at: datetime
    alert_received_at: datetime | None = Field(None, description="when the intake received the first alert")
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    ack_deadline: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    first_page_at: datetime | None = None
    alert_count: int = 0
    alerts: dict[str, AlertRecord] = Field(default_factory=dict)
    alerts_untracked: int = 0
    paged: list[str] = Field(default_factory=list)
    top_level: int = Field(0, description="the highest escalation level paged so far")
    approvals: list[Approval] = Field(default_factory=list)
    refusals: list[Refusal] = Field(default_factory=list, description="refused requests, counted per kind")
    refused_total: int = 0
    escalation: EscalationCursor = Field(default_factory=EscalationCursor)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    alert_entries: int = 0
    context: PageContext | None = None
    threads: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="person -> contact method -> where updates to their page go"
    )
    seconds_to_first_page: float | None = Field(None, description="from the first alert's receipt to the first page")
    duplicates: int = Field(0, description="deliveries recognised as repeats of one already counted")
    recent_events: list[str] = Field(default_factory=list, description="the last delivery ids, to spot repeats")
    runs: int = 1

    @property
    def pending_approvals(self) -> list[Approval]:
        return [a for a in self.approvals if a.pending]

    def approval(self, approval_id: str) -> Approval | None:
        wanted = approval_id.strip().upper()
        return next((a for a in self.approvals if a.id == wanted), None)

    @property
    def severity_label(self) -> str:
        """`SEV1`, or `SEV1 (proposed)` while a human has yet to confirm it."""
        pending = self.severity_needs_confirmation and not self.severity_confirmed_by
        return f"{self.severity.value} (proposed)" if pending else self.severity.value

    @property
    def open(self) -> bool:
        return self.status is not Status.RESOLVED

    @property
    def firing(self) -> bool:
        """Some alert is still firing (or alerts are only counted, so we cannot tell they all recovered)."""
        return self.alerts_untracked > 0 or any(a.firing for a in self.alerts.values()) or not self.alerts


class IncidentInput(BaseModel):
    """Workflow input. A fresh start carries only the policy; a continue-as-new carries the state too."""

    policy: IncidentPolicy
    state: IncidentState | None = None
    incident_id: str = Field(description="the id to use if this start opens a new incident")
    carry_alerts: list[Alert] = Field(
        default_factory=list, description="alerts that reached a resolved incident: they open this one"
    )
    history_limit: int = Field(2_000, ge=100, description="continue-as-new once the run's history has this many events")
