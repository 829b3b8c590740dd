"""How incidents look on a terminal. Kept apart from the commands so every surface renders alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape as _markup_escape
from rich.table import Table

from gateway.client import IncidentSummary
from gateway.whatif import WhatIfRow
from incident import display
from incident import sentences as say
from incident.approvals import RefusalRow
from incident.config import Config
from incident.coordination import LEAD
from incident.models import Actor, Severity, TimelineEntry
from incident.policy import Boundaries
from incident.shadow import ShadowRow
from incident.state import IncidentState


def escape(text: str) -> str:
    """Text someone else wrote, as markup that prints it as written: control and invisible characters shown as
    escapes (`\\x1b`), never obeyed; markup such as `[bold]` or `[/x]` printed, not applied; each line after the
    first marked as its continuation (`incident.display`). Print it where every line stays right of what
    precedes it: a table column, or `hanging`."""
    return _markup_escape(display.hanging(text))


def hanging(lead: str, markup: str, indent: int = 0) -> Table:
    """`lead` (markup) and then `markup`, every line of which, wrapped by the terminal's width or continued
    after a line break, stays right of `lead`: nothing the text says can start a line of its own."""
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row(" " * indent + lead, markup)
    return grid


STATUS_STYLE = {"triggered": "bold red", "acknowledged": "yellow", "resolved": "green"}


def ago(when: datetime, now: datetime | None = None) -> str:
    secs = int(((now or datetime.now(UTC)) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs // size}{unit} ago"
    return f"{max(secs, 0)}s ago"


def summary_json(s: IncidentSummary) -> dict[str, Any]:
    return {
        "id": s.incident_id,
        "status": s.status,
        "severity": s.severity,
        "service": s.service,
        "opened_at": s.opened_at.isoformat(),
        "closed_at": s.closed_at.isoformat() if s.closed_at else None,
        "workflow_id": s.workflow_id,
        "run_id": s.run_id,
        "lead": s.lead,
    }


def incidents_table(rows: list[IncidentSummary]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("ID", "STATUS", "SEV", "SERVICE", "LEAD", "OPENED"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.incident_id,
            f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]",
            escape(r.severity),
            escape(r.service),
            escape(r.lead or "-"),
            ago(r.opened_at),
        )
    if not rows:
        table.add_row("(no incidents)", "", "", "", "", "")
    return table


def approvals_table(st: IncidentState) -> Table:
    table = Table(box=None, header_style="bold", title="approvals", title_justify="left")
    for col in ("ID", "STATUS", "ACTION", "ASKED BY", "WHY", "DECIDED / UNANSWERED"):
        table.add_column(col, overflow="fold")
    for a in st.approvals:
        style = {"pending": "bold yellow", "approved": "green", "denied": "red"}.get(a.status.value, "dim")
        when = (
            f"{', '.join(a.approvers)} decide; escalates at {a.deadline:%H:%M} UTC"
            if a.pending
            else f"{a.decided_by or 'nobody'}" + (f": {a.reason}" if a.reason else "")
        )
        cells = (escape(a.describe()), escape(a.requested_by), escape(a.rationale), escape(when))
        table.add_row(a.id, f"[{style}]{a.status.value}[/]", *cells)
    return table


def refusals_table(rows: list[RefusalRow]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("COUNT", "ACTION", "VERDICT", "RULE", "INCIDENTS", "ACTORS"):
        table.add_column(col, overflow="fold")
    for r in rows:
        style = {"undefined": "bold yellow", "impersonation": "bold red"}.get(r.verdict, "")
        table.add_row(
            str(r.count),
            escape(r.action),
            f"[{style}]{r.verdict}[/]" if style else r.verdict,
            escape(r.rule),
            str(len(r.incidents)),
            escape(", ".join(r.actors)),
        )
    if not rows:
        table.add_row("0", "(no refusals)", "", "", "", "")
    return table


def shadow_table(rows: list[ShadowRow]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("COUNT", "ACTION", "SEVERITY", "ENFORCED", "SHADOW", "SHADOW RULE", "INCIDENTS", "ACTORS"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(
            str(r.count),
            escape(r.action),
            r.severity,
            r.verdict,
            f"[bold]{r.shadow_verdict}[/]",
            escape(r.shadow_rule),
            str(len(r.incidents)),
            escape(", ".join(r.actors)),
        )
    if not rows:
        table.add_row("0", "(no disagreements)", "", "", "", "", "", "")
    return table


def what_if_table(rows: list[WhatIfRow]) -> Table:
    """`baton boundaries what-if`: per action, severity and actor kind, the verdict then and now; changes first."""
    table = Table(box=None, header_style="bold")
    for col in ("COUNT", "ACTION", "SEVERITY", "BY", "WAS", "NOW", "CHANGE", "RULE NOW", "INCIDENTS"):
        table.add_column(col, overflow="fold")
    for r in rows:
        change = "[red]widens[/]" if r.widening else "looser" if r.looser else "stricter" if r.stricter else ""
        table.add_row(
            str(r.count),
            escape(r.action),
            r.severity.value,
            r.actor_kind,
            r.was.value,
            f"[bold]{r.now.value}[/]" if change else r.now.value,
            change,
            escape(r.rule),
            str(len(r.incidents)),
        )
    if not rows:
        table.add_row("0", "(no requests recorded)", "", "", "", "", "", "", "")
    return table


def headline(st: IncidentState) -> str:
    style = STATUS_STYLE.get(st.status.value, "")
    return (
        f"[bold]{escape(st.incident_id)}[/bold]  [{style}]{st.status.value}[/]  {escape(st.severity_label)}  "
        f"{escape(st.service)}"
    )


ACTOR_WIDTH = 18


def timeline_entry(e: TimelineEntry) -> Table:
    """One entry as `baton watch` prints it: time, who, what. What someone wrote stays in the third column, so a
    line of it never starts where an entry's time does."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True, min_width=ACTOR_WIDTH)
    grid.add_column(overflow="fold")
    grid.add_row(f"{e.at:%H:%M:%S} ", escape(e.actor), escape(e.text))
    return grid


