"""Readiness over Temporal: the facts only Temporal knows, the drills as the scheduled run plays them, the Schedule
itself (created by the worker, triggered when the config changed) and the readiness log.

`incident.readiness` decides what is a gap; this module only gathers and keeps.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
    WorkflowExecutionStatus,
)
from temporalio.service import RPCError, RPCStatusCode

from gateway.client import RPC_TIMEOUT, Incidents, NotFound, Unavailable, temporal_errors
from gateway.heartbeats import Heartbeats
from incident.config import Config
from incident.readiness import DrillOutcome, Facts, ReadinessLog, config_digest, drill_files
from incident.timeline import Kind
from workflows.readiness import (
    ReadinessLogWorkflow,
    ReadinessRunWorkflow,
    readiness_log_id,
    readiness_run_id,
    readiness_schedule_id,
)

log = structlog.get_logger("baton.readiness")
FACTS_SINCE = timedelta(days=30)
INCIDENTS_READ = 50
"""Recent incidents whose pages say which contact methods work: enough to know, few enough to read quickly."""


async def gather_facts(client: Client, config: Config, task_queue: str) -> Facts:
    """Which contact methods delivered a page in the recent incidents, and each heartbeat's last ping; a part
    that cannot be read stays None (not known)."""
    facts = Facts()
    incidents = Incidents(client, task_queue)
    since = datetime.now(UTC) - FACTS_SINCE
    try:
        found = await incidents.search(since=since, limit=INCIDENTS_READ)
        gate = asyncio.Semaphore(8)
        delivered: dict[str, set[str]] = {}

        async def read(workflow_id: str) -> None:
            async with gate:
                try:
                    state = await incidents.state(workflow_id)
                except (NotFound, RPCError):
                    return
            for e in state.timeline:
                if e.kind == Kind.PAGED and e.data and e.data.get("person") and e.data.get("method"):
                    delivered.setdefault(str(e.data["person"]), set()).add(str(e.data["method"]))

        await asyncio.gather(*(read(s.workflow_id) for s in found))
        facts.delivered = {p: sorted(m) for p, m in delivered.items()}
        facts.incidents_read, facts.since = len(found), since
    except (Unavailable, RPCError) as e:
        log.warning("readiness: incidents not readable", error=str(e)[:300])
    if config.heartbeats:
        try:
            facts.heartbeats = await Heartbeats(client, config, task_queue).last_pings()
        except (Unavailable, RPCError) as e:
            log.warning("readiness: heartbeats not readable", error=str(e)[:300])
    return facts


async def drill_outcomes(paths: list[Path], config_file: str) -> list[DrillOutcome]:
    """The drill files against `config_file` (their own `config:` overridden: the live config is what is tested).
    ValueError when a file or the config cannot be used."""
    from gateway.drill import DrillSetupError, run_drills

    try:
        results = await run_drills(paths, config_file)
    except DrillSetupError as e:
        raise ValueError(str(e)) from None
    out = []
    for r in results:
        failed = next((c for c in r.checks if not c.passed), None)
        problem = r.error or (failed.sentence() if failed else None)
        out.append(DrillOutcome(file=r.file, name=r.name, passed=r.passed, problem=problem))
    return out


def _schedule(config: Config, task_queue: str, digest: str) -> Schedule:
    hour, minute = (int(x) for x in config.readiness.at.split(":"))
    return Schedule(
        action=ScheduleActionStartWorkflow(
            ReadinessRunWorkflow.run,
            id=readiness_run_id(task_queue),
            task_queue=task_queue,
            static_summary="readiness: the drills and the checks against the live config",
        ),
        spec=ScheduleSpec(
            calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)], minute=[ScheduleRange(minute)])],
            time_zone_name=config.readiness.timezone,
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE),
        state=ScheduleState(note=f"config {digest}"),
    )


async def ensure_readiness(client: Client, config: Config, config_file: Path, task_queue: str) -> bool:
    """Create the readiness Schedule, or bring it up to date; run it now when the config or its drill files
    changed since the worker that last started saw them (the digest is the schedule's note). True when triggered."""
    digest = config_digest(config_file, drill_files(config_file, config.readiness))
    sid = readiness_schedule_id(task_queue)
    wanted = _schedule(config, task_queue, digest)
    handle = client.get_schedule_handle(sid)
    try:
        desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
    except RPCError as e:
        if e.status is not RPCStatusCode.NOT_FOUND:
            raise
        handle = await client.create_schedule(sid, wanted, rpc_timeout=RPC_TIMEOUT)
        await handle.trigger(overlap=ScheduleOverlapPolicy.BUFFER_ONE, rpc_timeout=RPC_TIMEOUT)
        return True
    changed = desc.schedule.state.note != wanted.state.note

    def update(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(update, rpc_timeout=RPC_TIMEOUT)
    if changed:
        await handle.trigger(overlap=ScheduleOverlapPolicy.BUFFER_ONE, rpc_timeout=RPC_TIMEOUT)
    return changed


async def readiness_history(client: Client, task_queue: str) -> ReadinessLog:
    """The readiness log (empty before the first run)."""
    handle = client.get_workflow_handle(readiness_log_id(task_queue))
    try:
        with temporal_errors(not_found="no readiness run yet"):
            desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
            if desc.status is not WorkflowExecutionStatus.RUNNING:
                return ReadinessLog()
            return await handle.query(ReadinessLogWorkflow.history, rpc_timeout=RPC_TIMEOUT)
    except NotFound:
        return ReadinessLog()
