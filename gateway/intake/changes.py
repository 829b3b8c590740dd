"""`/v1/changes`: deploys and other changes to a service. Changes shortly before an alert become its suspects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway.client import Unavailable
from gateway.intake.dependencies import IntakeDep, credential
from gateway.intake.errors import RETRY_LATER, ApiError
from incident.context import Change
from incident.fields import unknown

router = APIRouter(tags=["changes"], dependencies=[Depends(credential("changes"))])


class ChangeIn(BaseModel):
    """`POST /v1/changes`: what changed, where, by whom, when (default: now)."""

    service: str = Field(min_length=1)
    version: str | None = None
    author: str | None = None
    description: str | None = Field(None, max_length=4000)
    link: str | None = None
    time: datetime | None = None
    kind: str = Field("deploy", min_length=1, max_length=40)


class ChangeAccepted(BaseModel):
    status: str = "success"
    service: str
    at: datetime


@router.post("/v1/changes", status_code=202, response_model=ChangeAccepted)
async def post_change(body: ChangeIn, intake: IntakeDep) -> ChangeAccepted:
    """A deploy or other change to a service. Changes shortly before an alert become its suspects."""
    services = intake.config.services
    if body.service not in services:
        raise ApiError(422, "invalid_change", f"service: {unknown('service', body.service, services)}")
    change = Change(**body.model_dump(exclude={"time"}), at=body.time or datetime.now(UTC))
    try:
        await intake.incidents.record_change(change)
    except Unavailable:
        raise ApiError(
            503, "temporal_unavailable", "the change could not be recorded durably; retry", RETRY_LATER
        ) from None
    return ChangeAccepted(service=change.service, at=change.at)


@router.get("/v1/changes/{service}", response_model=list[Change])
async def get_changes(service: str, intake: IntakeDep, since: datetime | None = None) -> list[Change]:
    """The service's recorded changes since `since` (default: the last 24 hours), oldest first."""
    if service not in intake.config.services:
        raise ApiError(404, "unknown_service", f"no service {service!r}")
    try:
        return await intake.incidents.changes(service, since or datetime.now(UTC) - timedelta(days=1))
    except Unavailable:
        raise ApiError(503, "temporal_unavailable", "cannot read the change log now; retry") from None
