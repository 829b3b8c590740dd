"""What people and agents read through the gateway: incidents (list, one, its policy, timeline, postmortem
draft), a service's changes, the refusals and shadow disagreements across incidents, and who a token is. Any
person's or agent's token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query

from gateway.api.auth import Caller
from gateway.api.bodies import Me, Postmortem, Run, Summary
from gateway.api.outcomes import READS, answered, documented
from gateway.intake.dependencies import IntakeDep
from gateway.intake.errors import ApiError
from gateway.intake.guard import GuardedRoute
from incident.approvals import RefusalRow
from incident.context import Change
from incident.models import Severity, Status, TimelineEntry
from incident.shadow import ShadowRow
from incident.state import IncidentPolicy, IncidentState

router = APIRouter(tags=["incidents"], route_class=GuardedRoute)
Ref = Annotated[str, Path(description="an incident id (INC-7K2Q9M, any case) or its workflow id")]


def _utc(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@router.get("/v1/whoami", response_model=Me, responses=documented(401, 403))
async def whoami(who: Caller) -> Me:
    """Who this token is: the person or agent every request with it acts as."""
    return Me(actor=str(who), kind=who.kind.value, name=who.name)


@router.get("/v1/incidents", response_model=list[Summary], responses=READS)
async def list_incidents(
    intake: IntakeDep,
    who: Caller,
    status: Status | None = None,
    severity: Severity | None = None,
    service: Annotated[str | None, Query(max_length=63)] = None,
    since: Annotated[datetime | None, Query(description="opened at or after (without a zone: UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    lead: Annotated[str | None, Query(max_length=64, description="only incidents this person leads")] = None,
) -> list[Summary]:
    """Incidents, newest first."""
    with answered():
        rows = await intake.incidents.search(
            status=status,
            severity=severity,
            service=service,
            since=_utc(since) if since else None,
            limit=limit,
            lead=lead,
        )
    return [Summary.of(r) for r in rows]


@router.get("/v1/boundaries/refusals", response_model=list[RefusalRow], responses=READS)
async def refusals(intake: IntakeDep, who: Caller, since: datetime | None = None) -> list[RefusalRow]:
    """Refused and undefined requests across incidents opened since `since` (default: 7 days), most frequent
    first (`baton boundaries report`)."""
    with answered():
        return await intake.incidents.refusals(_utc(since) if since else datetime.now(UTC) - timedelta(days=7))


@router.get("/v1/boundaries/shadow", response_model=list[ShadowRow], responses=READS)
async def shadow(intake: IntakeDep, who: Caller, since: datetime | None = None) -> list[ShadowRow]:
    """Requests the shadow policy (`boundaries.shadow`) decided otherwise than the enforced one, across incidents
    opened since `since` (default: 7 days), most frequent first (`baton boundaries report --shadow`)."""
    with answered():
        return await intake.incidents.shadow(_utc(since) if since else datetime.now(UTC) - timedelta(days=7))


@router.get("/v1/services/{service}/changes", response_model=list[Change], responses=READS)
async def service_changes(service: str, intake: IntakeDep, who: Caller, since: datetime | None = None) -> list[Change]:
    """The service's recorded changes since `since` (default: the last 24 hours), oldest first."""
    if service not in intake.config.services:
        raise ApiError(404, "unknown_service", f"no service {service!r}")
    with answered():
        return await intake.incidents.changes(service, _utc(since) if since else datetime.now(UTC) - timedelta(days=1))


@router.get("/v1/incidents/{ref:path}/run", response_model=Run, responses=READS)
async def incident_run(ref: Ref, intake: IntakeDep, who: Caller) -> Run:
    """Where the incident runs: its workflow id, current run id, incident id, and whether it is open."""
    with answered():
        return Run.of(await intake.incidents.find(ref))


@router.get("/v1/incidents/{ref:path}/policy", response_model=IncidentPolicy, responses=READS)
async def incident_policy(ref: Ref, intake: IntakeDep, who: Caller) -> IncidentPolicy:
    """The boundaries and escalation this incident runs by (its snapshot, or what a human reloaded)."""
    with answered():
        return await intake.incidents.policy(ref)


@router.get("/v1/incidents/{ref:path}/timeline", response_model=list[TimelineEntry], responses=READS)
async def incident_timeline(ref: Ref, intake: IntakeDep, who: Caller) -> list[TimelineEntry]:
    """The incident's timeline as its current run keeps it (the story and the latest entries)."""
    with answered():
        return (await intake.incidents.state(ref)).timeline


@router.get("/v1/incidents/{ref:path}/postmortem", response_model=Postmortem, responses=READS)
async def incident_postmortem(ref: Ref, intake: IntakeDep, who: Caller) -> Postmortem:
    """A markdown postmortem draft from the incident's record: facts and questions, no conclusions."""
    with answered():
        return Postmortem(incident=ref, markdown=await intake.incidents.postmortem(ref))


@router.get("/v1/incidents/{ref:path}", response_model=IncidentState, responses=READS)
async def incident_state(ref: Ref, intake: IntakeDep, who: Caller) -> IncidentState:
    """One incident as it is now: status, severity, who was paged, escalation, approvals, suspects, timeline."""
    with answered():
        return await intake.incidents.state(ref)
