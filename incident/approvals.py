"""Pending approvals and refusals: what an incident keeps about the decisions agents asked humans for.

An approval is asked for once, decided once: approved (the action then runs as an activity), denied, or expired
when nobody with the right answered before its escalation ran out. Workflows build these, so times are passed in.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

MAX_REFUSAL_KINDS = 50
"""Distinct (actor, action, rule) refusals of names the policy does not know (junk, look-alikes) an incident counts
one by one; past it they are counted together in one `OTHER_NAMES` row per actor and verdict. Refusals of actions
the policy names (judgment calls above all) are always counted one by one, up to `MAX_NAMED_KINDS`."""
MAX_NAMED_KINDS = 200
"""Distinct refusals of named actions kept: the policy's actions times its agents' rules; a bound on memory only."""
OTHER_NAMES = "(other unknown names)"
MAX_REFUSAL_NOTICES = 5
"""Refusal notices an incident sends its responders, however an agent varies its requests; the rest are recorded."""


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class ActionRun(BaseModel):
    """What running an approved (or auto) action did: the deploy system's or status page's answer, or why not."""

    ok: bool
    ran: bool = Field(True, description="False when no runner is configured for the action: a human does it by hand")
    runner: str = Field("", description="e.g. `webhook POST https://ci.example.com/...`, `command ./rollback.sh`")
    detail: str = ""
    dry_run: bool = Field(False, description="a drill: the runner was described, not called")


class Approval(BaseModel):
    """A request whose rule is `approval`: it waits for a human with the right to decide."""

    id: str = Field(description="short, per incident: A1, A2, …")
    action: str
    params: dict[str, str] = Field(default_factory=dict)
    text: str | None = Field(None, description="customer comms: the message to post (the approver may edit it)")
    rationale: str
    requested_by: str
    requested_at: datetime
    rule: str = Field(description="the rule that asked for approval, e.g. `boundaries.agent.approval`")
    approvers: list[str] = Field(default_factory=list, description="who may decide, from `boundaries.approvers`")
    deadline: datetime = Field(description="when it escalates (or expires, once escalation has run out)")
    escalations: int = 0
    level: int = Field(0, description="the last escalation level asked about it (0: only who was asked first)")
    status: ApprovalStatus = ApprovalStatus.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = Field(None, description="why it was denied or expired")
    run: ActionRun | None = None
    request_id: str | None = Field(
        None, description="the caller's request id (or the update's): asked again with it, this approval answers"
    )

    @property
    def pending(self) -> bool:
        return self.status is ApprovalStatus.PENDING

    def describe(self) -> str:
        """`rollback (version=v41)`: what is asked, in a few words."""
        params = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.action} ({params})" if params else self.action


class Refusal(BaseModel):
    """One kind of refused request, counted: how a team sees what its policy forgot or forbids."""

    actor: str
    action: str
    verdict: str = Field(description="`never`, `undefined` or `params`")
    rule: str
    count: int = 0
    first_at: datetime
    last_at: datetime

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.actor, self.action, self.rule)


def refusal_memo(refusals: list[Refusal]) -> dict[str, Any]:
    """The refusals as the workflow memo keeps them, so `baton boundaries report` reads them without a worker."""
    return {
        "refusals": [
            {"actor": r.actor, "action": r.action, "verdict": r.verdict, "rule": r.rule, "count": r.count}
            for r in refusals
        ]
    }


class RefusalRow(BaseModel):
    """One line of `baton boundaries report`: a kind of refused request across incidents."""

    action: str
    verdict: str
    rule: str
    count: int
    incidents: list[str]
    actors: list[str]


def aggregate_refusals(memos: dict[str, dict[str, Any]]) -> list[RefusalRow]:
    """Refusal memos per incident id → one row per (action, verdict, rule), most frequent first."""
    rows: dict[tuple[str, str, str], RefusalRow] = {}
    for incident_id, memo in memos.items():
        for r in memo.get("refusals", []):
            key = (r["action"], r["verdict"], r["rule"])
            row = rows.setdefault(
                key, RefusalRow(action=key[0], verdict=key[1], rule=key[2], count=0, incidents=[], actors=[])
            )
            row.count += int(r["count"])
            if incident_id not in row.incidents:
                row.incidents.append(incident_id)
            if r["actor"] not in row.actors:
                row.actors.append(r["actor"])
    return sorted(rows.values(), key=lambda row: (-row.count, row.action))
