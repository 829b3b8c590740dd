"""The incidents API's routes, as the gateway app includes them."""

from fastapi import APIRouter

from gateway.api import actions, coordination, reads

incidents_router = APIRouter()
incidents_router.include_router(actions.router)  # POST /v1/incidents, /v1/incidents/{ref}/...
incidents_router.include_router(coordination.router)  # /v1/incidents/{ref}/roles, /updates
incidents_router.include_router(reads.router)  # GET /v1/whoami, /v1/incidents..., /v1/boundaries/refusals
