"""The incidents façade over the gateway's HTTP API, for the CLI and the MCP server: the same calls as
`gateway.client.Incidents` (the ones they use), the same answers and the same three errors, but sent to the
gateway (`$BATON_URL`) with a person's or an agent's own token. The gateway decides who acts from the token and
attests it with its key; this process needs neither that key nor access to Temporal.

Every acting call takes the `actor` the local façade takes, and refuses (before sending anything) an actor the
token is not: whoever acts is the token's owner, never a name a caller passes.
"""

from __future__ import annotations

import os
import re
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter

from gateway.api.bodies import Me, Opened, Postmortem, Run, Summary
from gateway.client import Busy, IncidentRef, IncidentSummary, NotFound, Pinned, Refused, Unavailable
from incident.approvals import RefusalRow
from incident.context import Change
from incident.heartbeats import HeartbeatView
from incident.maintenance import WindowView
from incident.models import Actor, Severity, Status, UpdateReply
from incident.readiness import Readiness, ReadinessLog
from incident.record import AgentView
from incident.shadow import ShadowRow
from incident.state import IncidentPolicy, IncidentState
from workflows.messages import ActionReply

URL_ENV = "BATON_URL"
TOKEN_ENV = "BATON_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8400"
TIMEOUT = httpx.Timeout(40.0, connect=5.0)
"""Longer than the gateway's own wait for an incident's answer (30 s)."""
M = TypeVar("M")
R = TypeVar("R", bound=UpdateReply)


def gateway_url() -> str:
    return os.environ.get(URL_ENV) or DEFAULT_URL


TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
"""What a bearer token may hold: visible ASCII. Anything else cannot go in a header and is no one's token."""


class GatewayUnreachable(Unavailable):
    """Nothing answers at the gateway's address (or it answered with something that is not baton)."""


class Unauthenticated(Refused):
    """401: no token, or one the gateway does not know."""


class Forbidden(Refused):
    """403: the token is known, but not for this (an agent's on a human decision, a person's where agents act)."""


def _path(ref: str | Pinned | IncidentRef) -> str:
    if isinstance(ref, IncidentRef):
        ref = ref.workflow_id
    return quote(str(ref.workflow_id if isinstance(ref, Pinned) else ref), safe=":@")


def _coded(body: dict[str, Any], code: str | None) -> dict[str, Any]:
    """A judgment call's body, with the person's one-time code when there is one (the gateway checks it)."""
    return body | {"code": code} if code is not None else body


