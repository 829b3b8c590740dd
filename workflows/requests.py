"""What people and agents send to an incident. Validated at the edge and again by the workflow's validators."""

from __future__ import annotations

from pydantic import BaseModel, Field

from incident.models import Actor, Severity

MAX_TEXT = 4_000


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
