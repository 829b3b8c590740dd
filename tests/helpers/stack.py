"""A whole baton as separate processes for fault and fuzz tests: a dev server on a SQLite file, a worker, the
intake, and a webhook receiver standing in for people's pagers. Escalation levels are seconds long (real time:
the dev server does not skip time)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from gateway.client import Incidents
from incident.config import parse_config
from tests.helpers.invariants import KEY_SEPARATOR, Escalation, Level
from tests.helpers.processes import Child, DevServer, Intake, intake, worker
from tests.helpers.receiver import Receiver, webhook_receiver
from tests.helpers.temporal import TRUSTED_ENV, gateway
from tests.helpers.wait import until

TOKEN = "fault-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TOKEN_ENV = {"TEST_INTAKE_TOKEN": TOKEN}

CONFIG = """
people:
  alice: {name: Alice, webhook: "RECEIVER/alice", notify: [webhook]}
  dave:  {name: Dave, webhook: "RECEIVER/dave", notify: [webhook]}
escalation_policies:
  short:
    levels:
      - {notify: [user:alice], after: AFTER1s}
      - {notify: [user:dave], after: AFTER2s}
    repeat: 0
services:
  checkout: {escalation: short, runbook: "https://runbooks.example/checkout"}
routing: {default_service: checkout}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
  alertmanager: {token: env:TEST_INTAKE_TOKEN}
  grafana: {token: env:TEST_INTAKE_TOKEN}
  datadog: {token: env:TEST_INTAKE_TOKEN}
  changes: {token: env:TEST_INTAKE_TOKEN}
"""


def config_text(receiver_url: str, after1: int, after2: int) -> str:
    text = CONFIG.replace("RECEIVER", receiver_url).replace("AFTER1", str(after1)).replace("AFTER2", str(after2))
    parse_config(text)  # a test config that does not load is a bug in the test
    return text


def event(key: str, n: int, action: str = "trigger") -> dict[str, Any]:
    """A PagerDuty-style event whose summary starts with its key, so the incident's title names it."""
    return {
        "routing_key": "checkout",
        "event_action": action,
        "dedup_key": key,
        "payload": {"summary": f"{key}{KEY_SEPARATOR}error {n}", "source": "faults", "severity": "error"},
    }


@dataclass
class Stack:
    tmp: Path
    server: DevServer
    worker: Child
    intake: Intake
    receiver: Receiver
    client: Client
    incidents: Incidents
    escalation: Escalation
    queue: str

    def logs(self) -> str:
        """The tail of every process's output, for a failing assertion's message."""
        parts = []
        for child in (self.worker, self.intake.child, self.server.child):
            if child is not None:
                parts.append(f"==== {child.name}\n{child.output()[-4000:]}")
        return "\n".join(parts)

    async def restart_worker(self) -> None:
        """Start the worker again and wait until it polls: from then on, pages are its to send."""
        self.worker.start()
        await worker_polling(self.client, self.queue, self.worker)

    async def restart_server(self, signal_name: str, down_for: float) -> None:
        """Stop the dev server (SIGTERM or SIGKILL), keep it down `down_for` seconds, start it again on the same
        SQLite file, and wait until it answers and the worker polls it again."""
        if signal_name == "SIGTERM":
            self.server.terminate()
        else:
            self.server.kill()
        await until(lambda: _clock_past(time.time() + down_for), timeout=down_for + 5)
        self.server.start()
        self.client = await until(lambda: connected(self.server.address), timeout=30)
        self.incidents = gateway(self.client, self.queue)
        # Temporal is back for baton once its worker polls again (the SDK reconnects with a backoff of its own)
        await worker_polling(self.client, self.queue, self.worker, timeout=60)


async def worker_polling(client: Client, queue: str, child: Child, timeout: float = 30.0) -> None:
    """Wait until this worker process polls the task queue for workflow tasks (Temporal lists its pollers by
    identity, which the SDK makes `pid@host`)."""
    assert child.proc is not None
    pid = f"{child.proc.pid}@"
    request = DescribeTaskQueueRequest(
        namespace=client.namespace,
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )

    async def polling() -> bool:
        try:
            resp = await client.workflow_service.describe_task_queue(request)
        except Exception:
            return False
        return any(p.identity.startswith(pid) for p in resp.pollers)

    await until(polling, timeout=timeout)


async def connect(address: str) -> Client:
    return await Client.connect(address, data_converter=pydantic_data_converter)


@asynccontextmanager
async def stack(
    tmp: Path, after1: int = 3, after2: int = 3, start_intake: bool = True, worker_env: dict[str, str] | None = None
) -> AsyncIterator[Stack]:
    """Everything started and ready; stopped (SIGTERM) at the end whatever state the scenario left it in.
    `worker_env` adds to the worker's environment."""
    queue = f"faults-{uuid.uuid4().hex[:8]}"
    with webhook_receiver() as receiver:
        config = tmp / "baton.yaml"
        config.write_text(config_text(receiver.url, after1, after2))
        server = DevServer(tmp / "temporal.db", tmp / "temporal.log")
        server.start()
        w = worker(server.address, config, queue, tmp / "worker.log")
        w.env |= TOKEN_ENV | TRUSTED_ENV | (worker_env or {})
        i = intake(server.address, config, queue, tmp / "intake.log", TOKEN_ENV)
        try:
            client = await until(lambda: connected(server.address), timeout=30)
            w.start()
            await worker_polling(client, queue, w)
            if start_intake:
                i.start()
            escalation = Escalation([Level("alice", after1), Level("dave", after2)])
            yield Stack(tmp, server, w, i, receiver, client, gateway(client, queue), escalation, queue)
        finally:
            for child in (i.child, w, server.child):
                if child is not None:
                    child.terminate()


async def _clock_past(moment: float) -> bool:
    while time.time() < moment:
        await asyncio.sleep(0.05)
    return True


async def connected(address: str) -> Client | None:
    try:
        client = await connect(address)
        await client.service_client.check_health()
        return client
    except Exception:
        return None
