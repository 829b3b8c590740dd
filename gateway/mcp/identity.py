"""Who the MCP server acts as: one configured agent identity (`agents:` in the config), proven by its token. On
stdio the agent is named by `--agent NAME` (or $BATON_AGENT) and proven by its token in $BATON_AGENT_TOKEN; over
HTTP each request's `Authorization: Bearer <token>` names the agent. Tokens are compared in constant time, and the
server refuses to start when it cannot prove who it is.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from incident.config import AgentIdentity, Config, config_path

TOKEN_ENV = "BATON_AGENT_TOKEN"
AGENT_ENV = "BATON_AGENT"


class IdentityError(Exception):
    """The server cannot act as anyone: no such agent, no token, or the wrong one."""


def agent_for_token(agents: Mapping[str, AgentIdentity], presented: str | None) -> str | None:
    """The agent whose configured token is `presented`, compared in constant time against every agent."""
    found = None
    given = (presented or "").encode()
    for name, identity in agents.items():
        expected = identity.token.reveal()
        if expected and given and hmac.compare_digest(expected.encode(), given) and found is None:
            found = name
    return found


def bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return (token.strip() or None) if scheme.lower() == "bearer" else None


def _known(config: Config) -> str:
    return ", ".join(sorted(config.agents)) or "none"


def _require_agents(config: Config) -> None:
    if not config.agents:
        raise IdentityError(
            f"{config_path()} has no `agents:` section: add one, e.g. "
            "agents: {triage: {token: env:BATON_AGENT_TRIAGE_TOKEN}} (see docs/mcp.md)"
        )


def _expected_token(name: str, identity: AgentIdentity) -> str:
    token = identity.token.reveal()
    if not token:
        raise IdentityError(f"agents.{name}.token: environment variable {identity.token.env_var} is not set")
    return token


def stdio_identity(config: Config, agent: str | None, env: Mapping[str, str]) -> str:
    """The agent a stdio server acts as: named, configured, and proven by the token in $BATON_AGENT_TOKEN."""
    _require_agents(config)
    name = agent or env.get(AGENT_ENV)
    if not name:
        raise IdentityError(f"which agent? pass --agent NAME or set {AGENT_ENV} (agents: {_known(config)})")
    if name not in config.agents:
        raise IdentityError(f"{name!r} is not an agent in {config_path()} (agents: {_known(config)})")
    expected = _expected_token(name, config.agents[name])
    presented = env.get(TOKEN_ENV, "")
    if not presented:
        raise IdentityError(f"set {TOKEN_ENV} to agent {name}'s token")
    if not hmac.compare_digest(expected.encode(), presented.encode()):
        raise IdentityError(f"{TOKEN_ENV} is not agent {name}'s token")
    return name


def http_agents(config: Config, agent: str | None) -> dict[str, AgentIdentity]:
    """The agents an HTTP server accepts tokens for: every configured one with a token, or only `agent`."""
    _require_agents(config)
    if agent is not None and agent not in config.agents:
        raise IdentityError(f"{agent!r} is not an agent in {config_path()} (agents: {_known(config)})")
    wanted = {agent: config.agents[agent]} if agent else dict(config.agents)
    if agent:
        _expected_token(agent, wanted[agent])
    usable = {name: ident for name, ident in wanted.items() if ident.token.reveal()}
    if not usable:
        unset = ", ".join(f"{ident.token.env_var}" for ident in wanted.values() if ident.token.env_var)
        raise IdentityError(f"no agent has a token: set {unset}")
    tokens: dict[str, str] = {}
    for name, ident in usable.items():
        token = ident.token.reveal() or ""
        if token in tokens:
            raise IdentityError(f"agents {tokens[token]} and {name} share a token: each agent needs its own")
        tokens[token] = name
    return usable
