"""Who the MCP server acts as: one configured agent identity (`agents:` in the config), proven by its token to
the gateway, which alone knows the agents' tokens. On stdio the agent is named by `--agent NAME` (or $BATON_AGENT)
and its token is $BATON_AGENT_TOKEN; over HTTP each request's `Authorization: Bearer <token>` names the agent. The
server refuses to start when the gateway does not know the token as that agent's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping

from gateway.callers import bearer as bearer  # re-exported: the tools read an HTTP request's token with it
from gateway.callers import owner_of
from gateway.remote import RemoteIncidents, Unauthenticated
from incident.config import AgentIdentity, Config, config_path
from incident.models import Actor

TOKEN_ENV = "BATON_AGENT_TOKEN"
AGENT_ENV = "BATON_AGENT"


class IdentityError(Exception):
    """The server cannot act as anyone: no such agent, no token, or the wrong one."""


def agent_for_token(agents: Mapping[str, AgentIdentity], presented: str | None) -> str | None:
    """The agent whose configured token is `presented`, compared in constant time against every agent."""
    return owner_of({name: identity.token.reveal() for name, identity in agents.items()}, presented)


def _known(config: Config) -> str:
    return ", ".join(sorted(config.agents)) or "none"


def _require_agents(config: Config) -> None:
    if not config.agents:
        raise IdentityError(
            f"{config_path()} has no `agents:` section: add one, e.g. "
            "agents: {triage: {token: env:BATON_AGENT_TRIAGE_TOKEN}} (see docs/mcp.md)"
        )


def stdio_agent(config: Config, agent: str | None, env: Mapping[str, str]) -> tuple[str, str]:
    """The agent a stdio server acts as (named, and configured) and its token from $BATON_AGENT_TOKEN; the
    gateway proves it (`prove`)."""
    _require_agents(config)
    name = agent or env.get(AGENT_ENV)
    if not name:
        raise IdentityError(f"which agent? pass --agent NAME or set {AGENT_ENV} (agents: {_known(config)})")
    if name not in config.agents:
        raise IdentityError(f"{name!r} is not an agent in {config_path()} (agents: {_known(config)})")
    presented = env.get(TOKEN_ENV, "")
    if not presented:
        raise IdentityError(f"set {TOKEN_ENV} to agent {name}'s token")
    return name, presented


async def prove(remote: RemoteIncidents, name: str) -> None:
    """The gateway knows `remote`'s token as agent `name`'s; else IdentityError (GatewayUnreachable passes)."""
    try:
        me = await remote.whoami()
    except Unauthenticated:
        raise IdentityError(f"{TOKEN_ENV} is not agent {name}'s token") from None
    if me != Actor.agent(name):
        raise IdentityError(f"{TOKEN_ENV} is {me}'s token, not agent {name}'s")


def http_agents(config: Config, agent: str | None) -> dict[str, AgentIdentity]:
    """The agents an HTTP server serves: every configured one, or only `agent`."""
    _require_agents(config)
    if agent is not None and agent not in config.agents:
        raise IdentityError(f"{agent!r} is not an agent in {config_path()} (agents: {_known(config)})")
    return {agent: config.agents[agent]} if agent else dict(config.agents)


class GatewayTokens:
    """Which agent an HTTP request's token is, as the gateway says (asked once a minute per token at most)."""

    TTL = 60.0

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self._known: dict[str, tuple[float, Actor]] = {}

    async def who(self, token: str) -> Actor | None:
        """The token's owner, or None when the gateway knows no one by it. Raises GatewayUnreachable."""
        key = hashlib.sha256(token.encode()).hexdigest()
        hit = self._known.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            me = await RemoteIncidents(token, self.url).whoami()
        except Unauthenticated:
            self._known.pop(key, None)
            return None
        self._known[key] = (time.monotonic() + self.TTL, me)
        return me
