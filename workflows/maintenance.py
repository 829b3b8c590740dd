"""MaintenanceWorkflow: one per window, `maintenance:QUEUE:ID`. Durable timers for its start and its end.

At its start it tells the open incidents of its service that escalation is held (`maintenance_hold`). While open,
the intake hands it each matching alert (the `suppress` update, durable once answered) instead of an incident. At
its end, the planned one or an early `end`, it tells the incidents it held (`maintenance_release`) and opens an
incident for each suppressed alert still firing (`maintenance_reopen`, the normal signal-with-start). Its state is
one bounded `Window`, carried across continue-as-new.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from incident.maintenance import (
        HoldRequest,
        Notice,
        ReleaseRequest,
        ReopenRequest,
        Window,
        WindowView,
    )
    from incident.models import Alert

MAINTENANCE_ID_PREFIX = "maintenance:"
HISTORY_EVENTS = 5_000
"""Each suppressed batch is an update (a few events); past this the window continues as new."""
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
"""Until done: an incident held must be released, and what still fires must open."""
TIMEOUT = timedelta(seconds=60)
MAX_BATCH = 500


def maintenance_id(task_queue: str, window_id: str) -> str:
    """Per task queue too: two deployments sharing a namespace keep their windows apart."""
    return f"{MAINTENANCE_ID_PREFIX}{task_queue}:{window_id}"


class SuppressRequest(BaseModel):
    """Alerts for one incident (its workflow id) that the intake found matching this window."""

    workflow_id: str = Field(max_length=1000)
    alerts: list[Alert] = Field(max_length=MAX_BATCH)


class EndRequest(BaseModel):
    """An early end, from a person the gateway authenticated."""

    actor: str = Field(max_length=200)


@workflow.defn
class MaintenanceWorkflow:
    @workflow.init
    def __init__(self, window: Window) -> None:
        self._w = window
        self._ending = window.status == "ended"

    @workflow.update
    def suppress(self, req: SuppressRequest) -> bool:
        """Record the alerts (True), or False when the window is not open: the intake then sends them as usual."""
        w = self._w
        if w.status != "open":
            return False
        now = workflow.now()
        for alert in req.alerts:
            w.take(req.workflow_id, alert, now)
        return True

    @workflow.update
    def end(self, req: EndRequest) -> WindowView:
        """End now: nothing more is suppressed from this moment; the run then releases and reopens."""
        w = self._w
        if w.status != "ended":
            w.status, w.ended_at, w.ended_by = "ended", workflow.now(), req.actor
            self._ending = True
        return WindowView.of(w)

    @workflow.query
    def window(self) -> Window:
        return self._w

    @workflow.query
    def view(self) -> WindowView:
        return WindowView.of(self._w)

    def _notice(self, start: bool) -> Notice:
        s = self._w.spec
        return Notice(
            window_id=s.id,
            start=start,
            target=s.matcher.describe(),
            message=s.message,
            by=s.opened_by if start else (self._w.ended_by or "the planned end"),
            until=self._w.ends_at,
        )

    def _long(self) -> bool:
        info = workflow.info()
        return info.get_current_history_length() > HISTORY_EVENTS or info.is_continue_as_new_suggested()

    async def _continue_if_long(self) -> None:
        if self._long():
            await workflow.wait_condition(workflow.all_handlers_finished)
            workflow.continue_as_new(self._w)

    async def _until(self, at: datetime, why: str) -> None:
        """Wait until `at` (or an early end), continuing as new when the history grows long meanwhile."""
        while not self._ending:
            await self._continue_if_long()
            left = at - workflow.now()
            if left <= timedelta(0):
                return
            try:
                await workflow.wait_condition(lambda: self._ending or self._long(), timeout=left, timeout_summary=why)
            except TimeoutError:
                return

    @workflow.run
    async def run(self, window: Window) -> WindowView:
        w, s = self._w, self._w.spec
        if w.starts_at is None or w.ends_at is None:
            w.starts_at = s.starts_at or workflow.now() + s.starts_in
            w.ends_at = w.starts_at + s.duration
        if w.status == "scheduled":
            await self._until(w.starts_at, f"maintenance {s.id} starts")
            if not self._ending:
                w.status, w.opened_at = "open", workflow.now()
                if s.matcher.whole_service and s.matcher.service:
                    w.held = await workflow.execute_activity(
                        "maintenance_hold",
                        HoldRequest(service=s.matcher.service, notice=self._notice(True)),
                        result_type=list[str],
                        start_to_close_timeout=TIMEOUT,
                        retry_policy=RETRY,
                        summary=f"hold open incidents of {s.matcher.service}",
                    )
        if w.status == "open":
            await self._until(w.ends_at, f"maintenance {s.id} ends")
        if w.status != "ended":
            w.status, w.ended_at = "ended", workflow.now()
        await workflow.wait_condition(workflow.all_handlers_finished)
        if w.held and not w.released:
            await workflow.execute_activity(
                "maintenance_release",
                ReleaseRequest(workflow_ids=w.held, notice=self._notice(False)),
                result_type=int,
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
                summary=f"tell {len(w.held)} incident(s) the window ended",
            )
            w.released = True
        for wid in list(w.firing):
            alerts = w.firing.pop(wid)
            await workflow.execute_activity(
                "maintenance_reopen",
                ReopenRequest(
                    workflow_id=wid, alerts=alerts, notice=self._notice(False).model_copy(update={"reopened": True})
                ),
                result_type=bool,
                start_to_close_timeout=TIMEOUT,
                retry_policy=RETRY,
                summary=f"still firing after maintenance: {alerts[-1].summary}"[:200],
            )
            w.reopened = [*w.reopened, wid][-200:]
            await self._continue_if_long()
        return WindowView.of(w)
