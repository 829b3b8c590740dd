"""ChangeLogWorkflow: the recent changes to one service (deploys, config, flags), kept durably in Temporal.

`POST /v1/changes` signals it (starting it if needed); incidents read it, through an activity, to name suspects.
It keeps the last MAX_CHANGES changes, within CARRY_BYTES (what it carries across continue-as-new, where Temporal
refuses inputs over 2 MB), and continues-as-new before its history grows. A lookup answers the most recent
changes within a byte budget (`incident.context.most_recent`), so no answer is too big to record.
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from incident.context import Change, most_recent, size_of
    from workflows.messages import CHANGELOG_ID_PREFIX, changelog_id

__all__ = ["CHANGELOG_ID_PREFIX", "ChangeLogWorkflow", "changelog_id"]
MAX_CHANGES = 500
CARRY_BYTES = 1_000_000
HISTORY_EVENTS = 2_000
HISTORY_BYTES = 10_000_000


def _long(sized: bool) -> bool:
    info = workflow.info()
    big = info.is_continue_as_new_suggested() or info.get_current_history_size() > HISTORY_BYTES
    return info.get_current_history_length() > HISTORY_EVENTS or (sized and big)


@workflow.defn
class ChangeLogWorkflow:
    @workflow.init
    def __init__(self, changes: list[Change] | None = None) -> None:
        self._changes: list[Change] = list(changes or [])

    @workflow.signal
    def record(self, change: Change) -> None:
        self._changes.append(change)
        self._changes.sort(key=lambda c: c.at)
        del self._changes[:-MAX_CHANGES]
        sizes = [size_of(c) for c in self._changes]
        total = sum(sizes)
        drop = 0
        while total > CARRY_BYTES and drop < len(sizes):
            total -= sizes[drop]
            drop += 1
        del self._changes[:drop]

    @workflow.query
    def since(self, when: datetime) -> list[Change]:
        """The most recent changes at or after `when` (no zone: UTC), within the answer's budget, oldest first."""
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
        return most_recent([c for c in self._changes if c.at >= when])

    @workflow.run
    async def run(self, changes: list[Change] | None = None) -> None:
        sized = workflow.patched("continue-on-size")  # also on bytes, or when Temporal suggests it
        await workflow.wait_condition(lambda: _long(sized))
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._changes)
