"""The incidents API for people and agents (`/v1/incidents/...`), served beside the intake: reads in `reads`,
actions in `actions`, who is calling in `auth` (and `gateway.callers`), bodies and answers in `bodies`."""

from fastapi import APIRouter

from gateway.api import actions, reads

incidents_router = APIRouter()
incidents_router.include_router(actions.router)  # POST /v1/incidents, /v1/incidents/{ref}/...
incidents_router.include_router(reads.router)  # GET /v1/whoami, /v1/incidents..., /v1/boundaries/refusals

__all__ = ["incidents_router"]
