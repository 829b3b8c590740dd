"""The incidents API's routes, as the gateway app includes them."""

from fastapi import APIRouter

from gateway.api import actions, agents, coordination, heartbeats, maintenance, readiness, reads

incidents_router = APIRouter()
incidents_router.include_router(actions.router)  # POST /v1/incidents, /v1/incidents/{ref}/...
incidents_router.include_router(coordination.router)  # /v1/incidents/{ref}/roles, /updates
incidents_router.include_router(reads.router)  # GET /v1/whoami, /v1/incidents..., /v1/boundaries/refusals
incidents_router.include_router(heartbeats.router)  # GET /v1/heartbeats, POST /v1/heartbeats/{name}/pause, /resume
incidents_router.include_router(maintenance.router)  # /v1/maintenance, /v1/maintenance/{id} (POST, GET, DELETE)
incidents_router.include_router(agents.router)  # GET /v1/agents, /v1/agents/{name} (people)
incidents_router.include_router(readiness.router)  # GET /v1/readiness, /v1/readiness/history
