"""An incident's state transitions that need nothing but the state, the policy and `now`.

Open, record an alert (and what it implies: a refire, a recovery, an acknowledgement from the source, a more severe
incident), acknowledge, ack timeout, close, set or propose the severity, an unanswered approval, reload. Each
changes the state it is given and returns a `Transition`: the timeline entries it wrote, in order, the notices to
send, and whether the workflow's main loop must look again. The workflow records what comes back; nothing here
reads a clock or does I/O, so these are tested as plain functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from incident import sentences as say
from incident.approvals import Approval, ApprovalStatus
from incident.escalation import EscalationCursor
from incident.models import NAME, Actor, Alert, AlertAction, AlertRecord, Severity, Status, TimelineEntry, bounded
from incident.state import (
    DETAILS_KEPT,
    MAX_ALERT_RECORDS,
    RECENT_EVENTS,
    SUMMARY_KEPT,
    TIMELINE_ALERT_ENTRIES,
    IncidentPolicy,
    IncidentState,
    clip,
    event_id_kept,
    labels_kept,
    links_kept,
)
from incident.timeline import Kind, entry

AGENT = "baton"
"""The built-in agent that does the first minute's machine work."""
NoticeKind = Literal["recovered", "approval", "notice"]


@dataclass
class Notice:
    """Something to tell or ask people: sent from the workflow's main loop to `targets` (`user:NAME`, ...)."""

    targets: list[str]
    kind: NoticeKind
    text: str | None = None
    approval_id: str | None = None


@dataclass
class Transition:
    """What a transition wrote: entries for the timeline, notices to send, and whether the main loop looks again."""

    at: datetime
    entries: list[TimelineEntry] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    wake: bool = False
    message: str = ""

    def add(self, actor: Actor, kind: Kind, text: str, data: dict[str, Any] | None = None) -> None:
        self.entries.append(entry(self.at, actor, kind, text, data))

    def tell(
        self, targets: list[str], kind: NoticeKind, text: str | None = None, approval_id: str | None = None
    ) -> None:
        self.notices.append(Notice(targets, kind, text, approval_id))
        self.wake = True

    def then(self, other: Transition) -> Transition:
        """This transition followed by `other` (recorded after it)."""
        self.entries += other.entries
        self.notices += other.notices
        self.wake = self.wake or other.wake
        self.message = other.message or self.message
        return self


def responders(st: IncidentState) -> list[str]:
    """Everyone paged so far, as targets."""
    return [f"user:{p}" for p in st.paged]


def needs_confirmation(policy: IncidentPolicy, severity: Severity) -> bool:
    """Whether a human must confirm this severity (`boundaries.confirm_severity`)."""
    rule = policy.boundaries.confirm_severity
    return rule == "always" or (
        rule == "customer_facing" and (policy.service.customer_facing or severity in (Severity.SEV0, Severity.SEV1))
    )


# ---- opening, and alerts from sources --------------------------------------------------------------------------


def open_incident(
    alert: Alert, incident_id: str, workflow_id: str, policy: IncidentPolicy, now: datetime
) -> tuple[IncidentState, Transition]:
    """The incident a first trigger opens: escalation starts at once."""
    st = IncidentState(
        incident_id=incident_id,
        workflow_id=workflow_id,
        title=clip(alert.summary, SUMMARY_KEPT),
        service=alert.service,
        severity=alert.severity,
        opened_at=now,
    )
    st.alert_received_at = alert.received_at
    st.severity_needs_confirmation = needs_confirmation(policy, alert.severity)
    st.opened_by, st.severity_floor = opener(alert), alert.severity_floor if opener(alert) else None
    t = Transition(now)
    by = Actor.parse(st.opened_by) if st.opened_by else Actor.system(alert.source)
    t.add(by, Kind.OPENED, say.opened(alert.service, alert.severity))
    st.escalation = EscalationCursor.start(now)
    agent = Actor.agent(AGENT)
    if policy.boundaries.decide("acknowledge", agent, alert.severity).allowed:
        t.add(agent, Kind.COORDINATION, say.COORDINATION_STARTED)
    return st, t


