"""The heartbeat monitors over Temporal: a ping (signal-with-start: the first arms the monitor), what each monitor
knows, and pause or resume (update-with-start, so a monitor never pinged can be paused before its job is deployed).
Errors become the façade's own: NotFound, Unavailable."""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio.client import Client, WithStartWorkflowOperation, WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy

from gateway.client import RPC_TIMEOUT, UPDATE_TIMEOUT, NotFound, temporal_errors
from gateway.temporal import TASK_QUEUE
from incident.config import Config
from incident.durations import format_duration
from incident.heartbeats import Beat, HeartbeatView, Spec
from incident.models import Actor
from workflows.heartbeat import HeartbeatWorkflow, PauseRequest, Ping, heartbeat_id


class Heartbeats:
    def __init__(self, client: Client, config: Config, task_queue: str = TASK_QUEUE):
        self.client = client
        self.config = config
        self.task_queue = task_queue

    def spec(self, name: str) -> Spec:
        hb = self.config.heartbeats.get(name)
        if hb is None:
            raise NotFound(f"no heartbeat {name!r} in the config")
        return Spec.of(name, hb)

    async def ping(self, name: str) -> None:
        """Record a ping durably: when this returns, the monitor's clock restarted (and a miss is recovered)."""
        spec = self.spec(name)
        with temporal_errors():
            await self.client.start_workflow(
                HeartbeatWorkflow.run,
                Beat(spec=spec),
                id=heartbeat_id(self.task_queue, name),
                task_queue=self.task_queue,
                start_signal="ping",
                start_signal_args=[Ping(spec=spec)],
                static_summary=f"heartbeat {name}: {spec.service}, a ping every {format_duration(spec.every)}",
                rpc_timeout=RPC_TIMEOUT,
            )

    async def beat(self, name: str) -> Beat | None:
        """What the monitor knows; None when it was never started (no ping, no pause)."""
        handle = self.client.get_workflow_handle(heartbeat_id(self.task_queue, name))
        try:
            with temporal_errors(not_found="never pinged"):
                desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
                if desc.status is not WorkflowExecutionStatus.RUNNING:
                    return None
                return await handle.query(HeartbeatWorkflow.beat, rpc_timeout=RPC_TIMEOUT)
        except NotFound:
            return None

    async def view(self, name: str) -> HeartbeatView:
        return HeartbeatView.of(self.spec(name), await self.beat(name))

    async def views(self) -> list[HeartbeatView]:
        return list(await asyncio.gather(*(self.view(name) for name in self.config.heartbeats)))

    async def last_pings(self) -> dict[str, datetime | None]:
        return {v.name: v.last_ping for v in await self.views()}

    async def pause(self, name: str, actor: Actor, pause: bool, reason: str = "") -> HeartbeatView:
        spec = self.spec(name)
        start = WithStartWorkflowOperation(
            HeartbeatWorkflow.run,
            Beat(spec=spec),
            id=heartbeat_id(self.task_queue, name),
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=self.task_queue,
            static_summary=f"heartbeat {name}: {spec.service}",
        )
        with temporal_errors():
            beat = await self.client.execute_update_with_start_workflow(
                HeartbeatWorkflow.pause,
                PauseRequest(actor=str(actor), pause=pause, reason=reason),
                start_workflow_operation=start,
                rpc_timeout=UPDATE_TIMEOUT,
            )
        return HeartbeatView.of(spec, beat)
