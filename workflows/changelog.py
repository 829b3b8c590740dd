"""ChangeLogWorkflow: the recent changes to one service (deploys, config, flags), kept durably in Temporal.

`POST /v1/changes` signals it (starting it if needed); incidents read it, through an activity, to name suspects.
It keeps the last MAX_CHANGES changes, within CARRY_BYTES (what it carries across continue-as-new, where Temporal
refuses inputs over 2 MB), and continues-as-new before its history grows: past HISTORY_EVENTS events or
HISTORY_BYTES bytes (a limit its input may lower). A lookup answers the most recent changes within a byte budget
(`incident.context.most_recent`), so no answer is too big to record.
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
MIN_HISTORY_BYTES = 2 * CARRY_BYTES
"""The lowest history size limit a run takes: a run starts with up to CARRY_BYTES of carried changes, and a lower
limit would have it continue as new again at once."""


@workflow.defn
class ChangeLogWorkflow:
    @workflow.init
    def __init__(self, changes: list[Change] | None = None, history_bytes: int = HISTORY_BYTES) -> None:
        self._changes: list[Change] = list(changes or [])
        self._history_bytes = max(history_bytes, MIN_HISTORY_BYTES)

    def _long(self, sized: bool) -> bool:
        info = workflow.info()
        big = info.is_continue_as_new_suggested() or info.get_current_history_size() > self._history_bytes
        return info.get_current_history_length() > HISTORY_EVENTS or (sized and big)

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
    async def run(self, changes: list[Change] | None = None, history_bytes: int = HISTORY_BYTES) -> None:
        """`history_bytes`: continue as new past this history size (a change log started by the client keeps the
        default, and its input stays the list of changes alone)."""
        sized = workflow.patched("continue-on-size")  # also on bytes, or when Temporal suggests it
        await workflow.wait_condition(lambda: self._long(sized))
        await workflow.wait_condition(workflow.all_handlers_finished)
        limit = [] if self._history_bytes == HISTORY_BYTES else [self._history_bytes]
        workflow.continue_as_new(args=[self._changes, *limit])
