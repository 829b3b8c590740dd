"""MemoWorkflow: the little the gateway's processes must agree on for a few minutes, kept where all of them reach it.

Any number of intakes run side by side, and what one of them saw must count for all: a Slack request's signature
(a replay sent to another intake is still a replay), a one-time code (used once, whichever gateway checked it), the
message a Slack form was opened from (its submission may reach another intake). One workflow per purpose; the
gateway asks it with update-with-start, so the first request starts it.

Every entry expires, and the state is bounded in entries and bytes (the oldest go first); continue-as-new carries
only what has not expired, long before the history grows.
"""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel, Field
from temporalio import workflow

MEMO_ID_PREFIX = "memo:"
MAX_KEY = 200
MAX_VALUE = 60_000
"""Characters of one value: a Slack message's blocks (at most 50) fit."""
MAX_ENTRIES = 10_000
MAX_BYTES = 1_000_000
"""Encoded bytes of keys and values kept at once (`MemoEntry.size`): continue-as-new carries them, and Temporal
refuses inputs over 2 MB."""
HISTORY_LIMIT = 2_000


def memo_workflow_id(task_queue: str, purpose: str) -> str:
    return f"{MEMO_ID_PREFIX}{task_queue}:{purpose}"


class MemoEntry(BaseModel):
    key: str = Field(min_length=1, max_length=MAX_KEY)
    value: str = Field("", max_length=MAX_VALUE)
    expires_at: datetime

    @property
    def size(self) -> int:
        """Bytes it takes encoded, at most: JSON with every non-ASCII character escaped (6 bytes a character)."""
        return len(json.dumps(self.key)) + len(json.dumps(self.value))


class MemoState(BaseModel):
    entries: list[MemoEntry] = Field(default_factory=list)


@workflow.defn(sandboxed=False)
class MemoWorkflow:
    @workflow.init
    def __init__(self, state: MemoState) -> None:
        self._entries: dict[str, MemoEntry] = {e.key: e for e in state.entries}
        self._bytes = sum(e.size for e in self._entries.values())

    @workflow.run
    async def run(self, state: MemoState) -> None:
        await workflow.wait_condition(
            lambda: (
                workflow.info().get_current_history_length() >= HISTORY_LIMIT
                or workflow.info().is_continue_as_new_suggested()
            )
        )
        await workflow.wait_condition(workflow.all_handlers_finished)
        self._prune()
        workflow.continue_as_new(MemoState(entries=list(self._entries.values())))

    @workflow.update
    def first(self, entry: MemoEntry) -> bool:
        """Record `entry.key`; False when it is already recorded and has not expired (seen before)."""
        self._prune()
        if entry.key in self._entries:
            return False
        self._add(entry)
        return True

    @workflow.update
    def put(self, entry: MemoEntry) -> None:
        """Keep `entry.value` under its key until it expires or is taken."""
        self._prune()
        self._drop(entry.key)
        self._add(entry)

    @workflow.update
    def take(self, key: str) -> str | None:
        """The value kept under `key`, now forgotten; None when there is none (never kept, taken, or expired)."""
        self._prune()
        found = self._drop(key)
        return found.value if found is not None else None

    @workflow.query
    def size(self) -> int:
        """Entries kept now."""
        return len(self._entries)

    def _add(self, entry: MemoEntry) -> None:
        self._entries[entry.key] = entry
        self._bytes += entry.size
        while len(self._entries) > MAX_ENTRIES or self._bytes > MAX_BYTES:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> MemoEntry | None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= found.size
        return found

    def _prune(self) -> None:
        now = workflow.now()
        for key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            self._drop(key)
