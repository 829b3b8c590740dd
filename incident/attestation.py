"""What the gateway vouches for when it hands an incident a request: who acts, how they proved it, and which
request of which incident run it is (a run is one incident: a reopened one runs anew). The workflow accepts a
human or agent actor only with such a claim, signed by a key it trusts (`incident.keys`), so a process that can
reach Temporal cannot act as someone it is not.

A claim is bound to one request: the update's name and a digest of the request itself (an approval id, a note's
text) and one run, and it counts once. Replayed on another approval, incident or run, or twice, it proves
nothing. Its issue time is for the record, not checked: the claim is useless beyond its request and run anyway,
and a drill's workflow clock is virtual.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from incident.models import Actor

MAX_PROOF = 4_000
"""Characters of an encoded proof; a real one is about 600."""


class Method(StrEnum):
    """How the gateway authenticated the actor."""

    TOKEN = "token"
    """A person's own API token (`people.NAME.token`)."""
    SLACK = "slack"
    """A Slack user, by a request Slack signed, mapped to a person."""
    TOTP = "totp"
    """A person's token and a one-time code from their authenticator app (step-up)."""
    AGENT_TOKEN = "agent_token"
    """An agent's token (`agents.NAME.token`)."""


PRESENT = frozenset({Method.SLACK, Method.TOTP})
"""Methods that show a person is there, not only their token: what a step-up action asks for."""


class Claim(BaseModel):
    actor: Actor
    method: Method
    update: str = Field(description="the update's name: decide, note, request, …")
    digest: str = Field(description="sha256 of the request without its proof (`digest`)")
    workflow_id: str
    run_id: str = Field(description="the incident's run: each run is one incident, so this binds the incident too")
    issued_at: datetime
    nonce: str = Field(min_length=16, max_length=64)
    totp_step: int | None = Field(None, description="with `totp`: the code's time step (a code counts once)")


def digest(request: Any) -> str:
    """The request's digest without its proof: its fields as JSON, keys sorted, so both ends compute the same."""
    data = request.model_dump(mode="json", exclude={"proof"})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def mismatch(claim: Claim, expected: Claim) -> str | None:
    """Why `claim` does not vouch for the request `expected` describes, or None."""
    if claim.actor != expected.actor:
        return f"the proof is for {claim.actor}, the request says {expected.actor}"
    if claim.update != expected.update or claim.digest != expected.digest:
        return "the proof is for another request"
    if claim.workflow_id != expected.workflow_id:
        return f"the proof is for another incident ({claim.workflow_id})"
    if claim.run_id != expected.run_id:
        return "the proof is for another run"
    return None