def opener(alert: Alert) -> str | None:
    """The agent an alert says opens the incident (`agent:NAME`, set by the gateway), else None: a source."""
    who = alert.opened_by
    return who if who and who.startswith("agent:") and NAME.match(who.removeprefix("agent:")) else None


def raises_severity(st: IncidentState, alert: Alert) -> bool:
    """Whether this event proposes a more severe incident than the one in force: a trigger, more severe, and no
    human has set the severity (a human's severity stays until a human changes it)."""
    more_severe = list(Severity).index(alert.severity) < list(Severity).index(st.severity)
    return alert.action is AlertAction.TRIGGER and more_severe and not st.severity_confirmed_by


def record_alert(
    st: IncidentState,
    policy: IncidentPolicy,
    alert: Alert,
    now: datetime,
    recent: set[str],
    severity_proposals: bool = True,
) -> Transition:
    """An event for an open incident. `recent` mirrors `st.recent_events`, to spot a source's retry quickly.

    A trigger's severity is a proposal (`severity_proposals`; incidents that began before did not read it): the
    incident runs at the most severe one, and needs a human's confirmation where `confirm_severity` says so. What
    the state keeps of the event is bounded (summary, labels, links, details); the event itself is in the history."""
    t = Transition(now)
    if alert.event_id:
        event_id = event_id_kept(alert.event_id)
        if event_id in recent:
            st.duplicates += 1
            return t
        _remember(st, recent, event_id)
    summary = clip(alert.summary, SUMMARY_KEPT)
    who = opener(alert)
    source = Actor.parse(who) if who else Actor.system(alert.source)
    rec = st.alerts.get(alert.key)
    t.wake = True
    if alert.action is AlertAction.TRIGGER:
        st.alert_count += 1
        if rec is None and len(st.alerts) >= MAX_ALERT_RECORDS:
            st.alerts_untracked += 1
        elif rec is None:
            st.alerts[alert.key] = AlertRecord(
                key=alert.key,
                summary=summary,
                count=1,
                first_at=now,
                last_at=now,
                changed_at=alert.received_at,
                labels=labels_kept(alert.labels),
                links=links_kept(alert.links),
                details=bounded(alert.details, DETAILS_KEPT),
            )
        else:
            rec.count += 1
            rec.last_at = now
            refired = not rec.firing and rec.newer(alert)
            if rec.newer(alert):
                rec.firing, rec.changed_at, rec.summary = True, alert.received_at, summary
            if refired:
                t.add(source, Kind.ALERT_REFIRED, say.alert_refired(summary))
                _resume_escalation(st, now)
        _alert_entry(st, t, source, alert, summary)
        if severity_proposals and raises_severity(st, alert):
            reason = say.alert_proposes_severity(summary)
            t.then(propose_severity(st, policy, source, alert.severity, reason, now))
    elif alert.action is AlertAction.ACKNOWLEDGE:
        t.then(acknowledge(st, policy, source, now, via_source=True))
    elif alert.action is AlertAction.RESOLVE:
        if rec is not None and not rec.newer(alert):
            t.add(source, Kind.ALERT_LATE, say.alert_late(summary))
            return t
        if rec is not None:
            rec.firing, rec.changed_at, rec.last_at = False, alert.received_at, now
        t.add(source, Kind.ALERT_RECOVERED, say.alert_recovered(summary))
        if not st.firing:
            t.then(_all_recovered(st, policy, source, now))
    return t


def _remember(st: IncidentState, recent: set[str], event_id: str) -> None:
    recent.add(event_id)
    st.recent_events.append(event_id)
    if len(st.recent_events) > RECENT_EVENTS:
        recent.discard(st.recent_events.pop(0))


