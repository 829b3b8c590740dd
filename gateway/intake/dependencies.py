"""What the intake's routes share, as FastAPI dependencies: the config, the incidents façade, the coalescer in
front of it, and each integration's bearer token."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from gateway.callers import Callers
from gateway.client import Incidents
from gateway.coalescer import Coalescer
from gateway.intake.crossing import problem
from gateway.intake.errors import BEARER, ApiError
from gateway.intake.guard import guards
from gateway.maintenance import OpenWindows, Windows
from gateway.memo import SharedMemo
from gateway.step_up import StepUp
from incident.config import Config
from incident.state import IncidentPolicy


@dataclass
class Intake:
    """One per app (`app.state.intake`): built once from the config, read by every request."""

    config: Config
    incidents: Incidents
    tokens: dict[str, str | None]
    policies: dict[str, IncidentPolicy]
    coalescer: Coalescer
    callers: Callers
    step_up: StepUp
    """Checks one-time codes; remembers each used one (a code counts once)."""
    """The people and agents who may use the incidents API, by their tokens."""
    load: Callable[[], Config]
    """The config as it is now (the file, read again): what `reload` applies to a running incident."""
    windows: Windows
    """Maintenance windows: the running ones' matchers cached (`OpenWindows`), read per alert."""

    @classmethod
    def build(cls, config: Config, incidents: Incidents, load: Callable[[], Config] | None = None) -> Intake:
        """Raises ValueError for a service whose policy would not reach its incidents unchanged (every incident
        starts with it, so that is refused when the intake starts, not when an alert comes), and for two people or
        agents sharing a token."""
        policies = {name: IncidentPolicy.snapshot(config, name) for name in config.services}
        for name, policy in policies.items():
            if (why := problem(policy)) is not None:
                raise ValueError(f"services.{name}: its policy {why}")
        return cls(
            config=config,
            incidents=incidents,
            tokens={name: integ.token.reveal() for name, integ in config.integrations.intake().items()},
            policies=policies,
            coalescer=Coalescer(incidents.send_batch, incidents.buffer_alerts, incidents.buffer_history),
            callers=Callers.from_config(config),
            step_up=StepUp(config, shared=SharedMemo(incidents.client, incidents.task_queue, "codes")),
            load=load or (lambda: config),
            windows=Windows(
                incidents.client, incidents.task_queue, OpenWindows(incidents.client, incidents.task_queue)
            ),
        )


def intake(request: Request) -> Intake:
    state: Intake = request.app.state.intake
    return state


IntakeDep = Annotated[Intake, Depends(intake)]


def _same(given: str, expected: str | None) -> bool:
    """Constant-time; an unset token matches nothing."""
    if not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def credential(integration: str, query_token: bool = False) -> Callable[[Request, Intake], Awaitable[None]]:
    """Bearer token per integration (constant-time compare); Datadog may send it as `?token=` instead. A guarded
    route (gateway.intake.guard) runs it before the body is read."""

    @guards
    async def check(request: Request, intake: IntakeDep) -> None:
        tokens = intake.tokens
        if integration not in tokens:
            raise ApiError(404, "integration_disabled", f"the {integration} integration is not configured")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if not given or scheme.lower() != "bearer":
            given = request.query_params.get("token", "") if query_token else ""
        if not given:
            how = "`Authorization: Bearer <token>`" + (" or `?token=<token>`" if query_token else "")
            raise ApiError(401, "unauthorized", f"send {how} for the {integration} integration", BEARER)
        if _same(given, tokens[integration]):
            return
        other = next((name for name, tok in tokens.items() if name != integration and _same(given, tok)), None)
        if other:
            raise ApiError(403, "forbidden", f"this token is for the {other} integration, not {integration}")
        raise ApiError(401, "unauthorized", "the bearer token is not valid", BEARER)

    return check
