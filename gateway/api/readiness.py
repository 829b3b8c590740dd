"""Readiness for people: the gaps the gateway's config leaves over the next days (with what only Temporal knows),
and the scheduled runs' history. Any person's or agent's token."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from gateway.api.auth import Caller
from gateway.api.outcomes import READS, answered
from gateway.intake.dependencies import IntakeDep
from gateway.intake.guard import GuardedRoute
from gateway.readiness import gather_facts, readiness_history
from incident.readiness import Readiness, ReadinessLog, check

router = APIRouter(tags=["readiness"], route_class=GuardedRoute)


@router.get("/v1/readiness", response_model=Readiness, responses=READS)
async def readiness(
    intake: IntakeDep, who: Caller, days: Annotated[int, Query(ge=1, le=90, description="how far ahead")] = 14
) -> Readiness:
    """Shifts with nobody on call, on-call people nobody can reach, escalation levels that reach nobody,
    approvers who cannot approve, services without a runbook, heartbeats never pinged."""
    config = intake.config
    facts = await gather_facts(intake.incidents.client, config, intake.incidents.task_queue)
    return check(config, datetime.now(UTC), days, facts)


@router.get("/v1/readiness/history", response_model=ReadinessLog, responses=READS)
async def history(intake: IntakeDep, who: Caller) -> ReadinessLog:
    """The scheduled readiness runs, newest last, and when the config last passed its drills."""
    with answered():
        return await readiness_history(intake.incidents.client, intake.incidents.task_queue)
