"""Who leads, from the command line: take a role or hand it to someone, as whoever $BATON_TOKEN is. The incident
decides whether the role and the person exist; a name that cannot be one is bad usage (exit 2)."""

from __future__ import annotations

from typing import Annotated

import typer

from gateway.cli.common import AsOpt, IdArg, JsonOpt, act, done, fail
from gateway.client import Refused
from gateway.remote import RemoteIncidents
from incident.coordination import LEAD
from incident.models import NAME, Actor, UpdateReply

NameArg = Annotated[
    str | None, typer.Argument(help="Who gets it (a person in the config); leave out to take it yourself.")
]


def lead(incident: IdArg, name: NameArg = None, as_: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Take the lead of an incident, or hand it to NAME. Every change is on the timeline.

    Examples: baton lead INC-7K2Q9M; baton lead INC-7K2Q9M dave
    """
    done(_set(incident, LEAD, name, as_), as_json)


def role(
    incident: IdArg,
    role: Annotated[str, typer.Argument(help="lead, or a role the config defines (coordination.roles).")],
    name: NameArg = None,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Take a role of an incident (comms, scribe, … as coordination.roles says), or hand it to NAME.

    Examples: baton role INC-7K2Q9M comms; baton role INC-7K2Q9M scribe erin
    """
    done(_set(incident, role, name, as_), as_json)


def _set(incident: str, role: str, name: str | None, as_: str | None) -> UpdateReply:
    if not NAME.match(role):
        raise fail(f"{role!r} is not a role name (lowercase letters, digits, . _ -)", 2)
    person = name.removeprefix("@").removeprefix("user:") if name is not None else None
    if person is not None and not NAME.match(person):
        raise fail(f"{name!r} is not a person's name as the config spells it (lowercase letters, digits, . _ -)", 2)

    async def call(c: RemoteIncidents, me: Actor) -> UpdateReply:
        try:
            return await c.set_role(incident, me, role, person)
        except Refused as e:
            if str(e).startswith("unknown "):  # a role or a person the incident does not have: bad usage
                raise fail(str(e), 2) from None
            raise

    return act(as_, call)