class RemoteIncidents:
    def __init__(self, token: str | None, url: str | None = None, transport: httpx.AsyncBaseTransport | None = None):
        self.url = (url or gateway_url()).rstrip("/")
        self.token = token
        """May be set later: an MCP HTTP server learns each agent's token from its first verified request."""
        self._transport = transport
        self._me: Actor | None = None

    # ---- the wire ---------------------------------------------------------------------------------------------

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        query = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in params.items() if v is not None}
        if self.token and not TOKEN_CHARS.fullmatch(self.token):
            raise Unauthenticated(
                "the token holds whitespace or a control character, so it is not a token (a copy with a newline?)"
            )
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=TIMEOUT) as http:
                resp = await http.request(method, self.url + path, json=body, params=query, headers=headers)
        except httpx.HTTPError as e:
            raise GatewayUnreachable(f"cannot reach the baton gateway at {self.url} ({type(e).__name__})") from None
        if resp.is_success:
            return resp.json()
        try:
            answer = resp.json()
            message = str(answer["message"])
        except (ValueError, KeyError, TypeError):
            raise GatewayUnreachable(f"{self.url} answered {resp.status_code}, not as baton's gateway") from None
        if resp.status_code == 401:
            raise Unauthenticated(message)
        if resp.status_code == 403:
            raise Forbidden(message)
        if resp.status_code == 404:
            raise NotFound(message)
        if resp.status_code == 503:
            raise Unavailable(message)
        if answer.get("error") == "busy":
            raise Busy(message)
        raise Refused(message, answer.get("rule"), answer.get("verdict"))

    async def _get(self, kind: type[M], path: str, **params: Any) -> M:
        return TypeAdapter(kind).validate_python(await self._call("GET", path, **params))

    async def _act(
        self,
        actor: Actor,
        path: str,
        body: dict[str, Any] | None = None,
        reply: type[R] = UpdateReply,  # type: ignore[assignment]
    ) -> R:
        me = await self.whoami()
        if actor != me:
            raise Forbidden(f"this token is {me}'s; it cannot act as {actor}")
        return reply.model_validate(await self._call("POST", path, body))

    # ---- who ----------------------------------------------------------------------------------------------------

    async def whoami(self) -> Actor:
        """Who the token is (asked once): the person or agent every request acts as."""
        if self._me is None:
            self._me = Actor.parse((await self._get(Me, "/v1/whoami")).actor)
        return self._me

    # ---- reading ------------------------------------------------------------------------------------------------

    async def find(self, ref: str | Pinned) -> IncidentRef:
        return (await self._get(Run, f"/v1/incidents/{_path(ref)}/run")).ref()

    async def search(
        self,
        status: Status | None = None,
        severity: Severity | None = None,
        service: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        lead: str | None = None,
    ) -> list[IncidentSummary]:
        rows: list[Summary] = await self._get(
            list[Summary],
            "/v1/incidents",
            status=status.value if status else None,
            severity=severity.value if severity else None,
            service=service,
            since=since,
            limit=limit,
            lead=lead,
        )
        return [r.summary() for r in rows]

    async def state(self, ref: str | Pinned | IncidentRef) -> IncidentState:
        return await self._get(IncidentState, f"/v1/incidents/{_path(ref)}")

    async def policy(self, ref: str | Pinned | IncidentRef) -> IncidentPolicy:
        return await self._get(IncidentPolicy, f"/v1/incidents/{_path(ref)}/policy")

    async def postmortem(self, ref: str) -> str:
        return (await self._get(Postmortem, f"/v1/incidents/{_path(ref)}/postmortem")).markdown

    async def changes(self, service: str, since: datetime) -> list[Change]:
        return await self._get(list[Change], f"/v1/services/{quote(service, safe='')}/changes", since=since)

    async def refusals(self, since: datetime) -> list[RefusalRow]:
        return await self._get(list[RefusalRow], "/v1/boundaries/refusals", since=since)

    async def shadow(self, since: datetime) -> list[ShadowRow]:
        return await self._get(list[ShadowRow], "/v1/boundaries/shadow", since=since)

    # ---- acting -------------------------------------------------------------------------------------------------

    async def open_incident(
        self, actor: Actor, service: str, summary: str, severity: Severity, idempotency_key: str
    ) -> Opened:
        """An agent opens an incident; Refused (with rule and verdict) when its policy or budget says no."""
        me = await self.whoami()
        if actor != me:
            raise Forbidden(f"this token is {me}'s; it cannot act as {actor}")
        body = {"service": service, "summary": summary, "severity": severity.value, "idempotency_key": idempotency_key}
        return Opened.model_validate(await self._call("POST", "/v1/incidents", body))

    async def withdraw(self, ref: str | Pinned, actor: Actor, approval_id: str, reason: str = "") -> UpdateReply:
        path = f"/v1/incidents/{_path(ref)}/approvals/{quote(approval_id, safe='')}/withdraw"
        return await self._act(actor, path, {"reason": reason})

    async def acknowledge(self, ref: str | Pinned, actor: Actor) -> UpdateReply:
        return await self._act(actor, f"/v1/incidents/{_path(ref)}/ack")

    async def resolve(self, ref: str | Pinned, actor: Actor, summary: str = "", code: str | None = None) -> UpdateReply:
        return await self._act(actor, f"/v1/incidents/{_path(ref)}/resolve", _coded({"summary": summary}, code))

    async def set_severity(
        self, ref: str | Pinned, actor: Actor, severity: Severity, reason: str = "", code: str | None = None
    ) -> UpdateReply:
        body = _coded({"severity": severity.value, "reason": reason}, code)
        return await self._act(actor, f"/v1/incidents/{_path(ref)}/severity", body)

    async def note(self, ref: str | Pinned, actor: Actor, text: str) -> UpdateReply:
        return await self._act(actor, f"/v1/incidents/{_path(ref)}/notes", {"text": text})

    async def set_role(
        self,
        ref: str | Pinned,
        actor: Actor,
        role: str,
        person: str | None = None,
        propose: bool = False,
        reason: str = "",
    ) -> UpdateReply:
        body = {"role": role, "person": person, "propose": propose, "reason": reason}
        return await self._act(actor, f"/v1/incidents/{_path(ref)}/roles", body)

    async def stakeholder_update(
        self,
        ref: str | Pinned,
        actor: Actor,
        text: str | None = None,
        audience: str = "internal",
        propose: bool = False,
        code: str | None = None,
    ) -> UpdateReply:
        body = _coded({"text": text, "audience": audience, "propose": propose}, code)
        return await self._act(actor, f"/v1/incidents/{_path(ref)}/updates", body)

    async def request(
        self,
        ref: str | Pinned,
        actor: Actor,
        action: str,
        rationale: str = "",
        params: dict[str, str] | None = None,
        text: str | None = None,
        request_id: str | None = None,
        code: str | None = None,
    ) -> ActionReply:
        body = {"action": action, "rationale": rationale, "params": params or {}, "text": text}
        body["request_id"] = request_id
        body["code"] = code
        sent = {k: v for k, v in body.items() if v is not None}
        return await self._act(actor, f"/v1/incidents/{_path(ref)}/requests", sent, ActionReply)

    async def approve(
        self, ref: str | Pinned, actor: Actor, approval_id: str, text: str | None = None, code: str | None = None
    ) -> UpdateReply:
        path = f"/v1/incidents/{_path(ref)}/approvals/{quote(approval_id, safe='')}/approve"
        return await self._act(actor, path, _coded({"text": text} if text is not None else {}, code))

    async def deny(
        self, ref: str | Pinned, actor: Actor, approval_id: str, reason: str, code: str | None = None
    ) -> UpdateReply:
        path = f"/v1/incidents/{_path(ref)}/approvals/{quote(approval_id, safe='')}/deny"
        return await self._act(actor, path, _coded({"reason": reason}, code))

    async def reload(self, ref: str | Pinned, actor: Actor, policy: IncidentPolicy | None = None) -> UpdateReply:
        """Apply the gateway's config as it is now; `policy` is not sent: the gateway takes its own."""
        return await self._act(actor, f"/v1/incidents/{_path(ref)}/reload")

    # ---- before the page: heartbeats and readiness ------------------------------------------------------------

    async def agent_record(self, agent: str) -> AgentView:
        return await self._get(AgentView, f"/v1/agents/{quote(agent, safe='')}")

    async def agent_records(self) -> list[AgentView]:
        return await self._get(list[AgentView], "/v1/agents")

    async def heartbeats(self) -> list[HeartbeatView]:
        return await self._get(list[HeartbeatView], "/v1/heartbeats")

    async def pause_heartbeat(self, actor: Actor, name: str, pause: bool, reason: str = "") -> HeartbeatView:
        me = await self.whoami()
        if actor != me:
            raise Forbidden(f"this token is {me}'s; it cannot act as {actor}")
        path = f"/v1/heartbeats/{quote(name, safe='')}/{'pause' if pause else 'resume'}"
        return HeartbeatView.model_validate(await self._call("POST", path, {"reason": reason} if pause else None))

    # ---- maintenance windows ----------------------------------------------------------------------------------

    async def start_maintenance(
        self, target: str, duration: str, message: str = "", start: datetime | None = None
    ) -> WindowView:
        body: dict[str, Any] = {"target": target, "for": duration, "message": message}
        if start is not None:
            body["start"] = start.isoformat()
        return WindowView.model_validate(await self._call("POST", "/v1/maintenance", body))

    async def maintenance_windows(self) -> list[WindowView]:
        return await self._get(list[WindowView], "/v1/maintenance")

    async def maintenance_window(self, window_id: str) -> WindowView:
        return await self._get(WindowView, f"/v1/maintenance/{quote(window_id, safe='')}")

    async def end_maintenance(self, window_id: str) -> WindowView:
        return WindowView.model_validate(await self._call("DELETE", f"/v1/maintenance/{quote(window_id, safe='')}"))

    async def readiness(self, days: int) -> Readiness:
        return await self._get(Readiness, "/v1/readiness", days=days)

    async def readiness_history(self) -> ReadinessLog:
        return await self._get(ReadinessLog, "/v1/readiness/history")
