"""A worker dies mid-incident: the escalation timer is durable, and the next page goes out exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Incidents
from incident.config import parse_config
from incident.ids import workflow_id_for
from incident.state import IncidentPolicy, IncidentState
from tests.helpers.config import BASE_CONFIG, alert
from tests.helpers.http import Sink
from tests.helpers.temporal import dev_address
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

AFTER = 4  # seconds level 1 has before level 2 is paged


@pytest.fixture
def config_file(tmp_path: Path, sink: Sink) -> Iterator[Path]:
    text = BASE_CONFIG.replace("SINK", sink.url).replace("after: 5m", f"after: {AFTER}s")
    path = tmp_path / "baton.yaml"
    path.write_text(text)
    yield path


def start_worker(dev_env: WorkflowEnvironment, config: Path, queue: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "TEMPORAL_ADDRESS": dev_address(dev_env),
        "BATON_CONFIG": str(config),
        "BATON_TASK_QUEUE": queue,
    }
    return subprocess.Popen([sys.executable, "-m", "worker"], env=env, cwd=Path(__file__).parents[2])


async def test_sigkilled_worker_loses_no_page_and_duplicates_none(
    dev_env: WorkflowEnvironment, sink: Sink, config_file: Path
) -> None:
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    config = parse_config(config_file.read_text())
    incidents = Incidents(dev_env.client, task_queue=queue)
    wid = workflow_id_for("crash", queue)
    first = start_worker(dev_env, config_file, queue)
    second: subprocess.Popen[bytes] | None = None
    try:
        await incidents.ingest(alert(queue), IncidentPolicy.snapshot(config, "checkout"), "crash")
        await until(lambda: _count(sink, "/alice"), timeout=30)
        st: IncidentState = await dev_env.client.get_workflow_handle(wid).query(IncidentWorkflow.state)
        deadline = st.opened_at + timedelta(seconds=AFTER)
        assert datetime.now(UTC) < deadline, "the level-1 page came too late to kill the worker before level 2"

        first.send_signal(signal.SIGKILL)
        first.wait()
        await asyncio.sleep(max(0.0, (deadline - datetime.now(UTC)).total_seconds()) + 0.5)
        assert _count_now(sink, "/dave") == 0, "level 2 was paged with no worker running"

        second = start_worker(dev_env, config_file, queue)
        await until(lambda: _paged(dev_env, wid, "dave"), timeout=30)
        assert _count_now(sink, "/dave") == 1
        assert _count_now(sink, "/alice") == 1, "the level-1 page was sent again after the restart"
        page = sink.for_path("/dave")[0]
        assert page["json"]["level"] == 2 and page["headers"]["Idempotency-Key"] == page["json"]["page_id"]
    finally:
        for proc in (first, second):
            if proc and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)


async def _count(sink: Sink, path: str) -> int:
    return len(sink.for_path(path))


def _count_now(sink: Sink, path: str) -> int:
    return len(sink.for_path(path))


async def _paged(env: WorkflowEnvironment, wid: str, person: str) -> bool:
    st = await env.client.get_workflow_handle(wid).query(IncidentWorkflow.state)
    return any(e.kind == "paged" and (e.data or {}).get("person") == person for e in st.timeline)
