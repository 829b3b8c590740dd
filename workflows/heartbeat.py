"""HeartbeatWorkflow: one per monitor, a durable timer that a job's ping restarts.

The intake signals `ping` (signal-with-start: the first ping arms the monitor). When no ping comes within
`every + grace`, the workflow sends the missed-ping alert through the same signal-with-start an alert takes (the
`heartbeat_alert` activity, `gateway.ingest.send_alerts` in the worker), and waits for the next ping, which sends
the resolve event for the same key. Its state is one small `Beat`, carried across continue-as-new.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from incident.heartbeats import Beat, Spec, missed_alert, recovered_alert
    from incident.models import Alert

HEARTBEAT_ID_PREFIX = "heartbeat:"
HISTORY_EVENTS = 2_000
"""A monitor pinged every minute takes a day and a half to get here; it then continues as new."""
ALERT_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
"""Until the alert is durable in its incident: a miss that Temporal could not take at first is delivered later."""


def heartbeat_id(task_queue: str, name: str) -> str:
    """Per task queue too: two deployments sharing a namespace keep their monitors apart."""
    return f"{HEARTBEAT_ID_PREFIX}{task_queue}:{name}"


class Ping(BaseModel):
    """One ping, with the monitor's config entry as the intake has it now."""

    spec: Spec


class PauseRequest(BaseModel):
    """`pause` (or resume, `pause=False`) from a person, whom the gateway authenticated."""

    actor: str = Field(max_length=100)
    pause: bool
    reason: str = Field("", max_length=500)


@workflow.defn
class HeartbeatWorkflow:
    @workflow.init
    def __init__(self, beat: Beat) -> None:
        self._beat = beat
        self._changes = 0
        self._seen = 0

    @workflow.signal
    def ping(self, ping: Ping) -> None:
        now = workflow.now()
        b = self._beat
        b.spec, b.last_ping, b.pings = ping.spec, now, b.pings + 1
        if not b.paused:
            b.armed_at = now
        if b.missed:
            b.missed, b.recovering = False, True
        self._changes += 1

    @workflow.update
    def pause(self, req: PauseRequest) -> Beat:
        b = self._beat
        if req.pause:
            b.paused, b.paused_by, b.pause_reason = True, req.actor, req.reason or None
        elif b.paused:
            # Resumed, the clock starts now: a job stopped on purpose has not missed anything while paused.
            b.paused, b.paused_by, b.pause_reason = False, None, None
            b.armed_at = workflow.now()
        self._changes += 1
        return b.model_copy()

    def _changed(self) -> bool:
        """A ping or a pause since the loop last looked."""
        return self._changes != self._seen

    @workflow.query
    def beat(self) -> Beat:
        return self._beat

    async def _send(self, alert: Alert, what: str) -> None:
        await workflow.execute_activity(
            "heartbeat_alert",  # HeartbeatActivities.send, by its registered name
            alert,
            result_type=bool,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=ALERT_RETRY,
            summary=what,
        )

    @workflow.run
    async def run(self, beat: Beat) -> None:
        while True:
            b = self._beat
            if b.recovering:
                await self._send(recovered_alert(b, workflow.now()), f"{b.spec.name} pinged again: recovered")
                b.recovering = False
                continue
            info = workflow.info()
            if info.get_current_history_length() > HISTORY_EVENTS or info.is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(self._beat)
            self._seen = self._changes
            deadline = b.deadline
            if deadline is None:
                await workflow.wait_condition(self._changed)
                continue
            left = deadline - workflow.now()
            if left > timedelta(0):
                try:
                    await workflow.wait_condition(
                        self._changed, timeout=left, timeout_summary=f"{b.spec.name} ping due"
                    )
                    continue
                except TimeoutError:
                    pass
            now = workflow.now()
            b.missed, b.misses, b.missed_at = True, b.misses + 1, now
            await self._send(missed_alert(b, now), f"{b.spec.name} missed its ping: open an incident")
