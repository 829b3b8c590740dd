"""What people and agents send to an incident. Validated at the edge and again by the workflow's validators."""

from __future__ import annotations

from pydantic import BaseModel, Field

from incident.models import NAME, Actor, Severity
from incident.state import IncidentPolicy

MAX_TEXT = 4_000
MAX_PARAMS = 20


class ActorRequest(BaseModel):
    actor: Actor


class NoteRequest(ActorRequest):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class ResolveRequest(ActorRequest):
    summary: str = Field("", max_length=MAX_TEXT)


class SeverityRequest(ActorRequest):
    """A human sets (confirms or changes) the severity; an agent proposes one, with a reason."""

    severity: Severity
    reason: str = Field("", max_length=MAX_TEXT)


class ActionRequest(ActorRequest):
    """Ask to do an action the boundaries decide on: it runs (auto), waits for a human (approval) or is refused."""

    action: str = Field(pattern=NAME.pattern, description="rollback, customer_comms, resolve, or a custom action")
    params: dict[str, str] = Field(default_factory=dict, max_length=MAX_PARAMS, description="e.g. {version: v41}")
    text: str | None = Field(None, max_length=MAX_TEXT, description="customer comms: the message to post")
    rationale: str = Field("", max_length=MAX_TEXT, description="why; an agent's request must say")


class DecisionRequest(ActorRequest):
    """A human approves or denies a pending approval. Approving customer comms may replace the text."""

    approval_id: str = Field(min_length=1, max_length=20)
    approve: bool
    reason: str = Field("", max_length=MAX_TEXT)
    text: str | None = Field(None, max_length=MAX_TEXT, description="the approver's edit of the message to post")


class ReloadRequest(ActorRequest):
    """Apply the current config's policy to a running incident: only a human may, and it is on the timeline."""

    policy: IncidentPolicy
