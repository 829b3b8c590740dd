"""`/v1/heartbeats/NAME`: a job's ping, with the heartbeats integration's token. `POST`, or `GET` for a cron line
(`curl -fsS "$BATON_URL/v1/heartbeats/nightly-backup?token=$TOKEN"`). A 2xx means the ping is durable: the
monitor's clock restarted, and a missed ping's incident has its recovery."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from gateway.answers import answers
from gateway.client import NotFound, Unavailable
from gateway.heartbeats import Heartbeats
from gateway.intake.dependencies import IntakeDep, credential
from gateway.intake.errors import RETRY_LATER, ApiError
from gateway.intake.guard import GuardedRoute

router = APIRouter(
    tags=["heartbeats"], dependencies=[Depends(credential("heartbeats", query_token=True))], route_class=GuardedRoute
)


class Pinged(BaseModel):
    status: str = "success"
    heartbeat: str
    at: datetime
    next_deadline: datetime


async def _ping(name: str, intake: IntakeDep) -> Pinged:
    beats = Heartbeats(intake.incidents.client, intake.config, intake.incidents.task_queue)
    try:
        spec = beats.spec(name)
        at = datetime.now(UTC)
        await beats.ping(name)
    except NotFound:
        known = ", ".join(sorted(intake.config.heartbeats)) or "none configured"
        raise ApiError(
            404, "unknown_heartbeat", f"no heartbeat {name[:100]!r} in the config (known: {known})"
        ) from None
    except Unavailable:
        raise ApiError(
            503, "temporal_unavailable", "the ping could not be recorded durably; retry", RETRY_LATER
        ) from None
    return Pinged(heartbeat=name, at=at, next_deadline=at + spec.every + spec.grace)


@router.post("/v1/heartbeats/{name}", status_code=202, response_model=Pinged, responses=answers(401, 403, 404, 503))
async def post_ping(name: str, intake: IntakeDep) -> Pinged:
    """A ping from the job NAME watches: it ran. The next must come within `every + grace`."""
    return await _ping(name, intake)


@router.get("/v1/heartbeats/{name}", response_model=Pinged, responses=answers(401, 403, 404, 503))
async def get_ping(name: str, intake: IntakeDep) -> Pinged:
    """The same ping as `POST`, for a cron line or a tool that can only `GET` (token as `?token=` or a header)."""
    return await _ping(name, intake)
