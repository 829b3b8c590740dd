"""Commands that read what the config says: is it valid, what may an agent do (and what did the policy refuse),
who is on call."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from gateway import render
from gateway.cli.common import JsonOpt, duration_opt, emit_json, err, fail, out, run
from gateway.oncall import OnCallError, ical, print_views, views
from incident.config import ConfigError, config_path, config_warnings, load_config
from incident.ladder import needs
from incident.models import NAME, Severity
from incident.policy import Boundaries
from incident.record import AgentStats


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


def standing(b: Boundaries, agent: str, stats: AgentStats) -> tuple[Boundaries, list[dict[str, object]]]:
    """The policy with `agent`'s earned levels as an incident opening now would fix them, and per severity its
    level and what it still needs for the next step (None: a constant)."""
    ladders = b.ladders()
    earned = b.with_earned({agent: {sev: ladder.in_force(stats.levels().get(sev)) for sev, ladder in ladders.items()}})
    rows: list[dict[str, object]] = []
    for sev in Severity:
        ladder = ladders.get(sev)
        rung = stats.ladder.get(sev)
        rows.append(
            {
                "severity": sev.value,
                "level": earned.level(sev, agent),
                "ladder": ladder is not None,
                "needs": needs(ladder, rung) if ladder else None,
                "clean": rung.clean if ladder and rung and rung.level == earned.level(sev, agent) else 0,
            }
        )
    return earned, rows


def boundaries_show(
    severity: Annotated[Severity | None, typer.Option(help="Explain every rule at this severity.")] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="At the autonomy this agent has earned (its record, through the gateway), with what "
            "it still needs for each next step.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """The effective policy from the config: per action and severity, what an agent may do, and by which rule.

    Examples: baton boundaries show; baton boundaries show --severity SEV1 --json; baton boundaries show --agent triage
    """
    try:
        config = load_config()
    except ConfigError as e:
        raise fail(str(e), 2) from None
    b, ladder_rows = config.boundaries, None
    if agent is not None:
        if not NAME.match(agent) or agent not in config.agents:
            known = ", ".join(sorted(config.agents)) or "none"
            raise fail(f"{agent!r} is not an agent in the config (known: {known})", 2)
        name = agent
        view = run(lambda c: c.agent_record(name))
        b, ladder_rows = standing(b, agent, view.stats)
    rows = render.boundary_rows(b, [severity] if severity else list(Severity), agent or "agent")
    if as_json:
        emit_json({"agent": agent, "autonomy": ladder_rows, "rows": rows} if agent else rows)
        return
    if ladder_rows is not None:
        out.print(render.ladder_table(ladder_rows))
    if severity:
        out.print(render.boundaries_detail(rows, severity))
    else:
        out.print(render.boundaries_matrix(b, agent))


def boundaries_report(
    since: Annotated[str, typer.Option(help="How far back, e.g. 7d, 24h.")] = "7d",
    shadow: Annotated[
        bool, typer.Option("--shadow", help="Where boundaries.shadow decided otherwise than the enforced policy.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Refused and undefined requests across incidents, most frequent first: what the policy forbids or forgot.
    With --shadow: the requests the shadow policy would have decided otherwise, most frequent first.

    Examples: baton boundaries report --since 30d; baton boundaries report --shadow --json
    """
    if shadow:
        found = run(lambda c: c.shadow(datetime.now(UTC) - duration_opt("--since", since)))
        if as_json:
            emit_json([r.model_dump() for r in found])
        else:
            out.print(render.shadow_table(found))
        return
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
