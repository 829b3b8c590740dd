"""How incidents look on a terminal. Kept apart from the commands so every surface renders alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from gateway.client import IncidentSummary
from incident.config import Config
from incident.state import IncidentState

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
    }


def incidents_table(rows: list[IncidentSummary]) -> Table:
    table = Table(box=None, header_style="bold")
    for col in ("ID", "STATUS", "SEV", "SERVICE", "OPENED"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r.incident_id, f"[{STATUS_STYLE.get(r.status, '')}]{r.status}[/]", r.severity, r.service, ago(r.opened_at)
        )
    if not rows:
        table.add_row("(no incidents)", "", "", "", "")
    return table


def print_incident(console: Console, st: IncidentState) -> None:
    style = STATUS_STYLE.get(st.status.value, "")
    console.print(
        f"[bold]{st.incident_id}[/bold]  [{style}]{st.status.value}[/]  {st.severity.value}  {st.service}",
        highlight=False,
    )
    console.print(f"  {st.title}", highlight=False, markup=False)
    facts = [
        ("opened", f"{st.opened_at:%Y-%m-%d %H:%M:%S} UTC ({ago(st.opened_at)})"),
        ("alerts", str(st.alert_count)),
        ("paged", ", ".join(st.paged) or "nobody yet"),
    ]
    if st.acknowledged_by:
        facts.append(("acknowledged", f"by {st.acknowledged_by}"))
    if st.resolved_by:
        facts.append(("resolved", f"by {st.resolved_by}" + (f": {st.resolution}" if st.resolution else "")))
    if st.escalation.exhausted:
        facts.append(("escalation", "exhausted"))
    elif st.escalation.active and st.escalation.next_at:
        facts.append(("next escalation", f"{st.escalation.next_at:%H:%M:%S} UTC"))
    facts.append(("workflow", st.workflow_id))
    for k, v in facts:
        console.print(f"  [dim]{k:>15}[/dim]  {v}", highlight=False)
    table = Table(box=None, header_style="bold", title="timeline", title_justify="left")
    for col in ("TIME (UTC)", "WHO", "WHAT"):
        table.add_column(col, overflow="fold")
    for e in st.timeline:
        table.add_row(f"{e.at:%H:%M:%S}", e.actor, e.text)
    console.print(table)


def config_counts(config: Config) -> dict[str, int]:
    return {
        "people": len(config.people),
        "schedules": len(config.schedules),
        "escalation policies": len(config.escalation_policies),
        "services": len(config.services),
    }
