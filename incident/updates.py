"""Stakeholder updates: when the next one is due, the draft waiting to be sent, and what was sent.

Pure data and pure functions: the workflow keeps an `UpdatesState` in the incident's state and asks here what is
due; the draft is written from the timeline since the last update.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from incident.coordination import LEAD, UpdateSettings
from incident.timeline import Kind

if TYPE_CHECKING:  # incident.state holds an UpdatesState: the names are only read by the type checker here
    from incident.state import IncidentPolicy, IncidentState

COMMS = "comms"
"""The role that sends updates where a team defines it; else the lead does."""
INTERNAL = "internal"
CUSTOMERS = "customers"
DRAFT_LIMIT = 3_000
"""Characters of a draft (a request's text is at most 4,000: an edited draft fits)."""
MAX_OUTBOX = 5
"""Updates accepted and still being posted, at most: a send past this is turned away."""
LISTED = 3
"""Notes, actions and alerts a draft names one by one; the rest are counted."""
PIECE = 200
"""Characters of one quoted piece (an alert's summary, a note) in a draft."""


class Outgoing(BaseModel):
    """An update accepted for the internal audiences, posted from the main loop one audience at a time; each
    audience done is remembered, so a retried post never reaches an audience twice."""

    id: str = Field(description="U1, U2, …: the update's number")
    text: str
    audiences: list[str]
    by: str
    posted: list[str] = Field(default_factory=list, description="audiences it reached")
    failed: dict[str, str] = Field(default_factory=dict, description="audience -> why it could not be posted")
    drill: bool = Field(False, description="a drill's worker described the posts and posted nothing")
    status: Literal["queued", "posting"] = "queued"

    @property
    def left(self) -> list[str]:
        return [a for a in self.audiences if a not in self.posted and a not in self.failed]


class UpdatesState(BaseModel):
    due_at: datetime | None = Field(None, description="when the next update is due")
    sent: int = Field(0, description="updates sent so far")
    last_sent_at: datetime | None = None
    draft: str | None = Field(None, description="the draft waiting to be sent, once the update is due")
    draft_by: str | None = Field(None, description="who wrote the draft's wording: baton, or who proposed it")
    pending: bool = Field(False, description="an update is due and nobody has sent it yet")
    asked: list[str] = Field(default_factory=list, description="who was asked to send the update now due")
    remind_at: datetime | None = Field(None, description="when the due update is reminded if still unsent")
    escalate_at: datetime | None = Field(None, description="when the due update is escalated if still unsent")
    reminded: bool = False
    level: int = Field(0, description="the escalation level last asked about the due update")
    outbox: list[Outgoing] = Field(default_factory=list, description="accepted updates still being posted")
    customer_approvals: list[str] = Field(
        default_factory=list, description="approvals of customer_comms asked for as an update (sent once approved)"
    )

    @property
    def number(self) -> int:
        """The number of the update due next (or now)."""
        return self.sent + 1


def cadence(settings: UpdateSettings, st: IncidentState) -> timedelta | None:
    """How often an update is due at the severity in force (None: no cadence at this severity)."""
    return settings.every.get(st.severity)


def next_due(settings: UpdateSettings, st: IncidentState, upd: UpdatesState) -> datetime | None:
    """When the next update falls due: `every` (for the severity in force) after the last one sent, or after the
    incident opened; None where the severity has no cadence."""
    every = cadence(settings, st)
    if every is None:
        return None
    return (upd.last_sent_at or st.opened_at) + every


def remind_after(settings: UpdateSettings, st: IncidentState) -> timedelta:
    """How long a due update waits before it is reminded, and then escalated: `remind_after`, else a third of the
    cadence (a minute at least)."""
    if settings.remind_after is not None:
        return settings.remind_after
    every = cadence(settings, st) or min(settings.every.values(), default=timedelta(minutes=30))
    return max(every / 3, timedelta(minutes=1))


def senders(st: IncidentState, policy: IncidentPolicy) -> list[str]:
    """Who is asked to send an update: whoever holds `comms`, else the lead, else everyone paged, else the
    first escalation level (nobody paged yet)."""
    for role in (COMMS, LEAD):
        if person := st.roles.get(role):
            return [f"user:{person}"]
    if st.paged:
        return [f"user:{p}" for p in st.paged]
    levels = policy.escalation.levels
    return list(levels[0].notify) if levels else []


def _clip(text: str, limit: int = PIECE) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 1] + "…"