def channel_line(st: IncidentState) -> str:
    """`#inc-7k2q9m-checkout (C0123ABCD), archived at …`, or why there is none."""
    ch = st.channel
    if ch is None:
        return "none"
    if ch.channel_id is None:
        return f"none: {ch.off}" if ch.off else "being opened"
    line = f"{ch.shown} ({ch.channel_id})" if ch.shown != ch.channel_id else ch.channel_id
    if not ch.created:
        line += ", the service's channel"
    if ch.archive_at:
        line += f", archived at {ch.archive_at:%Y-%m-%d %H:%M} UTC"
    return line


def update_line(st: IncidentState) -> str | None:
    """`update 2 due since 07:49 UTC, asked: bob`, `update 2 at 08:19 UTC`, or None without a cadence."""
    upd = st.updates
    if upd is None or (upd.due_at is None and not upd.pending):
        return None
    if upd.pending:
        asked = ", ".join(a.removeprefix("user:") for a in upd.asked) or "nobody yet"
        since = f" since {upd.due_at:%H:%M} UTC" if upd.due_at else ""
        return f"update {upd.number} due{since}, asked: {asked} (baton update {st.incident_id})"
    assert upd.due_at is not None
    return f"update {upd.number} at {upd.due_at:%H:%M} UTC"


def print_incident(console: Console, st: IncidentState) -> None:
    console.print(headline(st), highlight=False)
    console.print(hanging("", escape(st.title), indent=2), highlight=False)
    facts = [
        ("opened", f"{st.opened_at:%Y-%m-%d %H:%M:%S} UTC ({ago(st.opened_at)})"),
        ("alerts", str(st.alert_count)),
        ("paged", escape(", ".join(st.paged) or "nobody yet")),
        ("lead", escape(st.lead or "nobody yet")),
    ]
    facts += [(role, escape(person)) for role, person in st.roles.items() if role != LEAD]
    if st.acknowledged_by:
        facts.append(("acknowledged", f"by {escape(st.acknowledged_by)}"))
    if st.resolved_by:
        facts.append(("resolved", escape(f"by {st.resolved_by}" + (f": {st.resolution}" if st.resolution else ""))))
    if st.maintenance is not None:
        m = st.maintenance
        until = f" until {m.until:%Y-%m-%d %H:%M} UTC" if m.until else ""
        why = f": {m.message}" if m.message else ""
        facts.append(("maintenance", escape(f"{m.window_id} holds escalation and notices{until}{why}")))
    if st.escalation.exhausted:
        facts.append(("escalation", "exhausted"))
    elif st.escalation.active and st.escalation.next_at and st.maintenance is None:
        facts.append(("next escalation", f"{st.escalation.next_at:%H:%M:%S} UTC"))
    if st.channel is not None:
        facts.append(("channel", escape(channel_line(st))))
    if st.open and (line := update_line(st)):
        facts.append(("next update", escape(line)))
    facts.append(("workflow", escape(st.workflow_id)))
    for k, v in facts:
        console.print(hanging(f"[dim]{k:>15}[/dim]  ", v, indent=2), highlight=False)
    if st.approvals:
        console.print(approvals_table(st))
    if st.context and st.context.suspects:
        console.print("[bold]suspects[/bold]")
        for suspect in st.context.suspects:
            console.print(hanging("- ", escape(suspect.text), indent=2), highlight=False)
    table = Table(box=None, header_style="bold", title="timeline", title_justify="left")
    for col in ("TIME (UTC)", "WHO", "WHAT"):
        table.add_column(col, overflow="fold")
    for e in st.timeline:
        table.add_row(f"{e.at:%H:%M:%S}", escape(e.actor), escape(e.text))
    console.print(table)
    if st.timeline_left:
        left = f"[dim]{escape(say.timeline_left(st.timeline_left, st.runs))}[/dim]"
        console.print(hanging("", left, indent=2), highlight=False)


