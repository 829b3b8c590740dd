"""Where an incident's escalation stands, and what comes next. Pure: the workflow supplies the times.

`after` on a level is how long that level has to acknowledge before the next one is paged; after the last level
the levels run again `repeat` more times, and once the last level's `after` runs out on the last pass, escalation
is exhausted. A level whose targets resolve to nobody is skipped at once.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from incident.config import EscalationPolicy


class EscalationCursor(BaseModel):
    """Absolute deadlines, so a continue-as-new or a worker restart resumes exactly where it was."""

    active: bool = False
    cycle: int = 0
    level: int = 0
    next_at: datetime | None = None
    exhausted: bool = False
    next_now: bool = False
    """A human asked for the next level while this one was being paged: it is due the moment this one is."""

    @classmethod
    def start(cls, now: datetime) -> EscalationCursor:
        return cls(active=True, cycle=0, level=0, next_at=now)

    def stopped(self) -> EscalationCursor:
        return self.model_copy(update={"active": False, "next_at": None, "next_now": False})

    def hurry(self) -> None:
        """The next level is due as soon as this one is paged. In place: the escalation step holds this very
        cursor while it pages, and advances it (or drops it, when acknowledged meanwhile) once the page is out."""
        self.next_now = True

    def due(self, now: datetime) -> bool:
        return self.active and self.next_at is not None and self.next_at <= now

    def pending_exhaustion(self, policy: EscalationPolicy) -> bool:
        """True when no level is left to page and the cursor only waits to declare escalation exhausted."""
        return self.level >= len(policy.levels)

    def advance(self, policy: EscalationPolicy, at: datetime, skipped: bool) -> EscalationCursor:
        """The cursor after level `self.level` was paged (or skipped, which costs no wait) at `at`."""
        wait = policy.levels[self.level].after
        next_at = at if skipped or self.next_now else at + wait
        if self.level + 1 < len(policy.levels):
            return self.model_copy(update={"level": self.level + 1, "next_at": next_at, "next_now": False})
        if self.cycle < policy.repeat:
            return self.model_copy(update={"cycle": self.cycle + 1, "level": 0, "next_at": next_at, "next_now": False})
        return self.model_copy(update={"level": len(policy.levels), "next_at": next_at, "next_now": False})

    def exhaust(self) -> EscalationCursor:
        return self.model_copy(update={"active": False, "next_at": None, "exhausted": True})