def _alert_entry(st: IncidentState, t: Transition, source: Actor, alert: Alert, summary: str) -> None:
    """Alert events on the timeline stay bounded: the first few one by one, then one running summary."""
    st.alert_entries += 1
    if st.alert_entries <= TIMELINE_ALERT_ENTRIES:
        t.add(source, Kind.ALERT, say.alert(summary, alert.severity, clip(alert.key, SUMMARY_KEPT)))
        return
    more = st.alert_entries - TIMELINE_ALERT_ENTRIES
    # One running entry, kept last among alert events: the previous one moves up to now.
    st.timeline[:] = [e for e in st.timeline if e.kind != Kind.ALERTS_MORE]
    t.entries = [e for e in t.entries if e.kind != Kind.ALERTS_MORE]
    t.add(source, Kind.ALERTS_MORE, say.alerts_more(more, summary))


def _resume_escalation(st: IncidentState, now: datetime) -> None:
    cur = st.escalation
    if st.status is Status.TRIGGERED and not cur.active and not cur.exhausted and cur.next_at is not None:
        st.escalation = cur.model_copy(update={"active": True, "next_at": max(now, cur.next_at)})


def _all_recovered(st: IncidentState, policy: IncidentPolicy, source: Actor, now: datetime) -> Transition:
    """Every alert recovered. Declaring it resolved stays a human decision unless the service says otherwise."""
    t = Transition(now)
    rule = f"services.{policy.service.name}.on_recovery: {policy.service.on_recovery}"
    match policy.service.on_recovery:
        case "ignore":
            t.add(Actor.system(), Kind.RECOVERED, say.recovered_ignored(rule))
        case "resolve":
            t.then(close(st, source, say.recovered_resolve(rule), now))
        case _:
            if st.status is Status.TRIGGERED and st.escalation.active:
                st.escalation = st.escalation.model_copy(update={"active": False})
            t.add(Actor.system(), Kind.RECOVERED, say.recovered_ask(rule))
            if st.paged:
                t.notices.append(Notice(responders(st), "recovered"))
    return t


# ---- acknowledging and closing -----------------------------------------------------------------------------------


def acknowledge(st: IncidentState, policy: IncidentPolicy, actor: Actor, now: datetime, via_source: bool) -> Transition:
    """Escalation stops; with an ack timeout, the incident goes back to triggered unless resolved in time."""
    t = Transition(now)
    if st.status is not Status.TRIGGERED:
        return t
    st.status = Status.ACKNOWLEDGED
    st.acknowledged_at, st.acknowledged_by = now, str(actor)
    timeout = policy.escalation.ack_timeout
    st.ack_deadline = now + timeout if timeout else None
    st.escalation = st.escalation.stopped()
    t.add(actor, Kind.ACKNOWLEDGED, say.acknowledged(actor, via_source, timeout))
    t.wake = True
    return t


def ack_timed_out(st: IncidentState, policy: IncidentPolicy, now: datetime) -> Transition:
    """Acknowledged but not resolved in time: back to triggered, and escalation starts over."""
    t = Transition(now)
    timeout = policy.escalation.ack_timeout or timedelta()
    t.add(Actor.system(), Kind.ACK_TIMEOUT, say.ack_timeout(st.acknowledged_by, timeout))
    st.status = Status.TRIGGERED
    st.acknowledged_at = st.acknowledged_by = st.ack_deadline = None
    st.escalation = EscalationCursor.start(now)
    return t


def close(st: IncidentState, actor: Actor, summary: str, now: datetime) -> Transition:
    """Resolved. Approvals still pending are closed with the reason: nothing is left waiting on a closed incident."""
    st.status = Status.RESOLVED
    st.resolved_at, st.resolved_by = now, str(actor)
    st.resolution = summary.strip() or None
    st.escalation = st.escalation.stopped()
    st.ack_deadline = None
    for approval in st.pending_approvals:
        approval.status, approval.decided_at = ApprovalStatus.EXPIRED, now
        approval.reason = say.APPROVAL_RESOLVED_FIRST
    t = Transition(now, wake=True, message=f"{st.incident_id} resolved by {actor}")
    t.add(actor, Kind.RESOLVED, say.resolved(actor, st.resolution))
    return t


# ---- severity ------------------------------------------------------------------------------------------------------


