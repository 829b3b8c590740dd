"""What an incident's timeline can say: the kinds of entry, and building one.

Every entry has a kind from `Kind` (the stored values are the wire format: saved states and histories carry them)
and a sentence from `incident.sentences`. Entries that other code reads carry structured `data` as well, so
nothing parses the sentence:

- `paged`, `page_failed`: `person`, `method`, `level` (and `detail` once delivered; `late` and `attempts` for pages
  tried until delivered);
- `page_retrying`: `person`, `level`, `attempts`, `methods` (method -> failed attempts); `page_unreachable`,
  `page_dropped`: `person`, `level`;
- `forwarded` (baton's ack or resolve told to a method that keeps its own incident): `person`, `method`, `status`;
- `escalation`: `level`, `levels`, `pass`, `people`;
- `escalation_skipped`: `level`; `escalation_exhausted`: `levels`, `passes`; `escalate`: `level`;
- `approval_escalated`: `approval`, `level`; other approval entries: `approval`;
- `severity`, `severity_proposed`: `severity`;
- `refused`, `undefined`: `action`; `action_accepted`, `action_ran`, `action_failed`: `action`, `ref`;
- `shadow`: `action`, `verdict` (enforced), `shadow_verdict`, `rule` (the shadow policy's);
- `update_due`: `update`, `draft`, `asked`; `update_reminded`: `update`, `asked`; `update_escalated`: `update`,
  `level`; `update_proposed`: `update`, `text`; `update_sent`: `update`, `text`, `audiences`, `by` (and
  `approval` or `ref`); `update_posted`: `update`, `posted`, `failed`;
- `maintenance`, `maintenance_ended`: `window`, `target`;
- follow-ups (`asked_to_resolve`, `page_updated`, `asked_to_decide`, `told`): `person`, `method` (and `approval`).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from incident.models import Actor, TimelineEntry


class Kind(StrEnum):
    # opening and alerts from sources
    OPENED = "opened"
    COORDINATION = "coordination"
    ALERT = "alert"
    ALERTS_MORE = "alerts_more"
    """One running entry once the alerts recorded one by one reach their limit."""
    ALERT_REFIRED = "alert_refired"
    ALERT_LATE = "alert_late"
    ALERT_RECOVERED = "alert_recovered"
    RECOVERED = "recovered"
    # context
    CONTEXT = "context"
    # escalation and paging
    ESCALATION = "escalation"
    ESCALATION_SKIPPED = "escalation_skipped"
    ESCALATION_EXHAUSTED = "escalation_exhausted"
    PAGE_PROBLEM = "page_problem"
    PAGED = "paged"
    PAGE_FAILED = "page_failed"
    PAGE_RETRYING = "page_retrying"
    """One running entry per page being retried: the failed attempts per method."""
    PAGE_UNREACHABLE = "page_unreachable"
    PAGE_DROPPED = "page_dropped"
    FORWARDED = "forwarded"
    PAGE_UPDATED = "page_updated"
    ASKED_TO_RESOLVE = "asked_to_resolve"
    ASKED_TO_DECIDE = "asked_to_decide"
    TOLD = "told"
    ESCALATE = "escalate"
    PAGE_REQUESTED = "page_requested"
    # humans and agents
    ACKNOWLEDGED = "acknowledged"
    ACK_TIMEOUT = "ack_timeout"
    RESOLVED = "resolved"
    NOTE = "note"
    SEVERITY = "severity"
    SEVERITY_PROPOSED = "severity_proposed"
    POLICY_RELOADED = "policy_reloaded"
    LOOKUP_ONCALL = "lookup_oncall"
    GATHER_CONTEXT = "gather_context"
    # boundaries, approvals and actions
    REFUSED = "refused"
    UNDEFINED = "undefined"
    IMPERSONATION = "impersonation"
    AUTONOMY = "autonomy"
    """The agents' earned autonomy, fixed in the incident's policy as it opened (ladders only)."""
    SHADOW = "shadow"
    """The shadow policy decided a request otherwise than the enforced one (recorded, no effect)."""
    """A request whose actor the gateway did not vouch for: refused, changed nothing."""
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_ESCALATED = "approval_escalated"
    APPROVAL_EXPIRED = "approval_expired"
    APPROVAL_DENIED = "approval_denied"
    APPROVAL_APPROVED = "approval_approved"
    APPROVAL_WITHDRAWN = "approval_withdrawn"
    ACTION_ACCEPTED = "action_accepted"
    """An auto action accepted by `request`: it runs from the main loop, its outcome follows."""
    ACTION_RAN = "action_ran"
    ACTION_FAILED = "action_failed"
    ACTION_SKIPPED = "action_skipped"
    # coordination: roles, the channel, stakeholder updates
    ROLE = "role"
    """Someone took, handed over or gave up a role."""
    ROLE_PROPOSED = "role_proposed"
    LEAD_MISSING = "lead_missing"
    """Nobody led in time: the incident commanders are paged."""
    CHANNEL = "channel"
    """The channel was created (or found), announced, or archived."""
    CHANNEL_PROBLEM = "channel_problem"
    UPDATE_DUE = "update_due"
    UPDATE_REMINDED = "update_reminded"
    UPDATE_ESCALATED = "update_escalated"
    UPDATE_PROPOSED = "update_proposed"
    UPDATE_SENT = "update_sent"
    UPDATE_POSTED = "update_posted"
    """What an update sent to the internal audiences reached, and where it could not be posted."""
    # maintenance windows
    MAINTENANCE = "maintenance"
    """A maintenance window of the service opened: escalation and queued notices are held."""
    MAINTENANCE_ENDED = "maintenance_ended"
    """The window ended: escalation resumes (or, for alerts it held, they opened or joined this incident)."""


ALERT_KINDS = (Kind.ALERT, Kind.ALERTS_MORE)
STORY = frozenset(
    {
        Kind.OPENED,
        Kind.MAINTENANCE,
        Kind.MAINTENANCE_ENDED,
        Kind.ROLE,
        Kind.LEAD_MISSING,
        Kind.UPDATE_SENT,
        Kind.COORDINATION,
        Kind.ALERT,
        Kind.ALERTS_MORE,
        Kind.ALERT_REFIRED,
        Kind.RECOVERED,
        Kind.CONTEXT,
        Kind.ESCALATION,
        Kind.ESCALATION_SKIPPED,
        Kind.ESCALATION_EXHAUSTED,
        Kind.PAGED,
        Kind.ESCALATE,
        Kind.PAGE_REQUESTED,
        Kind.ACKNOWLEDGED,
        Kind.ACK_TIMEOUT,
        Kind.RESOLVED,
        Kind.SEVERITY,
        Kind.POLICY_RELOADED,
        Kind.APPROVAL_REQUESTED,
        Kind.APPROVAL_ESCALATED,
        Kind.APPROVAL_EXPIRED,
        Kind.APPROVAL_DENIED,
        Kind.APPROVAL_APPROVED,
        Kind.APPROVAL_WITHDRAWN,
        Kind.ACTION_ACCEPTED,
        Kind.ACTION_RAN,
        Kind.ACTION_FAILED,
        Kind.ACTION_SKIPPED,
    }
)
"""The kinds that tell an incident's story: what a run carries first when it continues as new. Notes, follow-ups,
refusals and failed attempts are carried only while recent; all of them stay in the history of the run they were
written in."""
MAX_ENTRY_TEXT = 5_000
"""Characters of one entry's text: a note or a reason is at most 4,000; nothing else comes near."""


def entry(at: datetime, actor: Actor, kind: Kind, text: str, data: dict[str, Any] | None = None) -> TimelineEntry:
    if len(text) > MAX_ENTRY_TEXT:
        text = text[: MAX_ENTRY_TEXT - 1] + "…"
    return TimelineEntry(at=at, actor=str(actor), kind=kind, text=text, data=data)


def level(e: TimelineEntry) -> int | None:
    """The escalation level an entry is about, from its data (None when it names none)."""
    value = (e.data or {}).get("level")
    return value if isinstance(value, int) else None
