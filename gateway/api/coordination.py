"""Coordination through the gateway: roles taken, handed over or proposed, and stakeholder updates sent or
proposed. The token decides who acts; the incident decides what a person or an agent may do of it."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.actions import facade
from gateway.api.auth import Caller
from gateway.api.bodies import RoleBody, UpdateBody
from gateway.api.outcomes import ACTS, answered
from gateway.api.reads import Ref
from gateway.intake.dependencies import IntakeDep
from gateway.intake.guard import GuardedRoute
from incident.models import UpdateReply

router = APIRouter(tags=["incidents"], route_class=GuardedRoute)


@router.post("/v1/incidents/{ref:path}/roles", response_model=UpdateReply, responses=ACTS)
async def role(ref: Ref, body: RoleBody, intake: IntakeDep, who: Caller) -> UpdateReply:
    """Take a role (no `person`), hand it to someone, or propose someone for it (`propose`: an agent's only way)."""
    with answered():
        return await facade(intake).set_role(ref, who, body.role, body.person, body.propose, body.reason)


@router.post("/v1/incidents/{ref:path}/updates", response_model=UpdateReply, responses=ACTS)
async def stakeholder_update(ref: Ref, body: UpdateBody, intake: IntakeDep, who: Caller) -> UpdateReply:
    """Send the stakeholder update that is due (its draft, or `text` as edited), or propose its wording."""
    with answered():
        incidents = facade(intake, body, who)  # a one-time code: present, as customer text needs (step-up)
        return await incidents.stakeholder_update(ref, who, body.text, body.audience, body.propose)
