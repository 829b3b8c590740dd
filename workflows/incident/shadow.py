"""The shadow policy beside the enforced one: every request decided by both, disagreements recorded, no effect."""

from __future__ import annotations

from temporalio import workflow

from incident import sentences as say
from incident.models import Actor, Severity
from incident.policy import Decision
from incident.shadow import MAX_SHADOW_KINDS, Disagreement, shadow_memo
from incident.timeline import Kind
from workflows.incident.run import IncidentRun

SHADOW_POLICY = "shadow-policy"
"""Patch id: a request the snapshot's shadow policy decides otherwise is recorded (a `shadow` entry, a counted row,
the memo). Only snapshots with `shadow` (None in older ones) reach it."""


class Shadow:
    def __init__(self, run: IncidentRun) -> None:
        self.run = run

    def compare(self, action: str, actor: Actor, severity: Severity, enforced: Decision) -> None:
        """Decide `action` under the shadow policy too; where the verdict differs, record and count it. Nothing
        the enforced decision does changes."""
        shadow = self.run.policy.shadow
        if shadow is None:
            return
        theirs = shadow.decide(action, actor, severity)
        if theirs.verdict is enforced.verdict or not self.run.patched(SHADOW_POLICY):
            return
        st, now = self.run.require(), workflow.now()
        st.shadow_total += 1
        key = (str(actor), action, severity.value, enforced.verdict.value, theirs.verdict.value)
        found = next((d for d in st.shadow if d.key == key), None)
        if found is None and len(st.shadow) < MAX_SHADOW_KINDS:
            found = Disagreement(
                actor=str(actor),
                action=action,
                severity=severity.value,
                verdict=enforced.verdict.value,
                shadow_verdict=theirs.verdict.value,
                shadow_rule=theirs.rule,
                first_at=now,
                last_at=now,
            )
            st.shadow.append(found)
            text = say.shadow_disagrees(
                actor, action, severity.value, enforced.verdict.value, theirs.verdict.value, theirs.rule
            )
            data = {"action": action, "verdict": found.verdict, "shadow_verdict": found.shadow_verdict}
            self.run.record(actor, Kind.SHADOW, text, {**data, "rule": theirs.rule})
        if found is not None:
            found.count += 1
            found.last_at = now
        workflow.upsert_memo(shadow_memo(st.shadow, st.shadow_total))