def set_severity(st: IncidentState, actor: Actor, severity: Severity, reason: str, now: datetime) -> Transition:
    """A human sets the severity: confirming it or changing it."""
    before = st.severity_label
    st.severity, st.severity_confirmed_by = severity, str(actor)
    t = Transition(now, wake=True, message=f"{st.incident_id} is {severity.value}")
    t.add(actor, Kind.SEVERITY, say.severity_set(severity, before, reason), {"severity": severity.value})
    return t


def propose_severity(
    st: IncidentState, policy: IncidentPolicy, actor: Actor, severity: Severity, reason: str, now: datetime
) -> Transition:
    """An agent proposes: until a human confirms where the policy asks for it, the incident runs at the more severe
    of what is in force and the proposal. A human's severity stays."""
    t = Transition(now)
    if st.severity_confirmed_by:
        text = say.severity_proposed_kept(severity, reason, st.severity, st.severity_confirmed_by)
        t.add(actor, Kind.SEVERITY_PROPOSED, text, {"severity": severity.value})
        t.message = "proposal recorded; a human set the severity"
        return t
    st.severity = min(st.severity, severity, key=lambda s: list(Severity).index(s))
    st.severity_needs_confirmation = st.severity_needs_confirmation or needs_confirmation(policy, severity)
    text = say.severity_proposed(severity, reason, st.severity_label)
    t.add(actor, Kind.SEVERITY_PROPOSED, text, {"severity": severity.value})
    t.wake = True
    t.message = f"in force: {st.severity_label}"
    return t


# ---- approvals and policy ------------------------------------------------------------------------------------------


def approval_timed_out(
    st: IncidentState, policy: IncidentPolicy, approval: Approval, now: datetime, own_level: bool = True
) -> Transition:
    """An approval nobody answered escalates like an unacknowledged page: the next level neither paged nor asked
    about it yet is asked; when no level is left, it expires (the requester may ask again).

    The approval keeps its own level: asking a level about one approval is not paging it into the incident, so
    `st.top_level` (what `escalate` brings in next) stays. `own_level=False` is how incidents that began before
    did it (they raised `st.top_level`), kept for their replay."""
    t = Transition(now)
    levels = policy.escalation.levels
    timeout = policy.boundaries.approval_timeout
    asked = max(st.top_level, approval.level) if own_level else st.top_level
    if asked < len(levels):
        level = levels[asked]
        if own_level:
            approval.level = asked + 1
        else:
            st.top_level = asked + 1
        approval.escalations += 1
        approval.deadline = now + timeout
        t.add(
            Actor.system(),
            Kind.APPROVAL_ESCALATED,
            say.approval_escalated(approval, timeout, asked + 1, level.notify),
            {"approval": approval.id, "level": asked + 1},
        )
        t.tell(level.notify, "approval", say.approval_question(st.incident_id, approval), approval.id)
        return t
    approval.status, approval.decided_at = ApprovalStatus.EXPIRED, now
    approval.reason = say.approval_expiry_reason(timeout)
    t.add(Actor.system(), Kind.APPROVAL_EXPIRED, say.approval_expired(approval), {"approval": approval.id})
    t.tell(responders(st), "notice", say.approval_expired_notice(approval))
    return t


def reload(st: IncidentState, before: IncidentPolicy, after: IncidentPolicy, actor: Actor, now: datetime) -> Transition:
    """A human applies a new policy to the running incident: escalation keeps its place, within the new levels."""
    changed = [
        name
        for name in ("boundaries", "escalation", "service", "context", "action_params", "shadow")
        if getattr(before, name) != getattr(after, name)
    ]
    levels = len(after.escalation.levels)
    if st.escalation.level >= levels:
        st.escalation = st.escalation.model_copy(update={"level": max(levels - 1, 0)})
    st.top_level = min(st.top_level, levels)
    what = ", ".join(changed) if changed else "nothing changed"
    t = Transition(now, wake=True, message=f"policy reloaded ({what})")
    t.add(actor, Kind.POLICY_RELOADED, say.policy_reloaded(actor, changed))
    return t
