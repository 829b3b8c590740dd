"""Serving the agent tools: `baton mcp` over stdio (an editor starts it and the client ends it) or Streamable HTTP
(`--http`, 127.0.0.1:8401/mcp), where every request carries `Authorization: Bearer <token>` and Host and Origin are
checked against the address it is bound to. Either way the tools reach incidents only through the gateway
($BATON_URL), with the agent's own token: this process needs neither Temporal nor the gateway's key. Also runnable
without the CLI: `python -m gateway.mcp.serving [--agent NAME] [--http] [--host H] [--port P]`.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import inspect
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, InputRequiredResult, TextContent
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.callers import bearer
from gateway.client import Unavailable
from gateway.mcp.answers import Declined, compact
from gateway.mcp.catalog import INSTRUCTIONS, TOOLS
from gateway.mcp.identity import (
    AGENT_ENV,
    TOKEN_ENV,
    GatewayTokens,
    IdentityError,
    http_agents,
    prove,
    stdio_agent,
)
from gateway.mcp.tools import AgentTools
from gateway.remote import RemoteIncidents, gateway_url
from incident import display
from incident.config import AgentIdentity, Config, ConfigError, load_config
from incident.models import Actor

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8401
MCP_PATH = "/mcp"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


# ---- HTTP -------------------------------------------------------------------------------------------------------


class PlainServer(MCPServer):
    """An MCP server whose tool errors say what is wrong in plain words: no `Error executing tool` in front of
    them, and for arguments that do not fit, which argument and why, without pydantic's dump (or the value). An
    argument a tool does not take (an `actor`, `as` or `proof` an agent adds) is refused, never silently ignored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arguments: dict[str, frozenset[str]] = {}
        """Per tool, the arguments it takes."""

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> CallToolResult | InputRequiredResult:
        known = self.arguments.get(name)
        if known is not None and (unknown := sorted(set(arguments) - known)):
            text = unknown_arguments(name, unknown, known)
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            if isinstance(e, UnexpectedToolError):
                raise
            cause = e.__cause__
            if isinstance(cause, ValidationError):
                text = bad_arguments(name, cause)
            else:
                text = str(e).removeprefix(f"Error executing tool {name}: ")
            return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def bad_arguments(tool: str, e: ValidationError) -> str:
    """`page: target: a value is required; reason: at most 4000 characters`: each argument that does not fit."""
    problems = []
    for err in e.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in err["loc"] if p != tool and not str(p).endswith("Arguments")) or "arguments"
        problems.append(f"{where}: {err['msg']}")
    return f"{tool} cannot take these arguments: " + "; ".join(dict.fromkeys(problems))


def unknown_arguments(tool: str, unknown: list[str], known: frozenset[str]) -> str:
    """`add_note cannot take these arguments: actor: not an argument of add_note (it takes: incident_id, text)`."""
    problems = "; ".join(f"{display.one_line(k)[:64]}: not an argument of {tool}" for k in unknown)
    return f"{tool} cannot take these arguments: {problems} (it takes: {', '.join(sorted(known))})"


def tool_arguments(fn: Callable[..., Any]) -> frozenset[str]:
    """The arguments a tool's function takes from the client: all but the request context."""
    params = inspect.signature(fn).parameters.values()
    return frozenset(p.name for p in params if p.annotation not in (Context, "Context"))


def answering(fn: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
    """A tool whose clean "no" (`Declined`: a refusal, a busy incident) is its answer, not an error."""

    @functools.wraps(fn)
    async def tool(*args: Any, **kwargs: Any) -> str:
        try:
            return await fn(*args, **kwargs)
        except Declined as e:
            return compact(e.answer)

    return tool


def build_server(tools: AgentTools) -> MCPServer:
    server = PlainServer("baton", instructions=INSTRUCTIONS, version=_version(), log_level="WARNING")
    for spec in TOOLS:
        fn = getattr(tools, spec.name)
        server.arguments[spec.name] = tool_arguments(fn)
        server.add_tool(
            answering(fn),
            name=spec.name,
            title=spec.title,
            description=spec.description(fn.__doc__),
            annotations=spec.annotations.model_copy(update={"title": spec.title}),
            structured_output=False,
        )
    return server


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("baton")
    except PackageNotFoundError:
        return "0"


class AgentGate:
    """Every HTTP request needs `Authorization: Bearer <an agent's token>` (401 with a JSON body before any MCP
    processing otherwise), and goes to that agent's own server, whose tools act as it and reach the gateway with
    its token. Which agent a token is, the gateway says."""

    def __init__(self, apps: dict[str, Starlette], remotes: dict[str, RemoteIncidents], tokens: GatewayTokens):
        self.apps, self.remotes, self.tokens = apps, remotes, tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        token = bearer(Headers(scope=scope).get("authorization"))
        try:
            me = await self.tokens.who(token) if token else None
        except Unavailable as e:
            await _answer(scope, receive, send, 503, "gateway_unavailable", f"{e}; retry in a moment")
            return
        name = me.name if me is not None and me == Actor.agent(me.name) else None
        if name is None or name not in self.apps:
            await _answer(
                scope,
                receive,
                send,
                401,
                "unauthorized",
                "send Authorization: Bearer <token> with the token of an agent this server serves",
            )
            return
        self.remotes[name].token = token
        await self.apps[name](scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        """Each agent's server keeps its sessions (its lifespan) for as long as this one runs."""
        async with AsyncExitStack() as stack:
            await receive()  # lifespan.startup
            for app in self.apps.values():
                await stack.enter_async_context(app.router.lifespan_context(app))
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, error: str, message: str) -> None:
    headers = {"WWW-Authenticate": 'Bearer realm="baton"'} if status == 401 else None
    await JSONResponse({"error": error, "message": message}, status_code=status, headers=headers)(scope, receive, send)


def transport_security(host: str, port: int) -> TransportSecuritySettings:
    """Host and Origin must name this server: the bound address or a loopback name, with this port."""
    names = [host, *[h for h in LOOPBACK if h != host]]
    hosts = [f"[{h}]:{port}" if ":" in h else f"{h}:{port}" for h in names]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"{scheme}://{h}" for h in hosts for scheme in ("http", "https")],
    )


