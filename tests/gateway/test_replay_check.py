"""`baton replay-check`: the open workflows' histories, fetched from the namespace, replayed against the code here.
A history the code replays is reported fine; one it cannot (a change outside `workflow.patched`) is named, with
exit 1, before any worker with that code touches it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from gateway.replay_check import replay_open
from incident.ids import workflow_id_for
from incident.state import IncidentPolicy
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink
from tests.helpers.temporal import dev_address, harness
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

ROOT = Path(__file__).parents[2]
BATON = str(Path(sys.executable).parent / "baton")


@workflow.defn(name="ReplayProbe", sandboxed=False)
class ProbeBefore:
    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(hours=1))


@workflow.defn(name="ReplayProbe", sandboxed=False)
class ProbeAfter:
    """The same workflow changed without `workflow.patched`: it now runs an activity before its timer."""

    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity("look_around", start_to_close_timeout=timedelta(seconds=5))
        await workflow.sleep(timedelta(hours=1))


async def test_open_incidents_replay_against_this_code_and_the_cli_says_so(
    dev_env: WorkflowEnvironment, sink: Sink
) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url), http)
        async with h.worker:
            key = f"replay-{uuid.uuid4().hex[:6]}"
            await h.incidents.ingest(alert(key), IncidentPolicy.snapshot(h.config, "checkout"), "replay")
            wid = workflow_id_for("replay", key)
            await until(lambda: h.incidents.state(wid), lambda st: st.paged == ["alice"])
            report = await replay_open(h.client, h.task_queue)
    assert [r.workflow_id for r in report.replayed] == [wid] and not report.failed, report
    assert report.replayed[0].workflow_type == "IncidentWorkflow" and report.replayed[0].events > 5

    env = os.environ | {"TEMPORAL_ADDRESS": dev_address(dev_env), "BATON_TASK_QUEUE": h.task_queue}
    done = subprocess.run(
        [BATON, "replay-check", "--json"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["replayed"] == 1 and answer["failed"] == 0 and answer["workflows"][0]["workflow_id"] == wid


async def test_a_change_that_breaks_an_open_history_is_named(dev_env: WorkflowEnvironment) -> None:
    queue = f"probe-{uuid.uuid4().hex[:6]}"
    async with Worker(dev_env.client, task_queue=queue, workflows=[ProbeBefore]):
        handle = await dev_env.client.start_workflow(ProbeBefore.run, id=f"probe-{queue}", task_queue=queue)

        async def timer_started() -> bool:
            history = await handle.fetch_history()
            return any(e.HasField("timer_started_event_attributes") for e in history.events)

        await until(timer_started)
    fine = await replay_open(dev_env.client, queue, workflows=[ProbeBefore])
    assert len(fine.replayed) == 1 and not fine.failed
    broken = await replay_open(dev_env.client, queue, workflows=[ProbeAfter])
    assert len(broken.failed) == 1 and "Nondeterminism" in (broken.failed[0].problem or ""), broken
    unknown = await replay_open(dev_env.client, queue, workflows=[IncidentWorkflow])
    assert unknown.failed[0].problem == "no workflow 'ReplayProbe' in this code"
    await handle.terminate()


def test_a_limit_out_of_range_is_bad_usage() -> None:
    done = subprocess.run(
        [BATON, "replay-check", "--limit", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--limit 0" in done.stderr
