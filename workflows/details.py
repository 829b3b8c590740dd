"""The markdown the Temporal UI shows as an incident's current details: the incident at a glance."""

from __future__ import annotations

from incident.coordination import LEAD
from incident.models import Status
from incident.state import IncidentPolicy, IncidentState

LATEST = 6


def render_details(st: IncidentState, policy: IncidentPolicy) -> str:
    esc = st.escalation
    levels = len(policy.escalation.levels)
    if st.status is Status.RESOLVED:
        escalation = "done"
    elif esc.exhausted:
        escalation = "exhausted"
    elif esc.active and esc.next_at:
        nxt = "exhausted" if esc.level >= levels else f"level {esc.level + 1}/{levels}"
        escalation = f"next: {nxt} at {esc.next_at:%H:%M:%S} UTC"
    else:
        escalation = "stopped"
    lines = [
        f"## {st.incident_id} · {st.status.value} · {st.severity_label}",
        f"**{st.service}**: {st.title}",
        "",
        f"- alerts: {st.alert_count}",
        f"- paged: {', '.join(st.paged) or 'nobody yet'}",
        f"- lead: {st.lead or 'nobody yet'}",
        *(f"- {role}: {person}" for role, person in st.roles.items() if role != LEAD),
        f"- escalation: {escalation}",
    ]
    if st.acknowledged_by:
        lines.append(f"- acknowledged by {st.acknowledged_by}")
    if st.resolved_by:
        lines.append(f"- resolved by {st.resolved_by}")
    if policy.service.runbook:
        lines.append(f"- runbook: {policy.service.runbook}")
    lines += ["", "### Latest"]
    lines += [f"- `{e.at:%H:%M:%S}` {e.actor}: {e.text}" for e in st.timeline[-LATEST:]]
    return "\n".join(lines)