def http_app(config: Config, agents: dict[str, AgentIdentity], host: str, port: int, url: str | None = None) -> ASGIApp:
    """One MCP server per agent this server serves, each acting as its agent through the gateway at `url`."""
    apps, remotes = {}, {}
    for name in agents:
        remotes[name] = RemoteIncidents(None, url)
        server = build_server(AgentTools(config, remotes[name], {name: agents[name]}, agent=name))
        apps[name] = server.streamable_http_app(
            streamable_http_path=MCP_PATH, transport_security=transport_security(host, port), host=host
        )
    return AgentGate(apps, remotes, GatewayTokens(url))


def _bind(host: str, port: int) -> socket.socket:
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    return socket.create_server((host, port), family=family)


async def _serve_http(
    config: Config, agents: dict[str, AgentIdentity], host: str, port: int, sock: socket.socket
) -> None:
    import uvicorn

    from gateway.http_server import server_config

    app = http_app(config, agents, host, port)
    server = uvicorn.Server(server_config(app, lifespan="on"))
    shown = f"[{host}]" if ":" in host else host
    print(
        f"baton mcp: Streamable HTTP on http://{shown}:{port}{MCP_PATH} for agent(s) {', '.join(sorted(agents))}, "
        f"through the gateway at {gateway_url()}",
        file=sys.stderr,
        flush=True,
    )
    await server.serve(sockets=[sock])


async def _serve_stdio(config: Config, agent: str, remote: RemoteIncidents) -> None:
    tools = AgentTools(config, remote, {agent: config.agents[agent]}, agent=agent)
    await build_server(tools).run_stdio_async()


# ---- the command ------------------------------------------------------------------------------------------------


def mcp_command(agent: str | None, http: bool, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Run the MCP server until the client (stdio) or Ctrl-C (HTTP) ends it. Exit codes: 0 done, 1 cannot
    serve (e.g. the port is taken), 2 bad config or identity. Messages go to stderr: on stdio, stdout is the
    protocol."""
    try:
        config = load_config()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        if http:
            agents = http_agents(config, agent)
        else:
            name, token = stdio_agent(config, agent, os.environ)
            remote = RemoteIncidents(token)
            asyncio.run(prove(remote, name))
    except IdentityError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Unavailable as e:
        print(f"error: {e}: is `baton up` running? (set BATON_URL if the gateway runs elsewhere)", file=sys.stderr)
        return 1
    if http:
        try:
            sock = _bind(host, port)
        except OSError as e:
            print(f"error: cannot listen on {host}:{port}: {e.strerror or e}", file=sys.stderr)
            return 1
        if host not in LOOPBACK:
            print(
                f"warning: listening on {host}, beyond this machine; every request still needs an agent's token",
                file=sys.stderr,
            )
    try:
        asyncio.run(_serve_http(config, agents, host, port, sock) if http else _serve_stdio(config, name, remote))
    except KeyboardInterrupt:
        return 130
    return 0


def main(argv: list[str] | None = None) -> None:
    """`python -m gateway.mcp.serving`: the same server as `baton mcp`, without the CLI."""
    parser = argparse.ArgumentParser(prog="baton mcp", description="Serve baton's agent tools over MCP.")
    parser.add_argument("--agent", help=f"the agent identity (default: ${AGENT_ENV}); its token in ${TOKEN_ENV}")
    parser.add_argument("--http", action="store_true", help="Streamable HTTP instead of stdio")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"HTTP address (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"HTTP port (default {DEFAULT_PORT})")
    args = parser.parse_args(argv)
    code = mcp_command(args.agent, args.http, args.host, args.port)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # Temporal's native runtime keeps threads that can crash a finalising interpreter


if __name__ == "__main__":
    main()
