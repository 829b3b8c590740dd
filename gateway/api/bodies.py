"""What the incidents API takes and answers: one model per request body (unknown fields are refused, so a body
cannot smuggle an `actor`: the token decides who acts) and per answer, as the OpenAPI documents them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.client import IncidentRef, IncidentSummary
from incident.models import Severity
from workflows.messages import MAX_PARAMS, MAX_TEXT, REQUEST_ID

Text = Field("", max_length=MAX_TEXT)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Judgment(Body):
    """A judgment call (approve, deny, resolve, severity, a human's own request): where the one-time code of a
    step-up is carried (`boundaries.step_up`)."""

    code: str | None = Field(
        None,
        min_length=1,
        max_length=16,
        description="the one-time code the person's authenticator app shows: a step-up action needs it (or Slack)",
    )


class NoteBody(Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT, description="the note, as responders read it")


class SeverityBody(Judgment):
    severity: Severity
    reason: str = Text


class ResolveBody(Judgment):
    summary: str = Field("", max_length=MAX_TEXT, description="what fixed it")


class RoleBody(Body):
    role: str = Field(min_length=1, max_length=64, description="lead, or a role the config defines (comms, scribe…)")
    person: str | None = Field(
        None, min_length=1, max_length=64, description="who takes it; unset: the caller (a person) takes it"
    )
    propose: bool = Field(False, description="propose `person` instead of assigning: what an agent may do")
    reason: str = Text


class UpdateBody(Judgment):
    text: str | None = Field(
        None, min_length=1, max_length=MAX_TEXT, description="the update as sent; unset: the draft as it stands"
    )
    audience: Literal["internal", "customers"] = Field(
        "internal", description="internal: the config's internal audiences; customers: asked as customer_comms"
    )
    propose: bool = Field(False, description="propose this wording for the update instead of sending it")


class PageBody(Body):
    target: str = Field(min_length=1, max_length=200, description="a person, `user:NAME` or `schedule:NAME`")
    reason: str = Text


class EscalateBody(Body):
    reason: str = Text


class RequestBody(Judgment):
    """Ask for an action the incident's boundaries decide on (a rollback, customer comms, a custom action)."""

    action: str = Field(min_length=1, max_length=200, description="e.g. rollback, customer_comms, restart_pods")
    rationale: str = Text
    params: dict[str, str] = Field(default_factory=dict, max_length=MAX_PARAMS, description="e.g. {version: v41}")
    text: str | None = Field(None, max_length=MAX_TEXT, description="customer_comms: the message to post")
    request_id: str | None = Field(
        None, pattern=REQUEST_ID, description="your id for this request: the same id again runs or asks nothing new"
    )


class ApproveBody(Judgment):
    text: str | None = Field(None, max_length=MAX_TEXT, description="customer comms: post this text instead")


class WithdrawBody(Body):
    reason: str = Field("", max_length=MAX_TEXT, description="why it is no longer needed")


class DenyBody(Judgment):
    reason: str = Field(min_length=1, max_length=MAX_TEXT, description="why not (required)")


class OpenBody(Body):
    """An agent opens an incident for a service no alert has reported on."""

    service: str = Field(min_length=1, max_length=63)
    summary: str = Field(min_length=1, max_length=1000, description="what is wrong, in one line")
    idempotency_key: str = Field(
        min_length=1, max_length=200, description="the same key returns the same open incident: reuse it to retry"
    )
    severity: Severity = Severity.SEV3


# ---- answers ----------------------------------------------------------------------------------------------------


class Me(BaseModel):
    """Who the token is: `human:alice` or `agent:triage`."""

    actor: str
    kind: str
    name: str


class Summary(BaseModel):
    incident_id: str
    status: str
    severity: str
    service: str
    workflow_id: str
    run_id: str
    opened_at: datetime
    closed_at: datetime | None
    lead: str | None = None

    @classmethod
    def of(cls, s: IncidentSummary) -> Summary:
        return cls(**s.__dict__)

    def summary(self) -> IncidentSummary:
        return IncidentSummary(**self.model_dump())


class Run(BaseModel):
    """Where an incident runs now: its workflow, the current run, and whether it is open."""

    workflow_id: str
    run_id: str | None
    incident_id: str | None
    open: bool

    @classmethod
    def of(cls, r: IncidentRef) -> Run:
        return cls(**r.__dict__)

    def ref(self) -> IncidentRef:
        return IncidentRef(**self.model_dump())


class Opened(BaseModel):
    incident_id: str | None
    workflow_id: str
    dedup_key: str
    recorded: bool
    opened: bool = Field(description="false when the idempotency key names an incident that was already open")
    message: str
    decided_at: str | None = Field(
        None,
        description="set when another open incident of the service is more severe: the agent's requests here are "
        "decided at that severity until a human confirms this one's",
    )


class Postmortem(BaseModel):
    incident: str
    markdown: str