def config_counts(config: Config) -> dict[str, int]:
    return {
        "people": len(config.people),
        "schedules": len(config.schedules),
        "escalation policies": len(config.escalation_policies),
        "services": len(config.services),
    }


VERDICT_STYLE = {"auto": "green", "approval": "yellow", "never": "red", "undefined": "dim"}


def boundary_rows(b: Boundaries, severities: list[Severity], agent: str = "agent") -> list[dict[str, Any]]:
    """Every action x severity x actor kind with its verdict and rule (what `--json` prints); `agent` is whose
    earned levels decide (any agent at its ladders' start by default)."""
    actors = {"human": Actor.human("someone"), "agent": Actor.agent(agent), "system": Actor.system()}
    rows = []
    for per_kind in zip(*(b.table(actor, severities) for actor in actors.values()), strict=True):
        for sev in severities:
            for kind, row in zip(actors, per_kind, strict=True):
                d = row.by_severity[sev]
                rows.append(
                    {
                        "action": row.action,
                        "severity": sev.value,
                        "actor": kind,
                        "verdict": d.verdict.value,
                        "rule": d.rule,
                    }
                )
    return rows


def boundaries_matrix(b: Boundaries, agent: str | None = None) -> Table:
    """What an agent may do, action by severity; approvers for what needs approval. `agent`: at the levels it has
    earned (`b.earned`), else any agent at its ladders' start."""
    title = f"what agent:{escape(agent)} may do now" if agent else "what an agent may do"
    table = Table(box=None, header_style="bold", title=title, title_justify="left")
    table.add_column("ACTION")
    for sev in Severity:
        table.add_column(f"{sev.value} ({b.level(sev, agent)}{'*' if sev in b.ladders() else ''})")
    if b.ladders():
        table.caption = (
            "* earned on a ladder: agent:" + escape(agent) + "'s level now"
            if agent
            else "* a ladder's start: an agent earns more (baton boundaries show --agent NAME)"
        )
        table.caption_justify = "left"
    table.add_column("APPROVED BY")
    for row in b.table(Actor.agent(agent or "agent")):
        cells = [f"[{VERDICT_STYLE[d.verdict.value]}]{d.verdict.value}[/]" for d in row.by_severity.values()]
        table.add_row(row.action, *cells, ", ".join(row.approvers) or "-")
    return table


def ladder_table(rows: list[dict[str, Any]]) -> Table:
    """Per severity: the level an agent has now, and what it still needs for its next step."""
    table = Table(box=None, header_style="bold", title="autonomy", title_justify="left")
    for col in ("SEVERITY", "LEVEL NOW", "NEXT"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["severity"], r["level"], r["needs"] or "(constant)")
    return table


def boundaries_detail(rows: list[dict[str, Any]], severity: Severity) -> Table:
    table = Table(box=None, header_style="bold", title=f"boundaries at {severity.value}", title_justify="left")
    for col in ("ACTION", "AGENT", "RULE", "HUMAN", "SYSTEM"):
        table.add_column(col)
    by_action: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_action.setdefault(r["action"], {})[r["actor"]] = r
    for action, per in by_action.items():
        a = per["agent"]
        table.add_row(
            action,
            f"[{VERDICT_STYLE[a['verdict']]}]{a['verdict']}[/]",
            a["rule"],
            per["human"]["verdict"],
            per["system"]["verdict"],
        )
    return table
