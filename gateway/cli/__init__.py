"""`baton`: the command line for responders. Exit codes: 0 ok, 1 refused or not found, 2 bad usage or config."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from gateway import render
from gateway.client import Incidents, NotFound, Refused, Unavailable
from gateway.oncall import OnCallError, ical, print_views, views
from gateway.temporal import connect, temporal_address
from incident.config import ConfigError, config_path, config_warnings, load_config
from incident.durations import parse_duration
from incident.models import Actor, Severity, Status

app = typer.Typer(
    name="baton",
    help="Durable incident response: the agent coordinates, humans decide.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Check the config file.", no_args_is_help=True)
app.add_typer(config_app, name="config")
boundaries_app = typer.Typer(help="What an agent may do alone, what needs a human, what it may never do.")
app.add_typer(boundaries_app, name="boundaries")

out = Console()
err = Console(stderr=True)
T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOpt = Annotated[str | None, typer.Option("--as", help="Who you are (a person in the config). Default: $BATON_USER.")]
IdArg = Annotated[str, typer.Argument(help="Incident id, e.g. INC-7K2Q9M (or its workflow id).")]


def fail(message: str, code: int) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def run(coro_fn: Callable[[Incidents], Awaitable[T]]) -> T:
    """Connect, run one façade call, and turn its errors into sentences and exit codes."""

    async def go() -> T:
        try:
            client = await connect()
        except RuntimeError as e:
            raise Unavailable(str(e)) from None
        return await coro_fn(Incidents(client))

    try:
        return asyncio.run(go())
    except NotFound as e:
        raise fail(str(e), 1) from None
    except Refused as e:
        raise fail(str(e), 1) from None
    except Unavailable:
        raise fail(f"cannot reach Temporal at {temporal_address()}: is `baton up` running?", 1) from None


def human(as_: str | None) -> Actor:
    """The acting human: --as or $BATON_USER, and a person in the config."""
    name = as_ or os.environ.get("BATON_USER")
    if not name:
        raise fail("who is acting? pass --as NAME or set BATON_USER", 2)
    try:
        config = load_config()
    except ConfigError as e:
        raise fail(str(e), 2) from None
    if name not in config.people:
        known = ", ".join(sorted(config.people)) or "none"
        raise fail(f"{name!r} is not a person in {config_path()} (people: {known})", 2)
    return Actor.human(name)


def duration_opt(option: str, text: str) -> timedelta:
    try:
        return parse_duration(text)
    except ValueError as e:
        raise fail(f"{option} {text!r}: {e}", 2) from None


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command()
def incidents(
    status: Annotated[Status | None, typer.Option(help="Only incidents with this status.")] = None,
    severity: Annotated[Severity | None, typer.Option(help="Only this severity.")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    since: Annotated[str | None, typer.Option(help="Only incidents opened this recently, e.g. 24h, 7d.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first.

    Examples: baton incidents --status triggered; baton incidents --service checkout --since 7d --json
    """
    after = datetime.now(UTC) - duration_opt("--since", since) if since else None
    rows = run(lambda c: c.search(status=status, severity=severity, service=service, since=after, limit=limit))
    if as_json:
        emit_json([render.summary_json(r) for r in rows])
    else:
        out.print(render.incidents_table(rows))


@app.command()
def show(incident: IdArg, as_json: JsonOpt = False) -> None:
    """Show an incident: state, who was paged, and its timeline.

    Example: baton show INC-7K2Q9M
    """
    state = run(lambda c: c.state(incident))
    if as_json:
        emit_json(state.model_dump(mode="json"))
    else:
        render.print_incident(out, state)


