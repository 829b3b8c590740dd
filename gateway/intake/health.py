"""`/healthz`: whether the intake can reach Temporal, so a load balancer stops sending to one that cannot."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gateway.intake.dependencies import IntakeDep

HEALTH_TIMEOUT = timedelta(seconds=2)
router = APIRouter(tags=["ops"])


class Health(BaseModel):
    status: str
    temporal: str


@router.get(
    "/healthz", response_model=Health, responses={503: {"model": Health, "description": "Temporal cannot be reached"}}
)
async def healthz(intake: IntakeDep) -> JSONResponse:
    try:
        await intake.incidents.client.service_client.check_health(timeout=HEALTH_TIMEOUT)
    except Exception:
        return JSONResponse(Health(status="degraded", temporal="unreachable").model_dump(), status_code=503)
    return JSONResponse(Health(status="ok", temporal="ok").model_dump())
