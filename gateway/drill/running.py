"""Running scenarios: one time-skipping test server for all, and for each a worker built like a real one (by
`worker.build_worker`) except that pages are captured instead of sent and actions are described instead of run."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from gateway.drill.clock import at_scenario_time
from gateway.drill.loading import Drill, load_drills
from gateway.drill.play import Play
from gateway.drill.results import DrillResult
from gateway.temporal import register_search_attributes
from gateway.up import installed_binary
from incident.judge import check, check_step
from incident.keys import TrustedKeys
from incident.scenario import AlertEvent, Expectation, Step


async def run_drills(paths: Sequence[Path], config_path: str | None = None) -> list[DrillResult]:
    """Run each scenario file in virtual time; one test server for all, a worker each. Raises DrillSetupError
    (before anything runs) when a file or config cannot be used."""
    drills = load_drills(paths, config_path)
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter("ERROR", "ERROR"))))
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
    try:
        await register_search_attributes(env.client)
        async with httpx.AsyncClient() as http:
            return [await _run(env, drill, http) for drill in drills]
    finally:
        await env.shutdown()


async def _run(env: WorkflowEnvironment, drill: Drill, http: httpx.AsyncClient) -> DrillResult:
    sc = drill.scenario
    result = DrillResult(file=sc.source, name=sc.name, config=drill.config_file, start=sc.start)
    origin = await env.get_current_time()
    shift = sc.start - origin
    play = Play(env, drill, origin)
    # The worker is the composition root (it wires activities/); gateway/ reaches it only when a drill runs.
    from worker import build_worker

    # The worker's paging activities append to the list it is given; ours notes the time too.
    worker = build_worker(
        env.client,
        at_scenario_time(drill.config, shift),
        http,
        task_queue=play.queue,
        capture=play.pages,
        trusted=TrustedKeys([play.key.public_text()]),
    )
    try:
        async with worker:
            await play.seed()
            for n, (when, item, where) in enumerate(sc.events()):
                await play.advance_to(when)
                if isinstance(item, AlertEvent):
                    await play.alert(item, n)
                    continue
                if isinstance(item, Step):
                    done = check_step(item, await play.step(item))
                else:
                    assert isinstance(item, Expectation)
                    done = check(item, await play.seen(sc.incident_of(item)))
                done.where, done.line = where, sc.line(where)
                done.incident = sc.incident_of(item) if len(sc.keys) > 1 else None
                result.checks.append(done)
            await play.settle()
            result.timeline = await play.timeline()
            await play.finish()
    except Exception as e:  # the drill could not go on: say so, and go on with the next one
        result.error = f"{type(e).__name__}: {e}"
    return result
