"""Commands that read incidents (through the gateway, with your token) and change nothing: list, show, follow
live, draft the postmortem."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer

from gateway import render
from gateway.cli.common import IdArg, JsonOpt, duration_opt, emit_json, out, run
from gateway.remote import RemoteIncidents
from incident.models import Severity, Status


def incidents(
    status: Annotated[Status | None, typer.Option(help="Only incidents with this status.")] = None,
    severity: Annotated[Severity | None, typer.Option(help="Only this severity.")] = None,
    service: Annotated[str | None, typer.Option(help="Only this service.")] = None,
    since: Annotated[str | None, typer.Option(help="Only incidents opened this recently, e.g. 24h, 7d.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    lead: Annotated[str | None, typer.Option(help="Only incidents this person leads.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List incidents, newest first, with who leads each.

    Examples: baton incidents --status triggered; baton incidents --lead alice; baton incidents --since 7d --json
    """
    after = datetime.now(UTC) - duration_opt("--since", since) if since else None
    rows = run(
        lambda c: c.search(status=status, severity=severity, service=service, since=after, limit=limit, lead=lead)
    )
    if as_json:
        emit_json([render.summary_json(r) for r in rows])
    else:
        out.print(render.incidents_table(rows))


def show(incident: IdArg, as_json: JsonOpt = False) -> None:
    """Show an incident: state, who was paged, and its timeline.

    Example: baton show INC-7K2Q9M
    """
    state = run(lambda c: c.state(incident))
    if as_json:
        emit_json(state.model_dump(mode="json"))
    else:
        render.print_incident(out, state)


def watch(
    incident: IdArg,
    every: Annotated[float, typer.Option(help="Seconds between looks.", min=0.2)] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per timeline entry (JSON lines).")] = False,
) -> None:
    """Follow an incident's timeline live until it is resolved (Ctrl-C stops watching, not the incident).

    Examples: baton watch INC-7K2Q9M; baton watch INC-7K2Q9M --json | jq .text
    """

    async def follow(c: RemoteIncidents) -> None:
        shown = 0
        while True:
            st = await c.state(incident)
            if shown == 0 and not as_json:
                out.print(render.headline(st), highlight=False)
            for e in st.timeline[shown:]:
                if as_json:
                    typer.echo(e.model_dump_json())
                else:
                    out.print(render.timeline_entry(e), highlight=False)
            shown = len(st.timeline)
            if not st.open:
                return
            await asyncio.sleep(every)

    try:
        run(follow)
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def postmortem(incident: IdArg, as_json: JsonOpt = False) -> None:
    """Print a postmortem draft in markdown: timeline, impact window, suspects, who did what, open questions.

    Example: baton postmortem INC-7K2Q9M > INC-7K2Q9M.md
    """
    markdown = run(lambda c: c.postmortem(incident))
    if as_json:
        emit_json({"incident": incident, "markdown": markdown})
    else:
        typer.echo(markdown, nl=False)
