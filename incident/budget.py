"""An agent's budget: how much it may ask of an incident, and of the team, per window.

A looping or hostile agent should cost responders a bounded amount of attention however it varies its calls: so
many requests (actions, proposals, acknowledgements), pages and notes per incident, and so many incidents opened,
per window. What is per incident is counted in the incident's own state; incidents opened are counted by one
small workflow per agent (`workflows.agent`). Pure: times are passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from incident.durations import Duration, format_duration
from incident.fields import Strict

BUDGET_VERDICT = "budget"
"""The verdict of a request refused because the agent's budget for it is used up."""
BudgetKind = Literal["requests", "pages", "notes", "incidents"]
MAX_USAGE = 100
"""(actor, kind) windows an incident keeps; past it the oldest is forgotten (only invented actors get there)."""


class AgentBudget(Strict):
    """`agents.NAME.budget`: per window, at most this many of each."""

    window: Duration = Field(default="1h", validate_default=True)
    requests: int = Field(20, ge=0, description="per incident: actions asked for, proposals, acknowledgements")
    pages: int = Field(10, ge=0, description="per incident: `page` and `escalate`")
    notes: int = Field(100, ge=0, description="per incident: notes on the timeline")
    incidents: int = Field(5, ge=0, description="incidents opened, across incidents")

    def limit(self, kind: BudgetKind) -> int:
        limit: int = getattr(self, kind)
        return limit

    def rule(self, agent: str, kind: BudgetKind) -> str:
        return f"agents.{agent}.budget.{kind}: {self.limit(kind)} per {format_duration(self.window)}"


class AgentBudgets(BaseModel):
    """What an incident's policy snapshot carries: each configured agent's budget, and the default for others."""

    agents: dict[str, AgentBudget] = Field(default_factory=dict)
    default: AgentBudget = Field(default_factory=AgentBudget)

    def of(self, agent: str) -> AgentBudget:
        return self.agents.get(agent) or self.default


class Usage(BaseModel):
    """One actor's use of one kind in the current window."""

    actor: str
    kind: str
    since: datetime
    count: int = 0
    refused: int = Field(0, description="asked for past the limit in this window")


def take(
    usage: list[Usage], actor: str, kind: BudgetKind, limit: int, window: timedelta, now: datetime
) -> tuple[bool, Usage]:
    """Count one use: whether it is within the limit, and the window it went to. A use past the limit is counted
    as refused, never as used. A window starts with its first use and lasts `window`."""
    found = next((u for u in usage if u.actor == actor and u.kind == kind), None)
    if found is None or now >= found.since + window:
        if found is not None:
            usage.remove(found)
        found = Usage(actor=actor, kind=kind, since=now)
        usage.append(found)
        if len(usage) > MAX_USAGE:
            usage.remove(min(usage, key=lambda u: u.since))
    if found.count >= limit:
        found.refused += 1
        return False, found
    found.count += 1
    return True, found


def refresh_at(u: Usage, window: timedelta) -> datetime:
    return u.since + window
