"""Which changes of the incident workflow's command sequence a run takes: one marker for a new run, not one per change.

Each `workflow.patched` a run calls for the first time records a marker and makes the SDK upsert the
`TemporalChangeVersion` search attribute: a visibility write on the server. A new incident took six of them in its
first workflow task alone. A run started now calls `patched(BASELINE)` once, first, and takes every change in
`IMPLIED` without asking again. A run started before the baseline finds no baseline marker in its history, so it asks
each change by its own id, exactly as it did when it ran: every saved history replays as before.

A change made after the baseline gets its own id and is asked with `IncidentRun.patched` like any other; the next
baseline may list it.
"""

from __future__ import annotations

BASELINE = "baseline-2026-12"
IMPLIED = frozenset(
    {
        "actions-from-main-loop",
        "action-params",
        "agent-paged-not-oncall",
        "agent-record",
        "alert-severity-proposal",
        "approvals",
        "approval-own-level",
        "asked-before-first",
        "attested-actors",
        "pages-in-background",
        "carry-queued-work",
        "changes-deadline",
        "changes-local",
        "incident-channel",
        "contact-rules",
        "continue-on-size",
        "escalate-next-level",
        "first-attempt-local",
        "fold-duplicate-requests",
        "pagerduty-follow-ups",
        "fresh-policy-on-reopen",
        "refusals-bounded",
        "roles",
        "shadow-policy",
        "step-up",
        "page-until-delivered",
        "stakeholder-updates",
        "one-deadline-timer",
    }
)
"""Every change of the command sequence made before the baseline: a run that has the baseline takes them all."""
