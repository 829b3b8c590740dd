"""Maintenance windows for people: start one (`POST /v1/maintenance`), list them, read one, end one early
(`DELETE /v1/maintenance/{id}`). A person's token starts and ends windows; an agent's request is decided by the
boundaries as the `maintenance` action (default: approval, which a person gives by starting the window)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from gateway.api.auth import Caller
from gateway.api.outcomes import ACTS, READS, answered
from gateway.intake.dependencies import IntakeDep
from gateway.intake.errors import ApiError
from gateway.intake.guard import GuardedRoute
from gateway.maintenance import BadWindow, plan
from incident.maintenance import ACTION, MAX_MESSAGE, WINDOW_ID, WindowView
from incident.models import ActorKind, Severity
from incident.policy import Verdict

router = APIRouter(tags=["maintenance"], route_class=GuardedRoute)
WindowId = Annotated[str, Path(description="the window's id, e.g. MW-4K2Q9Z", max_length=20)]
DECIDED_AT = Severity.SEV3
"""A window belongs to no incident: an agent's request for one is decided at the mildest severity."""


class StartBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    target: str = Field(
        max_length=500, description="a service (`checkout`), labels (`team=db,env=prod`), or both (`checkout env=prod`)"
    )
    for_: str = Field(alias="for", max_length=20, description="how long, e.g. `2h` (at most 7d)")
    start: datetime | None = Field(None, description="when it starts (default: now), at most 30 days ahead")
    message: str = Field("", max_length=MAX_MESSAGE, description="why, shown on the timeline of incidents it holds")


@router.post("/v1/maintenance", status_code=201, response_model=WindowView, responses=ACTS)
async def start(body: StartBody, intake: IntakeDep, who: Caller) -> WindowView:
    """Open a window now or later: matching alerts are recorded by it and page no one, and open incidents of its
    service hold escalation until it ends; then whatever still fires pages as usual."""
    try:
        matcher, duration, starts_in = plan(intake.config, body.target, body.for_, body.start)
    except BadWindow as e:
        raise ApiError(422, e.code, str(e)) from None
    if who.kind is not ActorKind.HUMAN:
        decision = intake.config.boundaries.decide(ACTION, who, DECIDED_AT)
        if decision.verdict is not Verdict.AUTO:
            hint = (
                "ask a person to start it (baton maintenance start)"
                if decision.verdict is Verdict.APPROVAL
                else "agents may not open maintenance windows here"
            )
            raise ApiError(
                403,
                "refused",
                f"{who} may not open a maintenance window alone ({decision.rule}: {decision.verdict.value}); {hint}",
                rule=decision.rule,
                verdict=decision.verdict.value,
            )
    with answered():
        return await intake.windows.start(matcher, duration, body.message, who, starts_in=starts_in)


@router.get("/v1/maintenance", response_model=list[WindowView], responses=READS)
async def list_windows(intake: IntakeDep, who: Caller) -> list[WindowView]:
    """Open and scheduled windows, then recently ended ones, each with what it suppressed."""
    with answered():
        return await intake.windows.all()


def _checked(window_id: str) -> str:
    wanted = window_id.strip().upper()
    if not WINDOW_ID.match(wanted):
        raise ApiError(422, "invalid_window_id", f"{window_id[:20]!r} is not a window id (MW- and six characters)")
    return wanted


@router.get("/v1/maintenance/{window_id}", response_model=WindowView, responses=READS)
async def show(window_id: WindowId, intake: IntakeDep, who: Caller) -> WindowView:
    """One window: its times, who opened it, the incidents it holds, and the alerts it suppressed."""
    with answered():
        return await intake.windows.get(_checked(window_id))


@router.delete("/v1/maintenance/{window_id}", response_model=WindowView, responses=ACTS)
async def end(window_id: WindowId, intake: IntakeDep, who: Caller) -> WindowView:
    """End a window now: the incidents it held escalate again, and its alerts still firing page as usual."""
    if who.kind is not ActorKind.HUMAN:
        raise ApiError(403, "forbidden", f"ending a maintenance window is for people, and this is {who}'s token")
    with answered():
        return await intake.windows.end(_checked(window_id), who)
