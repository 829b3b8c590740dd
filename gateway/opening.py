"""An agent opens an incident: decided by the policy (opening pages, so it is `page` at the severity asked for),
counted against the agent's budget of incidents, and started at no less than the most severe open incident of the
same service (the severity floor). In the gateway, so every path an agent has (MCP, the API) goes through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.client import Incidents, Ingested, NotFound, Refused
from incident.config import AgentBudget, Config
from incident.ids import workflow_id_for
from incident.models import Actor, Alert, Severity
from incident.state import IncidentPolicy
from workflows.agent import OpenRequest


@dataclass(frozen=True)
class Opening:
    ingested: Ingested
    incident_id: str | None
    opened: bool
    message: str
    floor: Severity | None
    """The severity the agent's requests are decided at until a human confirms, when stricter than the one asked."""


def _budget(config: Config, me: Actor) -> AgentBudget:
    identity = config.agents.get(me.name)
    return identity.budget if identity is not None else AgentBudget()


async def _count(
    incidents: Incidents, config: Config, me: Actor, wid: str, rule: str, limit: int = 0, refused_by: str | None = None
) -> tuple[bool, str, str | None, str | None]:
    window = int(_budget(config, me).window.total_seconds())
    req = OpenRequest(key=wid, limit=limit, window_s=max(window, 1), rule=rule, refused_by=refused_by)
    reply = await incidents.count_opening(me.name, req)
    return reply.ok, reply.message, reply.rule, reply.verdict


async def open_for_agent(
    incidents: Incidents,
    config: Config,
    policy: IncidentPolicy,
    me: Actor,
    service: str,
    summary: str,
    severity: Severity,
    idempotency_key: str,
) -> Opening:
    """Open (or join, by the idempotency key) an incident for `me`; Refused (with rule and verdict) when the policy
    or the budget says no: then nothing is opened and nobody is paged, and the refusal is counted."""
    scope = f"mcp:{me.name}"
    wid = workflow_id_for(scope, idempotency_key)
    decision = config.boundaries.decide_open(me, severity)
    if not decision.allowed:
        await _count(incidents, config, me, wid, decision.rule, refused_by=decision.verdict.value)
        raise Refused(
            f"refused by {decision.rule}: nothing was opened and nobody paged", decision.rule, decision.verdict.value
        )
    try:
        joined = (await incidents.find(wid)).open
    except NotFound:
        joined = False
    if not joined:
        budget = _budget(config, me)
        ok, message, rule, verdict = await _count(
            incidents, config, me, wid, budget.rule(me.name, "incidents"), limit=budget.incidents
        )
        if not ok:
            raise Refused(f"refused by {rule}: {message}; nothing was opened", rule, verdict)
    floor = await incidents.severity_floor(service, besides=wid)
    alert = Alert(
        source="mcp",
        scope=scope,
        dedup_key=idempotency_key,
        event_id=f"{scope}:{idempotency_key}",
        summary=summary,
        service=service,
        severity=severity,
        details={"opened_by": str(me)},
        received_at=datetime.now(UTC),
        opened_by=str(me),
        severity_floor=floor,
    )
    ingested = await incidents.ingest(alert, policy, scope=scope)
    found = await incidents.find(ingested.workflow_id)
    message = (
        f"this idempotency_key already names open incident {found.incident_id}; nothing new was opened"
        if joined
        else f"{found.incident_id} opened; on-call people for {service} are being paged"
    )
    stricter = floor is not None and list(Severity).index(floor) < list(Severity).index(severity)
    if stricter and not joined:
        message += (
            f"; another open incident of {service} is {floor}: until a human confirms this one's severity, "
            f"your requests here are decided at {floor}"
        )
    return Opening(ingested, found.incident_id, not joined, message, floor if stricter and not joined else None)
