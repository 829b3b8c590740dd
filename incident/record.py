"""An agent's record: what it asked of each incident and what became of it, per severity and per action, and
which incidents were clean. The incident tallies as it goes (`Tally` rows in its state); when it completes it
sends one `AgentIncident` per agent to the agent's own workflow (`agent:...`), which adds it to the `AgentStats`
it carries across continue-as-new. `baton agents` shows them.

Clean: resolved, and nothing of the agent's was denied, refused or failed (baton has no undo: a run that failed
is the nearest thing to a reverted action it can see).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from incident.ladder import MAX_CHANGES, Ladder, LadderChange, Rung
from incident.models import Severity

Outcome = Literal[
    "alone", "approval", "approved", "denied", "expired", "failed", "never", "undefined", "impersonation", "refused"
]
"""What became of a request: ran `alone` (auto); asked for `approval`, then `approved`, `denied` or `expired`; an
action that `failed` when run; or refused: `never`, `undefined`, `impersonation`, or `refused` (a budget, bad
parameters)."""
ASKED: frozenset[str] = frozenset({"alone", "approval", "never", "undefined", "impersonation", "refused"})
"""Outcomes that are a request of their own: each counts once as asked."""
REFUSED: frozenset[str] = frozenset({"never", "undefined", "impersonation", "refused"})
OTHER_ACTIONS = "(other)"
"""Where counts of names past `MAX_ACTIONS` (or ones the policy does not name) go."""
MAX_TALLY_ROWS = 200
"""(agent, severity, action) rows an incident keeps; past it, counts go under OTHER_ACTIONS."""
MAX_ACTIONS = 40
"""Actions an agent's record keeps per severity; past it, counts go under OTHER_ACTIONS."""
RECENT_INCIDENTS = 50
"""Incidents an agent's record lists one by one (and remembers, so the same incident is counted once)."""


class Counts(BaseModel):
    asked: int = 0
    alone: int = 0
    approval: int = 0
    approved: int = 0
    denied: int = 0
    expired: int = 0
    failed: int = 0
    never: int = 0
    undefined: int = 0
    impersonation: int = 0
    refused: int = 0

    def add(self, outcome: str, n: int = 1) -> None:
        setattr(self, outcome, getattr(self, outcome) + n)
        if outcome in ASKED:
            self.asked += n

    def merge(self, other: Counts) -> None:
        for name in Counts.model_fields:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def refusals(self) -> int:
        return sum(getattr(self, r) for r in REFUSED)


class Tally(BaseModel):
    """One incident's counts for one agent, at one severity, for one action."""

    actor: str
    severity: str
    action: str
    counts: Counts = Field(default_factory=Counts)


def tally(rows: list[Tally], actor: str, severity: str, action: str, outcome: str, named: list[str]) -> None:
    """Count `outcome` in `rows`: a name the policy does not know, or one past the bound, counts as OTHER_ACTIONS."""
    if action not in named:
        action = OTHER_ACTIONS
    found = next((r for r in rows if (r.actor, r.severity, r.action) == (actor, severity, action)), None)
    if found is None and len(rows) >= MAX_TALLY_ROWS:
        action = OTHER_ACTIONS
        found = next((r for r in rows if (r.actor, r.severity, r.action) == (actor, severity, action)), None)
    if found is None:
        found = Tally(actor=actor, severity=severity, action=action)
        rows.append(found)
    found.counts.add(outcome)


def rows_for(rows: list[Tally], actor: str) -> list[Tally]:
    """`actor`'s rows of an incident's tally, as many as a record takes: past its bound the tally keeps an
    (other) row per severity, which must not make the incident's last step fail."""
    return [t for t in rows if t.actor == actor][:MAX_TALLY_ROWS]


class AgentIncident(BaseModel):
    """What one completed incident tells an agent's record."""

    agent: str = Field(description="the agent's name (without `agent:`)")
    incident_id: str
    severity: str = Field(description="the incident's severity when it completed")
    resolved: bool
    opened_by_agent: bool = False
    completed_at: datetime
    rows: list[Tally] = Field(default_factory=list, max_length=MAX_TALLY_ROWS)
    ladders: dict[Severity, Ladder] = Field(
        default_factory=dict, description="the incident's snapshot's autonomy ladders: what this incident counts toward"
    )
    owners: list[str] = Field(default_factory=list, description="who the snapshot says is told of a promotion")

    def outcomes(self) -> set[str]:
        """Which `demote_on` outcomes this incident had of the agent's, at any severity."""
        found = set()
        for r in self.rows:
            c = r.counts
            found |= {name for name, n in (("denied", c.denied), ("failed", c.failed), ("expired", c.expired)) if n}
            if c.refusals:
                found.add("refused")
        return found

    @property
    def clean(self) -> bool:
        """Resolved, and nothing of the agent's was denied, refused or failed."""
        return self.resolved and not any(r.counts.denied or r.counts.failed or r.counts.refusals for r in self.rows)


