"""Who may call the incidents API: a person or an agent named by their own bearer token (checked before the body
is read, in constant time), and which calls are for whom. A refusal here is a 401 (no token, or one nobody has)
or a 403 (the right token for the wrong call), with a sentence that says which."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.callers import bearer, owner_of
from gateway.intake.dependencies import IntakeDep
from gateway.intake.errors import BEARER, ApiError
from gateway.intake.guard import guards
from incident.models import Actor, ActorKind

HOW = "send Authorization: Bearer <token>, your own from the config (people.NAME.token or agents.NAME.token)"


@guards
async def caller(request: Request, intake: IntakeDep) -> Actor:
    token = bearer(request.headers.get("authorization"))
    if not token:
        raise ApiError(401, "unauthorized", HOW, BEARER)
    who = intake.callers.of(token)
    if who is not None:
        return who
    integration = owner_of(intake.tokens, token)
    if integration is not None:
        raise ApiError(
            403,
            "forbidden",
            f"this is the {integration} integration's token; the incidents API needs a person's "
            "or an agent's own token",
        )
    raise ApiError(401, "unauthorized", f"the bearer token is no person's or agent's: {HOW}", BEARER)


Caller = Annotated[Actor, Depends(caller)]


def agents_only(who: Actor, what: str) -> None:
    if who.kind is not ActorKind.AGENT:
        raise ApiError(
            403,
            "forbidden",
            f"{what} is for agents, and this is {who}'s token; people open incidents by posting an "
            "event (POST /v1/events)",
        )


def refused_to_agents(who: Actor, what: str, record: str) -> ApiError:
    """A human decision asked for with an agent's token: the incident has recorded the attempt (`record`)."""
    return ApiError(
        403, "forbidden", f"{what} is a human decision: {who} may not {what} (on the incident's record: {record})"
    )
