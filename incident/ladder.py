"""Earned autonomy: a severity's `autonomy` may be a ladder instead of a constant. An agent starts at the ladder's
`start` (the strictest level it has) and climbs one step when it has had enough clean incidents at the step's
`at` severity since it last moved; an outcome the ladder lists under `demote_on` sends it back to `start`, and the
count begins again.

The counting is the agent's record's (`AgentStats.climb`); an incident fixes the level each agent has when it
opens in its policy snapshot (`Boundaries.earned`), so every decision in it is the same on replay.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from incident.fields import Strict
from incident.models import Severity

Autonomy = Literal["full", "approval", "read_only"]
LOOSENESS: dict[str, int] = {"read_only": 0, "approval": 1, "full": 2}
"""How much a level lets an agent do alone: a ladder only climbs up this order."""
MAX_CLEAN = 1_000
"""The most clean incidents a step may ask for: past it the step is a constant written as a ladder."""
DemoteOn = Literal["denied", "refused", "failed", "expired"]
"""What demotes: a request of the agent's `denied` by a human, `refused` (never, undefined, impersonation, a
budget or parameters), an action of its own that `failed`, an approval that `expired` unanswered."""
DEMOTE_ON: tuple[DemoteOn, ...] = ("denied", "refused")
MAX_CHANGES = 50
"""Promotions and demotions an agent's record lists (the latest ones)."""


class Step(Strict):
    """Climb to a level after `clean` clean incidents at severity `at` since the agent last moved."""

    clean: int = Field(ge=1, le=MAX_CLEAN, description="clean incidents needed")
    at: Severity = Field(description="the severity those incidents completed at")


class Ladder(Strict):
    """`autonomy.SEV2: {start: approval, full_after: {clean: 20, at: SEV3}, demote_on: [denied, refused]}`."""

    start: Autonomy
    approval_after: Step | None = None
    full_after: Step | None = None
    demote_on: list[DemoteOn] = Field(default_factory=lambda: list(DEMOTE_ON))

    @model_validator(mode="after")
    def _climbs(self) -> Ladder:
        if self.approval_after is None and self.full_after is None:
            raise ValueError("a ladder needs approval_after or full_after (else write the level as a constant)")
        if self.start == "full":
            raise ValueError("start: full leaves nothing to earn; a ladder starts at approval or read_only")
        if self.start == "approval" and self.approval_after is not None:
            raise ValueError("start: approval already is approval; approval_after climbs from read_only only")
        return self

    def steps(self) -> list[tuple[Autonomy, Autonomy, Step]]:
        """Each step up: from, to, and what it takes (in climbing order)."""
        out: list[tuple[Autonomy, Autonomy, Step]] = []
        level: Autonomy = self.start
        if self.approval_after is not None:
            out.append((level, "approval", self.approval_after))
            level = "approval"
        if self.full_after is not None:
            out.append((level, "full", self.full_after))
        return out

    def levels(self) -> list[Autonomy]:
        return [self.start, *(to for _, to, _ in self.steps())]

    def next_step(self, level: str) -> tuple[Autonomy, Step] | None:
        """Where an agent at `level` climbs next, and what it takes; None at the top."""
        return next(((to, step) for frm, to, step in self.steps() if frm == level), None)

    def in_force(self, level: str | None) -> Autonomy:
        """The level an agent's record says, if this ladder has it; else (unread, or the ladder changed) `start`."""
        return next((lvl for lvl in self.levels() if lvl == level), self.start)


class Rung(BaseModel):
    """Where an agent stands on one severity's ladder: its level and the clean incidents counted toward the next."""

    level: Autonomy
    clean: int = 0
    since: datetime | None = Field(None, description="when it last moved (None: never)")


class LadderChange(BaseModel):
    """One promotion or demotion, as the record lists it and the owners are told."""

    at: datetime
    agent: str
    severity: Severity
    from_level: Autonomy
    to_level: Autonomy
    why: str
    incident_id: str

    @property
    def promoted(self) -> bool:
        return LOOSENESS[self.to_level] > LOOSENESS[self.from_level]

    def text(self) -> str:
        verb = "promoted" if self.promoted else "demoted"
        return f"agent:{self.agent} {verb} at {self.severity.value}: {self.from_level} -> {self.to_level} ({self.why})"


def needs(ladder: Ladder, rung: Rung | None) -> str:
    """What an agent still needs for its next step, in words: `12 of 20 clean SEV3 incidents to full`."""
    level = ladder.in_force(rung.level if rung else None)
    nxt = ladder.next_step(level)
    if nxt is None:
        return "at the top of its ladder"
    to, step = nxt
    have = rung.clean if rung is not None and rung.level == level else 0
    return f"{have} of {step.clean} clean {step.at.value} incidents to {to}"


def _shape(value: object) -> str:
    return "[ladder]" if isinstance(value, dict | Ladder) else "[level]"


Level = Annotated[Annotated[Autonomy, Tag("[level]")] | Annotated[Ladder, Tag("[ladder]")], Discriminator(_shape)]
"""One severity's `autonomy`: a level written down, or a ladder (a mapping); each reports its own errors only (the
tags are bracketed so a problem's path leaves them out)."""
