"""The scheduled readiness run's work: load the live config (the file as it is now, not the worker's copy), run
its drill files against it and check readiness (the drills and the facts from Temporal are client code the worker
hands in: activities import neither gateway/ nor a workflow), and keep the result in the readiness log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from incident.config import Config, ConfigError, load_config
from incident.readiness import (
    DrillOutcome,
    Facts,
    ReadinessLog,
    ReadinessRun,
    check,
    config_digest,
    drill_files,
)

RunDrills = Callable[[list[Path], str], Awaitable[list[DrillOutcome]]]
"""`gateway.readiness.drill_outcomes`: the drill files against the config file; raises ValueError when they
cannot be used (a bad scenario file)."""
GatherFacts = Callable[[Client, Config, str], Awaitable[Facts]]
"""`gateway.readiness.gather_facts`: what only Temporal knows (contact methods that delivered, heartbeats)."""
LOG_WORKFLOW = "ReadinessLogWorkflow"
LOG_ID_PREFIX = "readiness-log:"
"""workflows.readiness's names, as Temporal knows them."""


class ReadinessActivities:
    def __init__(
        self,
        config: Config,
        config_file: Path,
        client: Client,
        task_queue: str,
        run_drills: RunDrills,
        gather_facts: GatherFacts,
    ):
        self.config = config
        self.config_file = config_file
        self.client = client
        self.task_queue = task_queue
        self.run_drills = run_drills
        self.gather_facts = gather_facts

    @activity.defn(name="readiness_check")
    async def check(self) -> ReadinessRun:
        now = datetime.now(UTC)
        try:
            config = load_config(self.config_file)
        except ConfigError as e:
            # The worker's own copy says whom to tell: the file on disk is what stopped loading.
            return ReadinessRun(
                at=now,
                config_file=str(self.config_file),
                config_digest=config_digest(self.config_file, []),
                problem=f"the config does not load: {e}",
                notify=self.config.readiness.notify,
            )
        settings = config.readiness
        drills = drill_files(self.config_file, settings)
        run = ReadinessRun(
            at=now,
            config_file=str(self.config_file),
            config_digest=config_digest(self.config_file, drills),
            notify=settings.notify,
        )
        activity.heartbeat()
        facts = await self.gather_facts(self.client, config, self.task_queue)
        found = check(config, now, settings.days, facts)
        run.readiness, run.gaps_total = found, len(found.gaps)
        if settings.drills and not drills:
            run.problem = f"readiness.drills names no file (looked in {self.config_file.parent})"
        elif drills:
            try:
                run.drills = await self.run_drills(drills, str(self.config_file))
            except ValueError as e:
                run.problem = f"the drills cannot be run: {e}"[:2000]
        return run

    @activity.defn(name="readiness_record")
    async def record(self, run: ReadinessRun) -> ReadinessRun | None:
        """Keep the run in the readiness log (started on first use); answer the run before it."""
        start: WithStartWorkflowOperation[Any, Any] = WithStartWorkflowOperation(
            LOG_WORKFLOW,
            ReadinessLog(),
            id=LOG_ID_PREFIX + self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=self.task_queue,
            static_summary="readiness runs: when the config last passed its drills",
        )
        previous: ReadinessRun | None = await self.client.execute_update_with_start_workflow(
            "record",
            run,
            start_workflow_operation=start,
            result_type=ReadinessRun | None,  # type: ignore[arg-type]
            rpc_timeout=timedelta(seconds=20),
        )
        return previous
