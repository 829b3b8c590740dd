"""`/v1/changes`: deploys and other changes to a service. Changes shortly before an alert become its suspects.

Every field is bounded here (a change is carried by its service's change log and answered into every incident of
that service, where Temporal's payload limits apply), a time without a zone is read as UTC, and a change that
would not cross into Temporal unchanged is refused: a 422 naming the field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from gateway.answers import answers
from gateway.client import Unavailable
from gateway.intake.crossing import problem
from gateway.intake.dependencies import IntakeDep, credential
from gateway.intake.errors import RETRY_LATER, ApiError
from gateway.intake.guard import GuardedRoute
from incident.context import CHANGE_FIELD_CHARS, Change
from incident.fields import unknown

router = APIRouter(tags=["changes"], dependencies=[Depends(credential("changes"))], route_class=GuardedRoute)


class ChangeIn(BaseModel):
    """`POST /v1/changes`: what changed, where, by whom, when (default: now; without a zone: UTC)."""

    service: str = Field(min_length=1, max_length=63)
    version: str | None = Field(None, max_length=200)
    author: str | None = Field(None, max_length=200)
    description: str | None = Field(None, max_length=CHANGE_FIELD_CHARS)
    link: str | None = Field(None, max_length=2000)
    time: datetime | None = None
    kind: str = Field("deploy", min_length=1, max_length=40)


class ChangeAccepted(BaseModel):
    status: str = "success"
    service: str
    at: datetime


@router.post(
    "/v1/changes", status_code=202, response_model=ChangeAccepted, responses=answers(400, 401, 403, 404, 413, 422, 503)
)
async def post_change(body: ChangeIn, intake: IntakeDep) -> ChangeAccepted:
    """A deploy or other change to a service. Changes shortly before an alert become its suspects."""
    services = intake.config.services
    if body.service not in services:
        raise ApiError(422, "invalid_change", f"service: {unknown('service', body.service, services)}")
    change = Change(**body.model_dump(exclude={"time"}), at=body.time or datetime.now(UTC))
    if (why := problem(change)) is not None:
        raise ApiError(422, "invalid_change", f"(body): {why}")
    try:
        await intake.incidents.record_change(change)
    except Unavailable:
        raise ApiError(
            503, "temporal_unavailable", "the change could not be recorded durably; retry", RETRY_LATER
        ) from None
    return ChangeAccepted(service=change.service, at=change.at)


@router.get("/v1/changes/{service}", response_model=list[Change], responses=answers(401, 403, 404, 422, 503))
async def get_changes(service: str, intake: IntakeDep, since: datetime | None = None) -> list[Change]:
    """The service's most recent changes since `since` (default: the last 24 hours; without a zone: UTC), oldest
    first: at most 100, and at most 256 kB of them."""
    if service not in intake.config.services:
        raise ApiError(404, "unknown_service", f"no service {service!r}")
    since = since or datetime.now(UTC) - timedelta(days=1)
    try:
        return await intake.incidents.changes(service, since if since.tzinfo else since.replace(tzinfo=UTC))
    except Unavailable:
        raise ApiError(503, "temporal_unavailable", "cannot read the change log now; retry", RETRY_LATER) from None
