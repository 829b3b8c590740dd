"""Agents' records for people: per severity and per action, what each agent asked and what became of it, and
which incidents were clean (`baton agents`). A person's token: an agent does not read the records it is judged by."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from gateway.api.auth import Caller
from gateway.api.outcomes import READS, answered
from gateway.intake.dependencies import Intake, IntakeDep
from gateway.intake.errors import ApiError
from gateway.intake.guard import GuardedRoute
from incident.models import Actor, ActorKind
from incident.record import AgentView

router = APIRouter(tags=["agents"], route_class=GuardedRoute)
Name = Annotated[str, Path(description="the agent's name under `agents:` in the config", max_length=63)]
BUILT_IN = "baton"
"""The built-in agent (`baton mcp` without a token of its own)."""


def _people_only(who: Actor) -> None:
    if who.kind is not ActorKind.HUMAN:
        raise ApiError(403, "forbidden", f"agents' records are for people, and this is {who}'s token")


def _names(intake: Intake) -> list[str]:
    return sorted({*intake.config.agents, BUILT_IN})


@router.get("/v1/agents", response_model=list[AgentView], responses=READS)
async def list_agents(intake: IntakeDep, who: Caller) -> list[AgentView]:
    """Every agent the config names (and the built-in one), with its record."""
    _people_only(who)
    with answered():
        return [await intake.incidents.agent_record(name) for name in _names(intake)]


@router.get("/v1/agents/{name}", response_model=AgentView, responses=READS)
async def agent(name: Name, intake: IntakeDep, who: Caller) -> AgentView:
    """One agent's record."""
    _people_only(who)
    if name not in _names(intake):
        raise ApiError(404, "unknown_agent", f"no agent {name!r} in the config (known: {', '.join(_names(intake))})")
    with answered():
        return await intake.incidents.agent_record(name)
