"""A shadow policy: a second `Boundaries` decided beside the enforced one for every request, with no effect.

Where the two disagree the incident records it (a `shadow` timeline entry the first time of each kind, a counted
row in its state and memo), and `baton boundaries report --shadow` sums the rows across incidents, most frequent
first: a team watches a stricter or looser policy on real traffic before it switches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

MAX_SHADOW_KINDS = 50
"""Distinct disagreements an incident counts one by one; past it they are counted in `shadow_total` only."""
MEMO_KEY = "shadow"


class Disagreement(BaseModel):
    """One kind of request the shadow policy decides otherwise than the enforced one, counted."""

    actor: str
    action: str
    severity: str
    verdict: str = Field(description="the enforced policy's verdict")
    shadow_verdict: str
    shadow_rule: str
    count: int = 0
    first_at: datetime
    last_at: datetime

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.actor, self.action, self.severity, self.verdict, self.shadow_verdict)


def shadow_memo(rows: list[Disagreement], total: int) -> dict[str, Any]:
    """The disagreements as the workflow memo keeps them, so the report reads them without a worker."""
    return {
        MEMO_KEY: {
            "total": total,
            "rows": [
                {
                    "actor": r.actor,
                    "action": r.action,
                    "severity": r.severity,
                    "verdict": r.verdict,
                    "shadow_verdict": r.shadow_verdict,
                    "shadow_rule": r.shadow_rule,
                    "count": r.count,
                }
                for r in rows
            ],
        }
    }


class ShadowRow(BaseModel):
    """One line of `baton boundaries report --shadow`: a kind of disagreement across incidents."""

    action: str
    severity: str
    verdict: str
    shadow_verdict: str
    shadow_rule: str
    count: int
    incidents: list[str]
    actors: list[str]


def aggregate_shadow(memos: dict[str, dict[str, Any]]) -> list[ShadowRow]:
    """Memos per incident id → one row per (action, severity, verdict, shadow verdict, rule), most frequent first."""
    rows: dict[tuple[str, str, str, str, str], ShadowRow] = {}
    for incident_id, memo in memos.items():
        found = memo.get(MEMO_KEY)
        if not isinstance(found, dict):
            continue
        for r in found.get("rows", []):
            key = (r["action"], r["severity"], r["verdict"], r["shadow_verdict"], r["shadow_rule"])
            row = rows.setdefault(
                key,
                ShadowRow(
                    action=key[0],
                    severity=key[1],
                    verdict=key[2],
                    shadow_verdict=key[3],
                    shadow_rule=key[4],
                    count=0,
                    incidents=[],
                    actors=[],
                ),
            )
            row.count += int(r["count"])
            if incident_id not in row.incidents:
                row.incidents.append(incident_id)
            if r["actor"] not in row.actors:
                row.actors.append(r["actor"])
    return sorted(rows.values(), key=lambda row: (-row.count, row.action, row.severity))
