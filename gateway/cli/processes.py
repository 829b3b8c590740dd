"""Commands that start something and keep running (or play drills): each imports what it runs only when called,
so `baton show` does not load a worker, uvicorn or the MCP server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from gateway.cli.common import JsonOpt, check_config


def drill(
    files: Annotated[list[Path], typer.Argument(help="Scenario files (YAML), e.g. drills/*.yaml.")],
    config: Annotated[
        str | None, typer.Option("--config", help="Run against this config instead of the scenario's own.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run scenario files against a config in virtual time: pages captured, actions described, never sent.

    Exit 0 when every expectation holds, 1 when one does not, 2 for a bad scenario or config.
    Example: baton drill drills/*.yaml --config baton.yaml
    """
    from gateway.drill import drill_command

    raise typer.Exit(drill_command(files, config, as_json))


def mcp(
    agent: Annotated[
        str | None,
        typer.Option(help="The agent identity from `agents:` (default $BATON_AGENT); its token in $BATON_AGENT_TOKEN."),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Serve Streamable HTTP instead of stdio (bearer token).")
    ] = False,
    host: Annotated[
        str, typer.Option(help="HTTP: the address to bind (loopback unless you say otherwise).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP: the port.")] = 8401,
) -> None:
    """Serve baton's tools to an agent over MCP (stdio by default), acting as one configured agent identity.

    Example: claude mcp add --transport stdio baton --env BATON_AGENT_TOKEN=... -- baton mcp --agent triage
    """
    from gateway.mcp.serving import mcp_command

    raise typer.Exit(mcp_command(agent, http, host, port))


def worker() -> None:
    """Run a worker (the incident workflows and their activities) against $TEMPORAL_ADDRESS."""
    from worker import run_worker

    check_config()
    asyncio.run(run_worker())


def intake(
    with_worker: Annotated[bool, typer.Option("--with-worker", help="Also run a worker in this process.")] = False,
) -> None:
    """Run the HTTP intake on $BATON_HTTP_ADDR (default 127.0.0.1:8400)."""
    import starter

    check_config()
    starter.serve(with_worker=with_worker)


def up(
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    http_port: Annotated[int, typer.Option(help="Intake port.")] = 8400,
) -> None:
    """Start everything on this machine: Temporal dev server (with UI), a worker and the intake. Ctrl-C stops all."""
    from gateway.up import Stack

    check_config()
    raise typer.Exit(Stack(temporal_port=temporal_port, ui_port=ui_port, http_port=http_port).run())
