"""The incident's vocabulary: actors, alerts, the timeline and the state a workflow keeps.

Workflows build these, so nothing here reads the clock or makes random ids: times and ids are passed in.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from incident.context import PageContext
from incident.links import Link

NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class Severity(StrEnum):
    """SEV0 is the worst. Comparisons follow urgency: `Severity.SEV0 < Severity.SEV1` is True."""

    SEV0 = "SEV0"
    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"


class Status(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class ActorKind(StrEnum):
    HUMAN = "human"
    AGENT = "agent"
    SYSTEM = "system"


class Actor(BaseModel):
    """Who did something. Written `human:alice`, `agent:triage`, `system`."""

    model_config = ConfigDict(frozen=True)

    kind: ActorKind
    name: str = ""

    @model_validator(mode="after")
    def _named(self) -> Actor:
        if self.kind is not ActorKind.SYSTEM and not NAME.match(self.name):
            raise ValueError(
                f"{self.kind.value} actor needs a name of lowercase letters, digits, . _ - (got {self.name!r})"
            )
        return self

    @classmethod
    def parse(cls, text: str) -> Actor:
        kind, _, name = text.partition(":")
        return cls(kind=ActorKind(kind), name=name)

    @classmethod
    def human(cls, name: str) -> Actor:
        return cls(kind=ActorKind.HUMAN, name=name)

    @classmethod
    def agent(cls, name: str) -> Actor:
        return cls(kind=ActorKind.AGENT, name=name)

    @classmethod
    def system(cls, name: str = "") -> Actor:
        return cls(kind=ActorKind.SYSTEM, name=name)

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}" if self.name else self.kind.value


class AlertAction(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class Alert(BaseModel):
    """One event from a monitoring source, normalised. Everything the source sent stays in `details`/`labels`."""

    source: str = Field(description="the integration it came through, e.g. `events`")
    scope: str = Field("", description="where the dedup key is unique, e.g. `events:checkout`; default: source")
    dedup_key: str = Field(description="events with the same key belong to the same open incident")
    event_id: str = Field("", description="identifies one delivery, so a source's retry is counted once")
    action: AlertAction = AlertAction.TRIGGER
    alert_key: str = Field("", description="one alert within the incident; defaults to the dedup key")
    summary: str
    service: str
    severity: Severity = Severity.SEV3
    source_severity: str | None = None
    origin: str | None = Field(None, description="where it happened: host, pod, job")
    component: str | None = None
    group: str | None = None
    alert_class: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    links: list[Link] = Field(default_factory=list)
    occurred_at: datetime | None = None
    received_at: datetime
    opened_by: str | None = Field(
        None, description="set by the gateway only: the agent (`agent:NAME`) that opens an incident with this alert"
    )
    severity_floor: Severity | None = Field(
        None, description="set by the gateway only: the most severe other open incident of the service, if any"
    )

    @field_validator("alert_key")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("occurred_at", "received_at")
    @classmethod
    def _utc(cls, v: datetime | None) -> datetime | None:
        """A time without a zone is read as UTC: the incident compares it with zoned times."""
        return v.replace(tzinfo=UTC) if v is not None and v.tzinfo is None else v

    @property
    def key(self) -> str:
        return self.alert_key or self.dedup_key

    @property
    def dedup_scope(self) -> str:
        return self.scope or self.source


class TimelineEntry(BaseModel):
    """One line of the incident's record. Built by `incident.timeline.entry`; what each kind's `data` holds is
    listed there."""

    at: datetime
    actor: str
    kind: str = Field(description="an `incident.timeline.Kind` value (a string, so entries of any version load)")
    text: str = Field(description="the sentence, from `incident.sentences`")
    data: dict[str, Any] | None = Field(None, description="what other code reads, so it never parses `text`")


DETAILS_KEPT = 16_000
"""Bytes of an alert's details an incident keeps in its state (carried across continue-as-new); the whole payload
stays in the workflow history, where it arrived."""


def bounded(details: dict[str, Any], limit: int = DETAILS_KEPT) -> dict[str, Any]:
    size = len(json.dumps(details, default=str))
    if size <= limit:
        return details
    return {"truncated": f"{size} bytes of details; the full payload is in the incident's history"}


class AlertRecord(BaseModel):
    """What the incident knows about one of its alerts."""

    key: str
    summary: str
    firing: bool = True
    count: int = 0
    first_at: datetime
    last_at: datetime
    changed_at: datetime | None = Field(
        None,
        description="when the source event that last set `firing` was received; older events arriving late "
        "(a storm takes two paths in) are counted but do not turn it back",
    )
    labels: dict[str, str] = Field(default_factory=dict)
    links: list[Link] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)

    def newer(self, alert: Alert) -> bool:
        return self.changed_at is None or alert.received_at >= self.changed_at


class PageReceipt(BaseModel):
    """One attempt to reach one person by one contact method."""

    person: str
    method: str
    ok: bool
    detail: str = ""
    thread: str | None = Field(None, description="where later updates to this page go (e.g. Slack channel:ts)")


class PlannedStep(BaseModel):
    """One step of a person's contact rule for this page: `method` at `at` (the page's time plus `after`, moved
    to the start of their working hours when the step keeps to them)."""

    method: str
    after: timedelta
    at: datetime
    working_hours: bool = False


class Recipient(BaseModel):
    """A person resolved from an escalation target at the moment of paging."""

    person: str
    display_name: str
    methods: list[str]
    via: str = Field(description="the target that named them, e.g. `schedule:payments-primary`")
    steps: list[PlannedStep] = Field(
        default_factory=list,
        description="their contact rule for this page's urgency, when they have one: each step goes at its time "
        "until someone acknowledges (else `methods` are tried in order)",
    )


class Page(BaseModel):
    """What a page says. Built in the workflow, sent by a notifier activity. `kind` is `page` for a page,
    `recovered` for asking responders to confirm that an incident whose alerts all recovered is resolved, `update`
    for late context, `approval` for asking someone to approve or deny, `notice` for telling responders what
    happened (a refusal, a decision, an action's result), `status` for telling a method that keeps its own incident
    (PagerDuty) that baton's is now acknowledged or resolved (`status`)."""

    kind: Literal["page", "recovered", "update", "approval", "notice", "status"] = "page"
    incident_id: str
    workflow_id: str
    title: str
    service: str
    severity: Severity
    status: Status
    level: int
    levels: int
    cycle: int
    alert_count: int
    opened_at: datetime
    runbook: str | None = None
    links: list[Link] = Field(default_factory=list)
    context: PageContext | None = Field(None, description="changes, suspects, metrics and logs gathered for it")
    thread: str | None = Field(None, description="for `update`: where the first page went (e.g. Slack channel:ts)")
    notice: str | None = Field(
        None,
        description="for `notice` and `approval`: what happened or what is asked; on a `page` outside the escalation "
        "(an incident commander's, level 0): why they are paged",
    )
    lead: str | None = Field(None, description="who leads the incident (None: nobody yet, or no roles)")
    approval_id: str | None = Field(None, description="for `approval`: the id to approve or deny")
    late_since: datetime | None = Field(
        None, description="a page delivered after its level's time ran out: when that was (it says it is late)"
    )
    unreachable: str | None = Field(None, description="who of the level before could not be reached, and why")
    requested_by: str | None = Field(
        None, exclude=True, description="in the workflow only: the agent whose `page` request this page is"
    )


class UpdateReply(BaseModel):
    """The answer to a request made of an incident: done, or refused with the reason and the rule."""

    ok: bool
    message: str
    rule: str | None = None
    status: Status
    verdict: str | None = Field(
        None,
        description="for a request: auto, approval, never, undefined, or params (a parameter the action does not take)",
    )
    approval_id: str | None = Field(None, description="the pending approval a request became")
    severity: str | None = Field(
        None,
        description="for a request the boundaries decided: the severity they decided it at (what `baton audit` and "
        "`baton boundaries what-if` read from the history)",
    )


class IncidentResult(BaseModel):
    """What a workflow run returns when its incident closes."""

    incident_id: str
    status: Status
    resolved_by: str | None
    summary: str
    opened_at: datetime
    resolved_at: datetime | None
    alert_count: int
    kind: Literal["resolved", "continued"] = "resolved"
    postmortem: str = Field("", description="a markdown draft from the record: facts and questions, no conclusions")
