"""Readiness drills that run themselves: a Temporal Schedule starts `ReadinessRunWorkflow` daily (and the worker
triggers it when the config or its drills changed), which runs the team's drill files against the live config and
checks readiness (the `readiness_check` activity), keeps the result in `ReadinessLogWorkflow` (one small entity
workflow per deployment: `baton readiness --history`), and tells `readiness.notify` about a failure or a new gap
with a notice through the notifiers (never a page).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from incident.readiness import ReadinessLog, ReadinessRun, notice_text
    from workflows.messages import TargetsRequest, TargetsResult
    from workflows.notice import deliver

READINESS_PREFIX = "readiness:"
RUNS_KEPT = 30
HISTORY_EVENTS = 500


def readiness_schedule_id(task_queue: str) -> str:
    return f"{READINESS_PREFIX}{task_queue}"


def readiness_run_id(task_queue: str) -> str:
    """The schedule's workflows' id (the schedule appends the time each starts)."""
    return f"readiness-run:{task_queue}"


def readiness_log_id(task_queue: str) -> str:
    return f"readiness-log:{task_queue}"


@workflow.defn
class ReadinessLogWorkflow:
    """The recent readiness runs and when the config last passed: bounded, continued as new as its history grows."""

    @workflow.init
    def __init__(self, log: ReadinessLog) -> None:
        self._log = log

    @workflow.update
    def record(self, run: ReadinessRun) -> ReadinessRun | None:
        """Keep `run`; answer the run before it (what is new is decided against it)."""
        runs = self._log.runs
        previous = runs[-1] if runs else None
        runs.append(run.bounded())
        del runs[:-RUNS_KEPT]
        if run.passed:
            self._log.last_passed, self._log.last_passed_digest = run.at, run.config_digest
        return previous

    @workflow.query
    def history(self) -> ReadinessLog:
        return self._log

    @workflow.run
    async def run(self, log: ReadinessLog) -> None:
        await workflow.wait_condition(lambda: workflow.info().get_current_history_length() > HISTORY_EVENTS)
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._log)


@workflow.defn
class ReadinessRunWorkflow:
    """One run: check, keep, tell. What it found is its result too."""

    @workflow.run
    async def run(self) -> ReadinessRun:
        run: ReadinessRun = await workflow.execute_activity(
            "readiness_check",  # ReadinessActivities.check, by its registered name
            result_type=ReadinessRun,
            start_to_close_timeout=timedelta(minutes=20),
            retry_policy=RetryPolicy(maximum_attempts=3),
            summary="run the drills and check readiness against the live config",
        )
        previous: ReadinessRun | None = await workflow.execute_activity(
            "readiness_record",
            run,
            result_type=ReadinessRun | None,  # type: ignore[arg-type]
            start_to_close_timeout=timedelta(seconds=30),
            summary="keep the result",
        )
        text = notice_text(run, previous)
        if text and run.notify:
            await self._tell(run, text)
        return run

    async def _tell(self, run: ReadinessRun, text: str) -> None:
        """A notice to each person `readiness.notify` names, by their first method that delivers it."""
        now = workflow.now()
        found: TargetsResult = await workflow.execute_activity(
            "lookup_targets",
            TargetsRequest(targets=run.notify, at=now),
            result_type=TargetsResult,
            start_to_close_timeout=timedelta(seconds=30),
        )
        await deliver(found, text, "readiness", "readiness", now)
