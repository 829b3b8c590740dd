"""Heartbeat monitors for people: the list with each one's last ping and next deadline (any person's or agent's
token), and pause or resume (a person's: an agent may not silence a monitor)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from gateway.api.auth import Caller
from gateway.api.outcomes import ACTS, READS, answered
from gateway.heartbeats import Heartbeats
from gateway.intake.dependencies import Intake, IntakeDep
from gateway.intake.errors import ApiError
from gateway.intake.guard import GuardedRoute
from incident.heartbeats import HeartbeatView
from incident.models import ActorKind

router = APIRouter(tags=["heartbeats"], route_class=GuardedRoute)
Name = Annotated[str, Path(description="the monitor's name under `heartbeats:` in the config", max_length=63)]


class PauseBody(BaseModel):
    reason: str = Field("", max_length=500, description="why: shown in `baton heartbeats`")


def monitors(intake: Intake) -> Heartbeats:
    return Heartbeats(intake.incidents.client, intake.config, intake.incidents.task_queue)


@router.get("/v1/heartbeats", response_model=list[HeartbeatView], responses=READS)
async def list_heartbeats(intake: IntakeDep, who: Caller) -> list[HeartbeatView]:
    """Every monitor the config has: its status, last ping and next deadline."""
    with answered():
        return await monitors(intake).views()


async def _pause(name: str, pause: bool, body: PauseBody | None, intake: Intake, who: Caller) -> HeartbeatView:
    if who.kind is not ActorKind.HUMAN:
        raise ApiError(403, "forbidden", f"pausing a heartbeat is for people, and this is {who}'s token")
    if name not in intake.config.heartbeats:
        raise ApiError(404, "unknown_heartbeat", f"no heartbeat {name!r} in the config")
    with answered():
        return await monitors(intake).pause(name, who, pause, body.reason if body else "")


@router.post("/v1/heartbeats/{name}/pause", response_model=HeartbeatView, responses=ACTS)
async def pause(name: Name, intake: IntakeDep, who: Caller, body: PauseBody | None = None) -> HeartbeatView:
    """Stop watching: no incident for a missed ping until it is resumed (pings are still recorded)."""
    return await _pause(name, True, body, intake, who)


@router.post("/v1/heartbeats/{name}/resume", response_model=HeartbeatView, responses=ACTS)
async def resume(name: Name, intake: IntakeDep, who: Caller) -> HeartbeatView:
    """Watch again: the next ping is due `every + grace` from now."""
    return await _pause(name, False, None, intake, who)
