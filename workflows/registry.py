"""Every workflow a baton worker runs, in one list: the worker registers it, and whatever replays histories
(`baton replay-check`, the fault suite's replay check) replays with it, so a workflow added here is never one a
replay does not know."""

from __future__ import annotations

from workflows.agent import AgentWorkflow
from workflows.changelog import ChangeLogWorkflow
from workflows.channel_close import ChannelCloseWorkflow
from workflows.heartbeat import HeartbeatWorkflow
from workflows.incident import IncidentWorkflow
from workflows.intake_buffer import IntakeBufferWorkflow
from workflows.maintenance import MaintenanceWorkflow
from workflows.memo import MemoWorkflow
from workflows.readiness import ReadinessLogWorkflow, ReadinessRunWorkflow

WORKFLOWS: tuple[type, ...] = (
    IncidentWorkflow,
    IntakeBufferWorkflow,
    ChangeLogWorkflow,
    AgentWorkflow,
    ChannelCloseWorkflow,
    HeartbeatWorkflow,
    ReadinessLogWorkflow,
    ReadinessRunWorkflow,
    MemoWorkflow,
    MaintenanceWorkflow,
)