def _hhmm(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%H:%M UTC")


def _ago(d: timedelta) -> str:
    minutes = max(0, int(d.total_seconds() // 60))
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60:02d} min"


def _listed(items: list[str], what: str) -> str:
    shown = "; ".join(items[:LISTED])
    more = len(items) - LISTED
    return shown + (f" (and {more} more {what})" if more > 0 else "")


def draft(st: IncidentState, policy: IncidentPolicy, now: datetime, next_at: datetime | None) -> str:
    """The update to send, from the incident's state and its timeline since the last update: impact, what is
    known, what is being done, and when the next update comes. Facts only; the sender edits it as they see fit."""
    upd = st.updates or UpdatesState()
    since = upd.last_sent_at or st.opened_at
    fresh = [e for e in st.timeline if e.at > since or (upd.last_sent_at is None and e.at >= since)]
    facing = "customer-facing" if policy.service.customer_facing else "internal, not customer-facing"
    head = f"Update {upd.number} on {st.incident_id} ({st.severity_label}): {_clip(st.title)}"
    impact = f"Impact: {st.service} ({facing}), affected since {_hhmm(st.opened_at)} ({_ago(now - st.opened_at)})."
    firing = [_clip(a.summary) for a in st.alerts.values() if a.firing]
    known = [f"Severity {st.severity_label}."]
    if firing:
        known.append(f"{len(firing)} alert(s) firing: {_listed(firing, 'alerts')}.")
    elif st.alerts:
        known.append("Every alert has recovered.")
    if st.context and st.context.suspects:
        known.append(f"Changes just before it: {_listed([_clip(s.text) for s in st.context.suspects], 'changes')}.")
    notes = [f"{_clip(e.text)} ({e.actor.partition(':')[2] or e.actor})" for e in fresh if e.kind == Kind.NOTE]
    if notes:
        known.append(f"Notes: {_listed(notes, 'notes')}.")
    doing = []
    if lead := st.lead:
        doing.append(f"{lead} leads.")
    others = [f"{person} ({role})" for role, person in st.roles.items() if role != LEAD]
    if others:
        doing.append(f"Also on it: {', '.join(others)}.")
    if not st.lead:
        if st.paged:
            doing.append(f"Responding: {', '.join(st.paged)}.")
        else:
            doing.append("Paging the on-call responders.")
    if st.acknowledged_by and not st.lead:
        doing.append(f"Acknowledged by {st.acknowledged_by.partition(':')[2] or st.acknowledged_by}.")
    acted = [_clip(e.text) for e in fresh if e.kind in (Kind.ACTION_RAN, Kind.ACTION_FAILED, Kind.ACTION_ACCEPTED)]
    if acted:
        doing.append(f"Actions: {_listed(acted, 'actions')}.")
    waiting = [f"{a.describe()} (waiting for approval)" for a in st.pending_approvals]
    if waiting:
        doing.append(f"Asked for: {_listed(waiting, 'requests')}.")
    nxt = f"Next update by {_hhmm(next_at)}." if next_at else "Next update when there is news."
    parts = [
        head,
        impact,
        "What we know: " + " ".join(known),
        "What we are doing: " + " ".join(doing),
        nxt,
    ]
    text = "\n".join(parts)
    return text if len(text) <= DRAFT_LIMIT else text[: DRAFT_LIMIT - 1] + "…"
