"""Who is calling the gateway: a person or an agent from the config, proven by their own token.

Every person (`people.NAME.token`) and every agent (`agents.NAME.token`) has a token of their own; a request's
`Authorization: Bearer <token>` is compared, in constant time, against all of them, and the one it matches decides
who acts. A name in a request body never does.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from incident.config import Config
from incident.models import Actor


class SharedToken(ValueError):
    """Two identities with one token: a token must say who is calling."""


def owner_of(tokens: Mapping[str, str | None], presented: str | None) -> str | None:
    """The name whose token is `presented`, compared in constant time against every one (an unset token matches
    nothing), so how long it takes does not tell which name came close."""
    found = None
    given = (presented or "").encode()
    for name, expected in tokens.items():
        if expected and given and hmac.compare_digest(expected.encode(), given) and found is None:
            found = name
    return found


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class Callers:
    """The people and agents the gateway knows by their tokens (read from the environment once, at start)."""

    tokens: dict[Actor, str]

    @classmethod
    def from_config(cls, config: Config) -> Callers:
        """Raises SharedToken when two identities (or an identity and an integration) hold the same token."""
        found: dict[Actor, str] = {}
        for name, person in config.people.items():
            if person.token is not None and (token := person.token.reveal()):
                found[Actor.human(name)] = token
        for name, agent in config.agents.items():
            if token := agent.token.reveal():
                found[Actor.agent(name)] = token
        seen: dict[str, str] = {}
        for caller, token in found.items():
            if token in seen:
                raise SharedToken(f"{seen[token]} and {caller} share a token: each person and agent needs their own")
            seen[token] = str(caller)
        for name, integration in config.integrations.intake().items():
            if (token := integration.token.reveal()) and token in seen:
                raise SharedToken(f"{seen[token]} has the token of integrations.{name}: give them different tokens")
        return cls(found)

    def of(self, presented: str | None) -> Actor | None:
        """`human:NAME` or `agent:NAME` whose token `presented` is, or None."""
        found = owner_of({str(actor): token for actor, token in self.tokens.items()}, presented)
        return Actor.parse(found) if found else None
