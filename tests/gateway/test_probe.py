"""The container health probe: a worker is healthy while Temporal lists a fresh poller from its host, the intake
while /healthz says it reaches Temporal (alive while it answers at all)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client

from gateway.probe import FRESH, worker_problem
from gateway.temporal import connect
from tests.helpers.processes import ROOT, DevServer, free_port, intake, worker
from tests.helpers.stack import TOKEN_ENV, config_text, worker_polling
from tests.helpers.temporal import TRUSTED_ENV
from tests.helpers.wait import until

pytestmark = pytest.mark.integration


def probe(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.probe", *args],
        env=os.environ | {"HOME": "/nonexistent", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_worker_and_intake_probes_follow_what_they_watch(tmp_path: Path) -> None:
    server = DevServer(tmp_path / "temporal.db", tmp_path / "temporal.log")
    server.start()
    queue = f"probe-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "baton.yaml"
    config.write_text(config_text("http://127.0.0.1:9", 60, 60))
    w = worker(server.address, config, queue, tmp_path / "worker.log")
    w.env |= TOKEN_ENV | TRUSTED_ENV
    i = intake(server.address, config, queue, tmp_path / "intake.log", TOKEN_ENV)
    env = {"TEMPORAL_ADDRESS": server.address, "BATON_TASK_QUEUE": queue, "BATON_HTTP_ADDR": f"0.0.0.0:{i.port}"}
    try:
        client = await until(lambda: _connected(server.address), timeout=30)
        before = probe("worker", **env)
        assert before.returncode == 1
        assert f"unhealthy: no worker on {socket.gethostname()} polls task queue {queue}" in before.stderr

        w.start()
        await worker_polling(client, queue, w)
        assert probe("worker", **env).returncode == 0
        assert await worker_problem(client, socket.gethostname(), queue) is None
        assert (
            await worker_problem(client, "another-host", queue) == f"no worker on another-host polls task queue {queue}"
        )
        later = datetime.now(UTC) + FRESH + timedelta(seconds=5)
        stale = await worker_problem(client, socket.gethostname(), queue, now=later)
        assert stale is not None and stale.startswith(f"the worker on {socket.gethostname()} last polled")

        i.start()
        assert probe("intake", **env).returncode == 0
        server.terminate()  # Temporal away: the intake is not ready, but alive
        down = await until(lambda: _probe_async("intake", **env), lambda d: d.returncode == 1, timeout=30)
        assert "answers 503" in down.stderr
        assert probe("intake", "--alive", **env).returncode == 0
        unreachable = probe("worker", **env)
        assert unreachable.returncode == 1 and "cannot connect to Temporal at" in unreachable.stderr
    finally:
        i.terminate()
        w.terminate()
        server.terminate()


def test_an_intake_that_does_not_answer_is_not_alive() -> None:
    done = probe("intake", "--alive", BATON_HTTP_ADDR=f"127.0.0.1:{free_port()}")
    assert done.returncode == 1 and "does not answer" in done.stderr


def test_bad_settings_are_unhealthy_in_a_sentence(tmp_path: Path) -> None:
    done = probe("worker", TEMPORAL_PROFILE="nope", TEMPORAL_CONFIG_FILE=os.devnull)
    assert done.returncode == 1
    assert "unhealthy: TEMPORAL_PROFILE=nope" in done.stderr and "Traceback" not in done.stderr


def test_usage() -> None:
    assert probe().returncode == 2
    assert probe("scheduler").returncode == 2


async def _probe_async(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return probe(*args, **env)


async def _connected(address: str) -> Client | None:
    try:
        return await connect(address)
    except RuntimeError:
        return None
