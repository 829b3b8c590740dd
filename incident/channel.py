"""What an incident knows of its Slack channel: which one, what baton set on it, how far the timeline is mirrored.

Kept in the incident's state (carried across continue-as-new, bounded), so every step of the channel work is
done once: a retried or replayed step reads here what was already done. The choices that need no Slack (the topic,
which timeline entries are worth mirroring, how they read) are here too, pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from incident.models import TimelineEntry
from incident.slack_contract import esc
from incident.timeline import Kind

if TYPE_CHECKING:
    from incident.state import IncidentState

TOPIC_MAX = 250
MIRROR_BATCH = 25
"""Timeline entries one chat.postMessage carries at most: a burst of them is a few messages, not one each."""
MIRRORED = frozenset(
    {
        Kind.PAGED,
        Kind.PAGE_UNREACHABLE,
        Kind.ACKNOWLEDGED,
        Kind.ACK_TIMEOUT,
        Kind.ROLE,
        Kind.ROLE_PROPOSED,
        Kind.LEAD_MISSING,
        Kind.APPROVAL_REQUESTED,
        Kind.APPROVAL_ESCALATED,
        Kind.APPROVAL_APPROVED,
        Kind.APPROVAL_DENIED,
        Kind.APPROVAL_EXPIRED,
        Kind.APPROVAL_WITHDRAWN,
        Kind.ACTION_RAN,
        Kind.ACTION_FAILED,
        Kind.SEVERITY,
        Kind.SEVERITY_PROPOSED,
        Kind.ESCALATION_EXHAUSTED,
        Kind.RECOVERED,
        Kind.UPDATE_DUE,
        Kind.UPDATE_SENT,
        Kind.NOTE,
    }
)
"""What the channel hears of the timeline: who was paged and who answered, roles, approvals asked and decided,
severity, stakeholder updates, notes. Not alerts (a storm is one incident, not a thousand lines), nor failed
attempts, follow-ups or the channel's own entries. The resolve is told by the closing message."""


class ChannelState(BaseModel):
    channel_id: str | None = Field(None, description="Slack's id for the channel (C…), once created or found")
    name: str | None = Field(None, description="the channel's name, e.g. inc-7k2q9m-checkout")
    created: bool = Field(False, description="baton created it (it archives only a channel it created)")
    invited: list[str] = Field(default_factory=list, description="people invited so far")
    topic: str | None = Field(None, description="the topic baton set last")
    mirrored: int = Field(0, description="timeline entries considered for mirroring so far (counting earlier runs')")
    archive_at: datetime | None = Field(None, description="when the channel is to be archived")
    archived: bool = False
    off: str | None = Field(None, description="why there is no channel work (no integrations.slack, a refusal)")
    static: bool = Field(False, description="a static channel the service shares: posts go in the summary's thread")
    summary_ts: str | None = Field(None, description="the summary's message ts ('' when it could not be posted)")
    announced: bool = False
    announcement: str | None = Field(None, description="where the announcement went, `C123:ts` (for its thread)")
    bookmarked: bool = False
    mirrored_at: datetime | None = Field(None, description="the time of the last entry mirrored")

    @property
    def thread(self) -> str | None:
        """Where the incident's messages go: a static channel's summary thread; a created channel's top level."""
        return self.summary_ts or None if self.static else None

    @property
    def shown(self) -> str:
        """`#inc-7k2q9m-checkout`, or the id where the name is not known."""
        if self.name and self.name != self.channel_id:
            return f"#{self.name}"
        return self.channel_id or "(none)"


def topic(st: IncidentState) -> str:
    """`INC-7K2Q9M · SEV1 · acknowledged · lead: alice · checkout 5xx above 5%`: what a glance at the channel needs."""
    lead = st.lead or "nobody yet"
    text = f"{st.incident_id} · {st.severity_label} · {st.status.value} · lead: {lead} · {st.title}"
    return text if len(text) <= TOPIC_MAX else text[: TOPIC_MAX - 1] + "…"


def to_invite(st: IncidentState) -> list[str]:
    """Whoever was paged or leads and is not invited yet, in the order they joined."""
    ch = st.channel
    wanted = [*st.paged, *([st.lead] if st.lead else [])]
    done = set(ch.invited) if ch else set()
    return [p for p in dict.fromkeys(wanted) if p not in done]


def unmirrored(st: IncidentState, limit: int = MIRROR_BATCH) -> tuple[list[TimelineEntry], int]:
    """The entries past `mirrored` worth mirroring (at most `limit`), and the absolute count considered once those
    are posted. The carried timeline keeps the most recent entries, and an entry's absolute number is
    `timeline_left` plus its index there, so what was not mirrored before a continue-as-new is still found."""
    ch = st.channel
    if ch is None:
        return [], 0
    total = st.timeline_left + len(st.timeline)
    behind = total - ch.mirrored
    if behind <= 0:
        return [], ch.mirrored
    out: list[TimelineEntry] = []
    for i in range(max(len(st.timeline) - behind, 0), len(st.timeline)):
        e = st.timeline[i]
        if ch.mirrored_at is not None and e.at < ch.mirrored_at:
            continue  # a story entry carried from before the most recent ones: mirrored already
        if e.kind in MIRRORED and e.kind is not Kind.RESOLVED:
            if len(out) == limit:
                return out, st.timeline_left + i
            out.append(e)
    return out, total


def line(e: TimelineEntry) -> str:
    """One mirrored entry as mrkdwn: `` `14:07` *alice* acknowledged … ``; what people wrote is escaped."""
    kind, _, name = e.actor.partition(":")
    who = name if kind in ("human", "agent") and name else "baton"
    return f"`{e.at:%H:%M}` *{esc(who)}* {esc(e.text, '        ')}"


POST_LIMIT = 39_000
"""Characters of one channel message at most: Slack cuts `text` at 40,000. Escaping and continued lines can make
a few long notes this long, so a longer message is cut here, at a line, and says so, never refused."""


def clip_post(text: object) -> object:
    """A message within POST_LIMIT: cut at the last line that fits, with a line saying where the rest is."""
    if not isinstance(text, str) or len(text) <= POST_LIMIT:
        return text
    cut = text.rfind("\n", 0, POST_LIMIT - 200)
    kept = text[: cut if cut > 0 else POST_LIMIT - 200]
    return kept + f"\n… {len(text) - len(kept):,} more characters: the whole timeline is in `baton show`"


def lines(entries: list[TimelineEntry]) -> str:
    return "\n".join(line(e) for e in entries)