class IncidentLine(BaseModel):
    incident_id: str
    severity: str
    clean: bool
    resolved: bool
    asked: int
    completed_at: datetime


class SeverityRecord(BaseModel):
    incidents: int = 0
    resolved: int = 0
    clean: int = 0
    actions: dict[str, Counts] = Field(default_factory=dict)

    @property
    def totals(self) -> Counts:
        out = Counts()
        for c in self.actions.values():
            out.merge(c)
        return out


class AgentStats(BaseModel):
    """An agent's record across incidents: bounded (severities by `MAX_ACTIONS`, `RECENT_INCIDENTS` lines)."""

    incidents: int = 0
    by_severity: dict[str, SeverityRecord] = Field(default_factory=dict)
    recent: list[IncidentLine] = Field(default_factory=list, description="the latest incidents, newest last")
    ladder: dict[Severity, Rung] = Field(default_factory=dict, description="per laddered severity, where it stands")
    changes: list[LadderChange] = Field(default_factory=list, description="the latest promotions and demotions")

    def levels(self) -> dict[Severity, str]:
        """The level it has reached on each severity's ladder (what an incident that opens now fixes)."""
        return {sev: rung.level for sev, rung in self.ladder.items()}

    def climb(self, inc: AgentIncident, agent: str) -> list[LadderChange]:
        """Move on each ladder of `inc`'s snapshot: a listed outcome anywhere in it sends the agent back to the
        start (the count begins again); else a clean incident at a step's severity counts toward it, and the step
        is taken the moment the count reaches it. What moved, in severity order."""
        moved: list[LadderChange] = []
        bad = inc.outcomes()
        for sev in sorted(inc.ladders, key=lambda s: s.value):
            ladder = inc.ladders[sev]
            rung = self.ladder.get(sev)
            level = ladder.in_force(rung.level if rung else None)
            if rung is None or rung.level != level:
                rung = self.ladder[sev] = Rung(level=level)  # first seen, or the ladder changed under it
            hit = sorted(bad & set(ladder.demote_on))
            nxt = ladder.next_step(rung.level)
            why, to = "", rung.level
            if hit:
                rung.clean = 0
                if rung.level != ladder.start:
                    to, why = ladder.start, f"{' and '.join(hit)} in {inc.incident_id}"
            elif nxt is not None and inc.clean and inc.severity == nxt[1].at.value:
                rung.clean += 1
                if rung.clean >= nxt[1].clean:
                    to, why = nxt[0], f"{nxt[1].clean} clean {nxt[1].at.value} incidents, the last {inc.incident_id}"
            if why:
                change = LadderChange(
                    at=inc.completed_at,
                    agent=agent,
                    severity=sev,
                    from_level=rung.level,
                    to_level=to,
                    why=why,
                    incident_id=inc.incident_id,
                )
                rung.level, rung.clean, rung.since = to, 0, inc.completed_at
                moved.append(change)
        self.changes = [*self.changes, *moved][-MAX_CHANGES:]
        return moved

    def add(self, inc: AgentIncident) -> bool:
        """Count `inc` once (False: already counted)."""
        if any(line.incident_id == inc.incident_id for line in self.recent):
            return False
        self.incidents += 1
        sev = self.by_severity.setdefault(inc.severity, SeverityRecord())
        sev.incidents += 1
        sev.resolved += inc.resolved
        sev.clean += inc.clean
        for row in inc.rows:
            bucket = self.by_severity.setdefault(row.severity, SeverityRecord())
            action = row.action
            if action not in bucket.actions and len(bucket.actions) >= MAX_ACTIONS:
                action = OTHER_ACTIONS
            bucket.actions.setdefault(action, Counts()).merge(row.counts)
        asked = sum(r.counts.asked for r in inc.rows)
        line = IncidentLine(
            incident_id=inc.incident_id,
            severity=inc.severity,
            clean=inc.clean,
            resolved=inc.resolved,
            asked=asked,
            completed_at=inc.completed_at,
        )
        self.recent = [*self.recent, line][-RECENT_INCIDENTS:]
        return True


AGENT_ID_PREFIX = "agent:"


def agent_workflow_id(task_queue: str, agent: str) -> str:
    """The agent's own workflow (`agent:QUEUE:NAME` in the Temporal UI): its budgets and its record."""
    return f"{AGENT_ID_PREFIX}{task_queue}:{agent}"


class AgentView(BaseModel):
    """What `baton agents` shows of one agent: its record, and how many runs its workflow has had."""

    agent: str
    stats: AgentStats = Field(default_factory=AgentStats)
    runs: int = 0
    """0: its workflow has not started (it has not yet opened or worked an incident)."""