@app.command()
def ack(incident: IdArg, as_: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Acknowledge: you are on it, escalation stops.

    Example: baton ack INC-7K2Q9M --as alice
    """
    actor = human(as_)
    result = run(lambda c: c.acknowledge(incident, actor))
    _done(result, as_json)


@app.command()
def resolve(
    incident: IdArg,
    summary: Annotated[str, typer.Option("--summary", "-m", help="What fixed it.")] = "",
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Declare the incident resolved (a human decision).

    Example: baton resolve INC-7K2Q9M -m "rolled back v2.41" --as alice
    """
    actor = human(as_)
    result = run(lambda c: c.resolve(incident, actor, summary))
    _done(result, as_json)


@app.command()
def note(
    incident: IdArg,
    text: Annotated[str, typer.Argument(help="The note.")],
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a note to the timeline.

    Example: baton note INC-7K2Q9M "error rate falling since the rollback" --as alice
    """
    actor = human(as_)
    result = run(lambda c: c.note(incident, actor, text))
    _done(result, as_json)


def _done(result: Any, as_json: bool) -> None:
    if as_json:
        emit_json(result.model_dump(mode="json"))
    else:
        out.print(result.message, highlight=False)


@app.command()
def oncall(
    schedule: Annotated[str | None, typer.Argument(help="A schedule (default: every schedule in the config).")] = None,
    at: Annotated[
        str | None, typer.Option("--at", help="When: ISO 8601, with an offset or in the schedule's zone, or `now`.")
    ] = None,
    as_ical: Annotated[bool, typer.Option("--ical", help="Write SCHEDULE's shifts as iCalendar to stdout.")] = False,
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="How many days --ical covers.")] = 28,
    as_json: JsonOpt = False,
) -> None:
    """Who is on call (now or --at) and the next three handoffs, in local time and UTC. Needs no Temporal.

    Example: baton oncall payments-primary --at 2026-03-08T09:00; baton oncall --ical payments-primary > oncall.ics
    """
    try:
        config = load_config()
        if as_ical:
            sys.stdout.buffer.write(ical(config, schedule, at, days))
            return
        found = views(config, schedule, at)
    except (ConfigError, OnCallError) as e:
        raise fail(str(e), 2) from None
    if as_json:
        emit_json([v.model_dump(mode="json") for v in found])
    else:
        print_views(out, found)


@app.command()
def severity(
    incident: IdArg,
    level: Annotated[Severity, typer.Argument(help="SEV0 (worst) to SEV4.")],
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why.")] = "",
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set the severity: confirm what was proposed, or change it (a human decision).

    Example: baton severity INC-7K2Q9M SEV1 -m "checkout down for all EU customers" --as alice
    """
    actor = human(as_)
    result = run(lambda c: c.set_severity(incident, actor, level, reason))
    _done(result, as_json)


@app.command()
def watch(
    incident: IdArg,
    every: Annotated[float, typer.Option(help="Seconds between looks.", min=0.2)] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per timeline entry (JSON lines).")] = False,
) -> None:
    """Follow an incident's timeline live until it is resolved (Ctrl-C stops watching, not the incident).

    Examples: baton watch INC-7K2Q9M; baton watch INC-7K2Q9M --json | jq .text
    """

    async def follow(c: Incidents) -> None:
        shown = 0
        while True:
            st = await c.state(incident)
            if shown == 0 and not as_json:
                out.print(render.headline(st), highlight=False)
            for e in st.timeline[shown:]:
                if as_json:
                    typer.echo(e.model_dump_json())
                else:
                    out.print(render.timeline_line(e), highlight=False)
            shown = len(st.timeline)
            if not st.open:
                return
            await asyncio.sleep(every)

    try:
        run(follow)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


@app.command()
def page(
    incident: IdArg,
    who: Annotated[str, typer.Argument(help="A person, `user:NAME` or `schedule:NAME` (whoever is on call).")],
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why them.")] = "",
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Page someone into the incident now.

    Examples: baton page INC-7K2Q9M dave -m "database expertise"; baton page INC-7K2Q9M schedule:platform-primary
    """
    actor = human(as_)
    result = run(lambda c: c.request(incident, actor, "page", reason, {"target": who}))
    _done(result, as_json)


@app.command()
def escalate(
    incident: IdArg,
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why.")] = "",
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Page the next escalation level now, without waiting for its timer.

    Example: baton escalate INC-7K2Q9M -m "need the payments lead"
    """
    actor = human(as_)
    result = run(lambda c: c.request(incident, actor, "escalate", reason))
    _done(result, as_json)


@app.command()
def postmortem(incident: IdArg, as_json: JsonOpt = False) -> None:
    """Print a postmortem draft in markdown: timeline, impact window, suspects, who did what, open questions.

    Example: baton postmortem INC-7K2Q9M > INC-7K2Q9M.md
    """
    markdown = run(lambda c: c.postmortem(incident))
    if as_json:
        emit_json({"incident": incident, "markdown": markdown})
    else:
        typer.echo(markdown, nl=False)


@app.command()
def approve(
    incident: IdArg,
    approval: Annotated[str, typer.Argument(help="The approval id, e.g. A1 (see `baton show`).")],
    text: Annotated[
        str | None, typer.Option("--text", help="Customer comms: post this text instead of the proposed one.")
    ] = None,
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Approve a pending request; the action then runs, and its result goes on the timeline.

    Example: baton approve INC-7K2Q9M A1 --as alice
    """
    actor = human(as_)
    result = run(lambda c: c.approve(incident, actor, approval, text))
    _done(result, as_json)


@app.command()
def deny(
    incident: IdArg,
    approval: Annotated[str, typer.Argument(help="The approval id, e.g. A1.")],
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why not (required).")] = "",
    as_: AsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Deny a pending request, with the reason.

    Example: baton deny INC-7K2Q9M A1 --reason "the deploy is not the cause" --as alice
    """
    if not reason.strip():
        raise fail("a denial needs a reason: --reason TEXT", 2)
    actor = human(as_)
    result = run(lambda c: c.deny(incident, actor, approval, reason))
    _done(result, as_json)


@app.command()
def reload(incident: IdArg, as_: AsOpt = None, as_json: JsonOpt = False) -> None:
    """Apply the current config's policy to a running incident (a human decision).

    New incidents always start with the current config; a running one changes only when a human says so.

    Example: baton reload INC-7K2Q9M --as alice
    """
    from incident.state import IncidentPolicy

    actor = human(as_)

    async def go(c: Incidents) -> Any:
        st = await c.state(incident)
        try:
            config = load_config()
        except ConfigError as e:
            raise fail(str(e), 2) from None
        if st.service not in config.services:
            raise fail(f"the config has no service {st.service!r} any more", 2)
        return await c.reload(incident, actor, IncidentPolicy.snapshot(config, st.service))

    _done(run(go), as_json)


@config_app.command("check")
def config_check(
    file: Annotated[str | None, typer.Argument(help="Config file (default: $BATON_CONFIG, ./baton.yaml).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a config file: every problem with its YAML path and line; exit 2 if any.

    Example: baton config check baton.yaml
    """
    path = config_path(file)
    try:
        config = load_config(path)
    except ConfigError as e:
        if as_json:
            emit_json({"ok": False, "file": str(path), "problems": [p.model_dump() for p in e.problems]})
        else:
            err.print(f"[red]{path}: {len(e.problems)} problem(s)[/red]", highlight=False)
            for p in e.problems:
                err.print(f"  {p}", highlight=False, markup=False)
        raise typer.Exit(2) from None
    warnings = config_warnings(config)
    if as_json:
        emit_json({"ok": True, "file": str(path), "warnings": warnings, **render.config_counts(config)})
        return
    counts = render.config_counts(config)
    out.print(f"[green]{path}: ok[/green] ({', '.join(f'{v} {k}' for k, v in counts.items())})", highlight=False)
    out.print(render.boundaries_matrix(config.boundaries))
    out.print("Every rule, per severity: baton boundaries show --severity SEV1", highlight=False)
    for w in warnings:
        out.print(f"  [yellow]warning:[/yellow] {w}", highlight=False)


@boundaries_app.command("show")
def boundaries_show(
    severity: Annotated[Severity | None, typer.Option(help="Explain every rule at this severity.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The effective policy from the config: per action and severity, what an agent may do, and by which rule.

    Examples: baton boundaries show; baton boundaries show --severity SEV1 --json
    """
    try:
        config = load_config()
    except ConfigError as e:
        raise fail(str(e), 2) from None
    rows = render.boundary_rows(config.boundaries, [severity] if severity else list(Severity))
    if as_json:
        emit_json(rows)
    elif severity:
        out.print(render.boundaries_detail(rows, severity))
    else:
        out.print(render.boundaries_matrix(config.boundaries))


@boundaries_app.command("report")
def boundaries_report(
    since: Annotated[str, typer.Option(help="How far back, e.g. 7d, 24h.")] = "7d",
    as_json: JsonOpt = False,
) -> None:
    """Refused and undefined requests across incidents, most frequent first: what the policy forbids or forgot.

    Example: baton boundaries report --since 30d
    """
    rows = run(lambda c: c.refusals(datetime.now(UTC) - duration_opt("--since", since)))
    if as_json:
        emit_json([r.model_dump() for r in rows])
        return
    out.print(render.refusals_table(rows))
    if any(r.verdict == "undefined" for r in rows):
        out.print(
            "undefined: no rule names the action. Decide, and write it under boundaries.agent "
            "(auto, approval or never) and boundaries.custom_actions.",
            highlight=False,
        )


@app.command()
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
    from drill import drill_command

    raise typer.Exit(drill_command(files, config, as_json))


@app.command()
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


@app.command()
def worker() -> None:
    """Run a worker (the incident workflows and their activities) against $TEMPORAL_ADDRESS."""
    from worker import run_worker

    _check_config()
    asyncio.run(run_worker())


@app.command()
def intake(
    with_worker: Annotated[bool, typer.Option("--with-worker", help="Also run a worker in this process.")] = False,
) -> None:
    """Run the HTTP intake on $BATON_HTTP_ADDR (default 127.0.0.1:8400)."""
    import starter

    _check_config()
    starter.serve(with_worker=with_worker)


@app.command()
def up(
    temporal_port: Annotated[int, typer.Option(help="Temporal frontend port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal Web UI port.")] = 8233,
    http_port: Annotated[int, typer.Option(help="Intake port.")] = 8400,
) -> None:
    """Start everything on this machine: Temporal dev server (with UI), a worker and the intake. Ctrl-C stops all."""
    from gateway.up import Stack

    _check_config()
    raise typer.Exit(Stack(temporal_port=temporal_port, ui_port=ui_port, http_port=http_port).run())


def _check_config() -> None:
    try:
        load_config()
    except ConfigError as e:
        raise fail(str(e), 2) from None


def main() -> None:
    """Run the CLI and leave without interpreter finalisation: Temporal's native runtime keeps threads that can
    crash a finalising interpreter (seen as a rare segfault after `baton show` had printed its answer)."""
    try:
        app()
        code = 0
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
