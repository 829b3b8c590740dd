"""IntakeBufferWorkflow: where the intake parks an alert storm durably, in large batches across incidents.

A signal per alert into each incident is what Temporal takes slowly (a few hundred per second here). Under a storm
the intake instead sends everything pending, for every incident, in one signal to a buffer (a couple of shards),
answers its sources as soon as that signal is durable, and this workflow forwards the alerts to their incidents
with an activity: per incident one signal carrying all it got meanwhile. Forwarding retries until delivered;
incidents drop repeats by delivery id, so a retried forward never double-counts.

The backlog is bounded: the intake reads the buffer's history size from the server and answers 503 instead of
adding to a buffer that is too far behind, so history stays far below Temporal's limits; continue-as-new waits
until what it carries fits.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from incident.batch import AlertBatch, merge

BUFFER_ID_PREFIX = "intake-buffer-"
IDLE = timedelta(minutes=10)
GATHER = timedelta(milliseconds=250)
FORWARD_BYTES = 400_000
CARRY_BYTES = 1_500_000
"""Continue-as-new carries the backlog; Temporal refuses inputs over 2 MB."""
HISTORY_EVENTS = 1_000
HISTORY_BYTES = 8_000_000
FORWARD_HEARTBEAT = timedelta(seconds=10)
"""A forward reports after each incident it reached. One lost with its worker, or whose answer a Temporal restart
lost, is retried once this passes without word, not after the whole start-to-close timeout."""
FORWARD_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))


@workflow.defn
class IntakeBufferWorkflow:
    @workflow.init
    def __init__(self, pending: list[AlertBatch] | None = None) -> None:
        self._pending: list[AlertBatch] = list(pending or [])

    @workflow.signal
    def take(self, batches: list[AlertBatch]) -> None:
        self._pending.extend(batches)

    @workflow.query
    def backlog(self) -> int:
        """Bytes waiting to be forwarded."""
        return sum(h.size for h in self._pending)

    @workflow.run
    async def run(self, pending: list[AlertBatch] | None = None) -> int:
        forwarded = 0
        while True:
            info = workflow.info()
            long = info.get_current_history_length() > HISTORY_EVENTS or info.get_current_history_size() > HISTORY_BYTES
            if long and self.backlog() <= CARRY_BYTES:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if self.backlog() <= CARRY_BYTES:
                    workflow.continue_as_new(self._pending)
            try:
                await workflow.wait_condition(lambda: bool(self._pending), timeout=IDLE, timeout_summary="idle")
            except TimeoutError:
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self._pending:
                    return forwarded
            # Let a storm gather for a moment: each incident then gets one signal for many alerts, which is what
            # keeps Temporal (and the worker) from doing per-alert work.
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self.backlog() >= FORWARD_BYTES, timeout=GATHER, timeout_summary="gather"
                )
            batch: list[AlertBatch] = []
            size = 0
            while self._pending and (not batch or size + self._pending[0].size <= FORWARD_BYTES):
                h = self._pending.pop(0)
                batch.append(h)
                size += h.size
            batch = merge(batch)
            await workflow.execute_activity(
                "forward_alerts",  # ForwardingActivities.forward, by its registered name
                batch,
                result_type=int,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=FORWARD_HEARTBEAT,
                retry_policy=FORWARD_RETRY,
                summary=f"forward {sum(len(h.alerts) for h in batch)} alerts to {len(batch)} incident(s)",
            )
            forwarded += sum(len(h.alerts) for h in batch)
