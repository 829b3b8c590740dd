"""`baton agents [NAME]`: each agent's record, per severity (and, for one agent, per action), and its latest
incidents, clean or not. Read through the gateway with a person's token."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from gateway.cli.common import JsonOpt, emit_json, fail, out, run
from gateway.render import escape
from incident.models import NAME, Severity
from incident.record import AgentView, Counts

COLUMNS = ("ASKED", "ALONE", "APPROVAL", "APPROVED", "DENIED", "NEVER", "UNDEFINED", "IMPERSONATION")


def _counts(c: Counts) -> list[str]:
    return [str(getattr(c, col.lower())) for col in COLUMNS]


def _severities(view: AgentView) -> list[str]:
    order = [s.value for s in Severity]
    return sorted(view.stats.by_severity, key=lambda s: order.index(s) if s in order else len(order))


def summary(views: list[AgentView]) -> Table:
    t = Table(box=None, header_style="bold")
    for col in ("AGENT", "SEVERITY", "INCIDENTS", "CLEAN", *COLUMNS):
        t.add_column(col, overflow="fold")
    for v in views:
        sevs = _severities(v)
        if not sevs:
            t.add_row(escape(v.agent), "-", "0", "0", *["0"] * len(COLUMNS))
        for sev in sevs:
            rec = v.stats.by_severity[sev]
            t.add_row(escape(v.agent), sev, str(rec.incidents), str(rec.clean), *_counts(rec.totals))
    return t


def per_action(view: AgentView) -> Table:
    t = Table(box=None, header_style="bold")
    for col in ("SEVERITY", "ACTION", *COLUMNS):
        t.add_column(col, overflow="fold")
    for sev in _severities(view):
        for action, c in sorted(view.stats.by_severity[sev].actions.items()):
            t.add_row(sev, escape(action), *_counts(c))
    return t


def recent(view: AgentView) -> Table:
    t = Table(box=None, header_style="bold")
    for col in ("INCIDENT", "SEVERITY", "CLEAN", "RESOLVED", "ASKED", "COMPLETED"):
        t.add_column(col)
    for line in reversed(view.stats.recent):
        t.add_row(
            line.incident_id,
            line.severity,
            "[green]clean[/]" if line.clean else "[yellow]no[/]",
            "yes" if line.resolved else "no",
            str(line.asked),
            f"{line.completed_at:%Y-%m-%d %H:%M} UTC",
        )
    return t


def changes(view: AgentView) -> Table:
    """Its latest promotions and demotions on the autonomy ladders, newest first."""
    t = Table(box=None, header_style="bold", title="autonomy changes", title_justify="left")
    for col in ("WHEN", "SEVERITY", "FROM", "TO", "WHY"):
        t.add_column(col, overflow="fold")
    for c in reversed(view.stats.changes):
        t.add_row(f"{c.at:%Y-%m-%d %H:%M} UTC", c.severity.value, c.from_level, c.to_level, escape(c.why))
    return t


def agents(
    name: Annotated[str | None, typer.Argument(help="One agent (default: every agent in the config).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What each agent asked of past incidents and what became of it, per severity: ran alone, approved, denied,
    refused; which incidents were clean (resolved; nothing denied, refused or failed); and its promotions and
    demotions on the autonomy ladders (baton boundaries show --agent NAME: where it stands). A person's token.

    Examples: baton agents; baton agents triage --json
    """
    if name is not None and not NAME.match(name):
        raise fail(f"{name!r} is not an agent name (lowercase letters, digits, . _ -)", 2)
    if name is None:
        views = run(lambda c: c.agent_records())
        if as_json:
            emit_json([v.model_dump(mode="json") for v in views])
        else:
            out.print(summary(views))
        return
    view = run(lambda c: c.agent_record(name))
    if as_json:
        emit_json(view.model_dump(mode="json"))
        return
    out.print(summary([view]))
    if view.stats.by_severity:
        out.print()
        out.print(per_action(view))
        out.print()
        out.print(recent(view))
    if view.stats.changes:
        out.print()
        out.print(changes(view))
    else:
        out.print(f"agent:{escape(name)} has no completed incidents on record yet", highlight=False)
