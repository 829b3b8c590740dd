"""`baton readiness`: will a page reach someone who can act, over the next days? And `--history`: when the
scheduled drills last passed. Through the gateway (its config, and what only Temporal knows), or `--config FILE`
for a file alone (what only Temporal knows is then not known)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from gateway.cli.common import JsonOpt, emit_json, fail, out, run
from gateway.render import escape, hanging
from incident.config import ConfigError, load_config
from incident.readiness import Readiness, ReadinessLog, check


def readiness(
    days: Annotated[int, typer.Option("--days", min=1, max=90, help="How far ahead to look.")] = 14,
    history: Annotated[
        bool, typer.Option("--history", help="The scheduled runs, and when the config last passed.")
    ] = False,
    config: Annotated[
        str | None, typer.Option("--config", help="Check this file alone, without the gateway (facts not known).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Gaps before the page: shifts with nobody on call, on-call people nobody can reach, escalation levels that
    reach nobody, approvers who cannot approve, services without a runbook, heartbeats never pinged.

    Exit 0 when there is no gap, 1 when there is one (or, with --history, when the last run failed).
    Examples: baton readiness --days 28; baton readiness --history; baton readiness --config baton.yaml --json
    """
    if history:
        if config:
            raise fail("--history reads the scheduled runs through the gateway; leave out --config", 2)
        log = run(lambda c: c.readiness_history())
        if as_json:
            emit_json(log.model_dump(mode="json") | {"runs": [r.model_dump(mode="json") for r in log.runs]})
        else:
            print_history(log)
        raise typer.Exit(0 if not log.runs or log.runs[-1].passed else 1)
    if config:
        try:
            found = check(load_config(config), datetime.now(UTC), days)
        except ConfigError as e:
            raise fail(str(e), 2) from None
    else:
        found = run(lambda c: c.readiness(days))
    if as_json:
        emit_json(found.model_dump(mode="json") | {"ok": found.ok})
    else:
        print_readiness(found)
    raise typer.Exit(0 if found.ok else 1)


def print_readiness(r: Readiness) -> None:
    span = f"the next {r.days} day(s) from {r.at:%Y-%m-%d %H:%M} UTC"
    if r.ok:
        out.print(f"[green]ready[/green]: no gap over {span}", highlight=False)
    else:
        out.print(f"[red]{len(r.gaps)} gap(s)[/red] over {span}", highlight=False)
    for g in r.gaps:
        out.print(hanging(f"  [yellow]{g.kind}[/yellow] ", f"[bold]{escape(g.where)}[/bold]: {escape(g.message)}"))
    for n in r.not_known:
        out.print(hanging("  [dim]not known[/dim] ", escape(n)))


def print_history(log: ReadinessLog) -> None:
    if not log.runs:
        out.print("no readiness run yet: the worker schedules one daily and on every config change", highlight=False)
        return
    last = f"{log.last_passed:%Y-%m-%d %H:%M} UTC ({log.last_passed_digest})" if log.last_passed else "never"
    out.print(f"the config last passed its drills: {last}", highlight=False)
    for run_ in reversed(log.runs):
        badge = "[green]PASS[/green]" if run_.passed else "[red]FAIL[/red]"
        failed = [d for d in run_.drills if not d.passed]
        line = f"{len(run_.drills)} drill(s), {len(failed)} failed, {run_.gaps_total} gap(s), {run_.config_digest}"
        out.print(f"{badge}  {run_.at:%Y-%m-%d %H:%M} UTC  {escape(line)}", highlight=False)
        if run_.problem:
            out.print(hanging("      ", escape(run_.problem)))
        for d in failed:
            out.print(hanging("      [red]✗[/red] ", escape(f"{d.name} ({d.file}): {d.problem or 'failed'}")))
