"""The baseline version: one marker for every change made before it, and a list that never grows."""

from __future__ import annotations

from pathlib import Path

from workflows.incident.versions import IMPLIED

FROZEN = {
    "actions-from-main-loop", "action-params", "agent-paged-not-oncall", "agent-record", "alert-severity-proposal",
    "approvals", "approval-own-level", "asked-before-first", "attested-actors", "pages-in-background",
    "carry-queued-work", "changes-deadline", "changes-local", "incident-channel", "contact-rules", "continue-on-size",
    "escalate-next-level", "first-attempt-local", "fold-duplicate-requests", "pagerduty-follow-ups",
    "fresh-policy-on-reopen", "refusals-bounded", "roles", "shadow-policy", "step-up", "page-until-delivered",
    "stakeholder-updates", "one-deadline-timer",
}  # fmt: skip
PACKAGE = Path(__file__).parents[2] / "workflows" / "incident"


def test_the_baseline_list_is_frozen() -> None:
    """A change added to IMPLIED after the baseline shipped would be taken, on replay, by runs recorded before the
    change existed: a new change gets its own id instead."""
    assert set(IMPLIED) == FROZEN


def test_every_change_is_asked_through_the_run() -> None:
    """`workflow.patched` called directly would add a marker (and a visibility write) the baseline saves, or, for
    an implied change, ask again what the run already knows."""
    direct = [
        f"{p.name}:{n}"
        for p in PACKAGE.glob("*.py")
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if "workflow.patched(" in line and p.name != "run.py"
    ]
    assert direct == []
