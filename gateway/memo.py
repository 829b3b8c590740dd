"""The gateway's side of `workflows.memo`: what every intake must agree on, asked of one workflow per purpose.

Keys are hashed here (a signature, a person and a code's step, a message's channel and ts), so what is kept is
fixed-size and says nothing by itself; a value too large to keep is not kept (the caller does without it).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy

from gateway.client import Unavailable, patiently, temporal_errors
from workflows.memo import MAX_VALUE, MemoEntry, MemoState, MemoWorkflow, memo_workflow_id

MEMO_TIMEOUT = timedelta(seconds=2)
"""One ask: a Slack request has three seconds in all."""


def _key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class SharedMemo:
    """One purpose's memo (`slack-requests`, `codes`, `slack-forms`). Raises `gateway.client.Unavailable` when
    Temporal cannot be reached, as the façade does."""

    def __init__(self, client: Client, task_queue: str, purpose: str) -> None:
        self.client = client
        self.workflow_id = memo_workflow_id(task_queue, purpose)
        self.task_queue = task_queue
        self.purpose = purpose

    async def first(self, raw_key: str, expires_at: datetime) -> bool:
        """True the first time any gateway asks about `raw_key` before it expires; False after."""
        return bool(await self._ask(MemoWorkflow.first, MemoEntry(key=_key(raw_key), expires_at=expires_at)))

    async def put(self, raw_key: str, value: str, expires_at: datetime) -> bool:
        """Keep `value` for whichever gateway takes it; False (nothing kept) when it is too large."""
        if len(value) > MAX_VALUE:
            return False
        await self._ask(MemoWorkflow.put, MemoEntry(key=_key(raw_key), value=value, expires_at=expires_at))
        return True

    async def take(self, raw_key: str) -> str | None:
        found = await self._ask(MemoWorkflow.take, _key(raw_key))
        return found if isinstance(found, str) else None

    async def _ask(self, update: object, arg: object) -> object:
        start = WithStartWorkflowOperation(
            MemoWorkflow.run,
            MemoState(),
            id=self.workflow_id,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=self.task_queue,
            static_summary=f"what every gateway must agree on: {self.purpose}",
        )

        async def ask() -> object:
            return await self.client.execute_update_with_start_workflow(
                update,  # type: ignore[call-overload]
                arg,
                start_workflow_operation=start,
                rpc_timeout=MEMO_TIMEOUT,
            )

        try:
            with temporal_errors():
                return await patiently(ask, f"the gateways' shared {self.purpose}")
        except (WorkflowUpdateRPCTimeoutOrCancelledError, WorkflowUpdateFailedError) as e:
            # No worker runs the memo (workers older than this gateway: roll workers out first), or it failed.
            raise Unavailable(f"the gateways' shared {self.purpose} did not answer: {type(e).__name__}") from None
