"""A postmortem draft in markdown, from what an incident recorded.

The draft gives facts and asks questions; conclusions (what caused it, what to change) are the team's to write.
Pure and deterministic: every time comes from the state, so workflow code may call it.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from html import escape

from incident import display
from incident import sentences as say
from incident.approvals import Approval, ApprovalStatus, Refusal
from incident.models import TimelineEntry
from incident.state import IncidentState, ServiceInfo
from incident.timeline import ALERT_KINDS, Kind, level

ALERT_ROWS = 5
"""Alert entries the timeline table shows one by one; later ones are collapsed into one row."""
_ACTOR_ORDER = {"human": 0, "agent": 1, "system": 2}


def draft(
    state: IncidentState,
    service: ServiceInfo | None = None,
    *,
    approvals: list[Approval] | None = None,
    refusals: list[Refusal] | None = None,
) -> str:
    """The postmortem draft; approvals and refusals default to the state's own, where it keeps them."""
    approvals = list(getattr(state, "approvals", []) if approvals is None else approvals)
    refusals = list(getattr(state, "refusals", []) if refusals is None else refusals)
    parts = [
        f"# Postmortem draft: {state.incident_id} — {_inline(state.title)}",
        "Draft generated from the incident's record. Conclusions are for the team to write.",
        _summary(state, service),
        _impact(state),
        _alerts(state),
        _suspects(state),
        _updates(state.timeline),
        _timeline(state.timeline, getattr(state, "timeline_left", 0), getattr(state, "runs", 1)),
        _who(state.timeline, approvals, refusals),
        _questions(state, approvals, refusals),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def duration(d: timedelta) -> str:
    """`42s`, `4m 12s`, `1h 03m`, `2d 05h`: two units at most, the second zero-padded."""
    s = max(0, int(d.total_seconds()))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def utc(t: datetime) -> str:
    """`2026-11-26 02:14:05 UTC`; a naive time is taken as UTC."""
    return (t.astimezone(UTC) if t.tzinfo else t).strftime("%Y-%m-%d %H:%M:%S UTC")


_PUNCTUATION = re.compile(r"([\\`\[\]])")
_BLOCK_START = re.compile(r"^(?=[#>+=-]|\d+[.)])")
_AUTOLINK = re.compile(r"https?://[^\s<>\x00-\x1f\x7f-\x9f]+")


def _inline(text: str) -> str:
    """What a source, an agent or a person wrote, as markdown that shows it as written, on one line: line breaks
    shown as ` ↵ `, controls as escapes (`incident.display`), HTML, backslashes, backticks and brackets escaped.
    So it cannot start a heading, a list item or a table row, or open a link, an image or an HTML element."""
    shown = escape(display.one_line(text).strip(), quote=False)
    return _BLOCK_START.sub("\\\\", _PUNCTUATION.sub(r"\\\1", shown))


def _link(url: str) -> str:
    """A web address as an autolink; anything else (`javascript:`, spaces, controls) as text."""
    return f"<{url}>" if _AUTOLINK.fullmatch(url) and display.visible(url) == url else _inline(url)


def _cell(text: str) -> str:
    """`_inline`, and a `|` cannot end the cell early."""
    return _inline(text).replace("|", "\\|")


def _row(*cells: str) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _summary(st: IncidentState, svc: ServiceInfo | None) -> str:
    status = st.status.value if not st.open else f"still open ({st.status.value})"
    lines = ["## Summary", "", f"- Service: {_inline(st.service)}"]
    if svc and svc.team:
        lines.append(f"- Team: {_inline(svc.team)}")
    if svc and svc.runbook:
        lines.append(f"- Runbook: {_link(svc.runbook)}")
    lines += [f"- Severity: {st.severity_label}", f"- Status: {status}"]
    if st.resolved_by:
        said = f" — “{_inline(st.resolution)}”" if st.resolution else " (no summary given)"
        lines.append(f"- Resolved by: {_inline(st.resolved_by)}{said}")
    facing = "unknown" if svc is None else ("yes" if svc.customer_facing else "no")
    lines.append(f"- Customer facing: {facing}")
    return "\n".join(lines)


def _impact(st: IncidentState) -> str:
    start = st.opened_at
    lines = ["## Impact window", "", f"- First alert: {utc(start)}"]
    if st.first_page_at:
        took = duration(_to_first_page(st, st.first_page_at))
        lines.append(f"- First page: {utc(st.first_page_at)} ({took} after the first alert)")
    else:
        lines.append("- First page: nobody was paged")
    if st.acknowledged_at:
        ack = f"{utc(st.acknowledged_at)} by {_inline(st.acknowledged_by or 'unknown')}"
        lines.append(f"- Acknowledged: {ack} ({duration(st.acknowledged_at - start)} after the first alert)")
    else:
        lines.append("- Acknowledged: not acknowledged")
    if st.resolved_at:
        lines.append(f"- Resolved: {utc(st.resolved_at)} by {_inline(st.resolved_by or 'unknown')}")
        lines.append(f"- Total duration: {duration(st.resolved_at - start)}")
    else:
        last = st.timeline[-1].at if st.timeline else start
        lines.append("- Resolved: not resolved, the incident is still open")
        lines.append(f"- Total duration: still open; {duration(last - start)} up to the last recorded entry")
    return "\n".join(lines)


def _to_first_page(st: IncidentState, paged_at: datetime) -> timedelta:
    """As the workflow measured it (from the alert's receipt), else from the incident's opening."""
    if st.seconds_to_first_page is not None:
        return timedelta(seconds=st.seconds_to_first_page)
    return paged_at - st.opened_at


def _alerts(st: IncidentState) -> str:
    extra = f", {st.duplicates} repeated deliveries ignored" if st.duplicates else ""
    lines = ["## Alerts", "", f"{st.alert_count} alert event(s), {len(st.alerts)} distinct alert(s){extra}."]
    if st.alerts_untracked:
        lines.append(f"{st.alerts_untracked} further alert event(s) were counted but not tracked one by one.")
    if st.alerts:
        lines += ["", "| Alert | Events | State | First | Last |", "|---|---|---|---|---|"]
        for a in sorted(st.alerts.values(), key=lambda a: a.first_at):
            state = "firing" if a.firing else "recovered"
            lines.append(_row(a.summary, str(a.count), state, utc(a.first_at), utc(a.last_at)))
    return "\n".join(lines)


def _suspects(st: IncidentState) -> str:
    ctx = st.context
    if ctx is None or not (ctx.suspects or ctx.missing):
        return ""
    lines = ["## Changes in the window before the alert", ""]
    if ctx.suspects:
        lines.append("Recorded changes close to the alert. Whether any of them contributed is for the team to judge.")
        lines.append("")
    for s in ctx.suspects:
        c = s.change
        desc = f": {_inline(c.description)}" if c.description else ""
        link = f" ({_link(c.link)})" if c.link else ""
        lines.append(f"- {_inline(s.text)}, at {utc(c.at)}{desc}{link}")
    for m in ctx.missing:
        lines.append(f"- Not gathered: {_inline(m)}")
    return "\n".join(lines)


def _updates(entries: list[TimelineEntry]) -> str:
    """Every stakeholder update sent, as sent: when, by whom, to whom, and its text."""
    sent = [e for e in entries if e.kind == Kind.UPDATE_SENT]
    if not sent:
        return ""
    lines = ["## Stakeholder updates", "", "| Time (UTC) | # | By | To | Text |", "|---|---|---|---|---|"]
    for e in sent:
        data = e.data or {}
        by = str(data.get("by") or e.actor)
        if data.get("approved_by"):
            by += f" (approved by {data['approved_by']})"
        to = ", ".join(str(a) for a in data.get("audiences") or []) or "the timeline"
        lines.append(_row(utc(e.at)[:19], str(data.get("update", "")), by, to, str(data.get("text", e.text))))
    return "\n".join(lines)


def _timeline(entries: list[TimelineEntry], left: int = 0, runs: int = 1) -> str:
    lines = ["## Timeline", ""]
    if left:  # a long incident carries its story and its latest entries from run to run; the rest stays behind
        lines += [f"{say.timeline_left(left, runs)}.", ""]
    lines += ["| Time (UTC) | Who | What |", "|---|---|---|"]
    alerts = [e for e in entries if e.kind in ALERT_KINDS]
    rest = alerts[ALERT_ROWS:]
    collapsed = {id(e) for e in rest}
    for e in entries:
        if rest and e is rest[0]:
            span = f"{utc(rest[0].at)[11:19]} to {utc(rest[-1].at)[11:19]}"
            what = f"{len(rest)} further alert entries ({span}); last: {rest[-1].text}"
            lines.append(_row(utc(e.at)[:19], rest[-1].actor, what))
        elif id(e) not in collapsed:
            lines.append(_row(utc(e.at)[:19], e.actor, e.text))
    return "\n".join(lines)


def _who(entries: list[TimelineEntry], approvals: list[Approval], refusals: list[Refusal]) -> str:
    kinds: dict[str, Counter[str]] = {}
    for e in entries:
        kinds.setdefault(e.actor, Counter())[e.kind] += 1
    order = sorted(kinds, key=lambda a: _ACTOR_ORDER.get(a.partition(":")[0], 3))
    lines = ["## Who did what", ""]
    lines += [f"- {_inline(a)}: " + ", ".join(f"{_inline(k)} ({n})" for k, n in kinds[a].items()) for a in order]
    if approvals:
        lines += ["", "Approvals:", "", "| Action | Requested by | Decided by | Status |", "|---|---|---|---|"]
        for ap in approvals:
            lines.append(_row(ap.describe(), ap.requested_by, ap.decided_by or "—", ap.status.value))
    if refusals:
        lines += ["", "Refusals:", "", "| Actor | Action | Rule | Count |", "|---|---|---|---|"]
        lines += [_row(r.actor, r.action, r.rule, str(r.count)) for r in refusals]
    return "\n".join(lines)


def _questions(st: IncidentState, approvals: list[Approval], refusals: list[Refusal]) -> str:
    qs = ["What was the root cause? (not determined by baton)"]
    proposal = next((e for e in st.timeline if e.kind == Kind.SEVERITY_PROPOSED), None)
    severity = (proposal.data or {}).get("severity") if proposal else None
    proposed = (
        f"proposed as {_inline(str(severity))} by {_inline(proposal.actor)}"
        if severity and proposal
        else st.severity.value
    )
    by = st.severity_confirmed_by
    confirmed = f"set to {st.severity.value} by {_inline(by)}" if by else None
    qs.append(f"Was the severity right? It was {proposed} and " + (confirmed or "never confirmed by a human") + ".")
    if st.first_page_at:
        took = duration(_to_first_page(st, st.first_page_at))
        qs.append(f"Paging took {took}: was the right person reached first?")
    else:
        qs.append("Nobody was paged: should someone have been?")
    levels = [n for e in st.timeline if e.kind == Kind.ESCALATION and (n := level(e)) is not None]
    if max(levels, default=1) > 1:
        qs.append(f"Escalation reached level {max(levels)}: why did level 1 not acknowledge?")
    if any(e.kind == Kind.ESCALATION_EXHAUSTED for e in st.timeline):
        qs.append("Escalation ran out with nobody acknowledging: who should have been reached?")
    for ap in approvals:
        if ap.status is ApprovalStatus.DENIED:
            why = f" ({_inline(ap.reason)})" if ap.reason else ""
            what, who = _inline(ap.describe()), _inline(ap.decided_by or "unknown")
            qs.append(f"{what} was denied by {who}{why}: was that the right call?")
        elif ap.status is ApprovalStatus.EXPIRED:
            qs.append(f"{_inline(ap.describe())} expired unanswered: why did no approver decide in time?")
    for r in refusals:
        ask = "keep forbidding it" if r.verdict == "never" else "allow or forbid it"
        who, what, rule = _inline(r.actor), _inline(r.action), _inline(r.rule)
        qs.append(f"{who} was refused {what} {r.count} time(s) by {rule}: should the policy {ask}?")
    if st.context and st.context.suspects:
        qs.append("Did any of the changes before the alert play a part, and how would we know sooner?")
    if st.open:
        qs.append("The incident is still open: revisit this draft once it is resolved.")
    qs.append("What would have detected this sooner?")
    lines = ["## Open questions for the responders", "", *(f"- {q}" for q in qs)]
    return "\n".join([*lines, "", "Action items (owner, due date):", "", "- "])
