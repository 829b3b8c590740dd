"""`python -m gateway.probe worker|intake [--alive]`: is this container's baton healthy, as Docker's HEALTHCHECK and
Kubernetes' probes ask. Exit 0 if so, else 1 with one line saying why.

A worker is healthy when Temporal lists a poller from this host on the task queue that polled lately: the process
is up, its settings work, and it is taking tasks (a hung worker stops polling). The intake is healthy when its
/healthz says it reaches Temporal; `--alive` only asks that it answers at all (200 or 503), for a liveness probe
that must not restart every intake while Temporal is away."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from datetime import UTC, datetime, timedelta

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from gateway.temporal import TASK_QUEUE, CannotConnect, SettingsProblem, connect

FRESH = timedelta(seconds=120)
"""A poll Temporal holds open lasts up to about 70 s, and the server records a poller when each poll starts: a
worker that polled less than this long ago is polling."""
TIMEOUT = 10.0
USAGE = "usage: python -m gateway.probe worker|intake [--alive]"


async def worker_problem(client: Client, host: str, queue: str = TASK_QUEUE, now: datetime | None = None) -> str | None:
    """Why no worker on `host` is taking `queue`'s workflow tasks, or None when one is (pollers are `pid@host`)."""
    resp = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        ),
        timeout=timedelta(seconds=TIMEOUT),
    )
    mine = [p.last_access_time.ToDatetime(tzinfo=UTC) for p in resp.pollers if p.identity.endswith(f"@{host}")]
    if not mine:
        return f"no worker on {host} polls task queue {queue}"
    age = (now or datetime.now(UTC)) - max(mine)
    if age > FRESH:
        return f"the worker on {host} last polled task queue {queue} {age.total_seconds():.0f}s ago"
    return None


def intake_problem(url: str, alive: bool = False) -> str | None:
    """Why the intake at `url` is not healthy (or, `alive`, not answering), or None."""
    try:
        resp = httpx.get(f"{url}/healthz", timeout=TIMEOUT)
    except httpx.HTTPError as e:
        return f"the intake at {url} does not answer: {e}"
    if resp.status_code == 200 or (alive and resp.status_code == 503):
        return None
    return f"the intake at {url} answers {resp.status_code}: {resp.text[:200]}"


def intake_url() -> str:
    """This container's intake: $BATON_HTTP_ADDR, an any-address bind reached on loopback."""
    host, _, port = os.environ.get("BATON_HTTP_ADDR", "127.0.0.1:8400").rpartition(":")
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"


async def _worker() -> str | None:
    try:
        client = await asyncio.wait_for(connect(), TIMEOUT)
    except (SettingsProblem, CannotConnect) as e:
        return str(e)
    except TimeoutError:
        return f"Temporal did not answer within {TIMEOUT:.0f}s"
    return await worker_problem(client, socket.gethostname())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("worker", "intake") or args[1:] not in ([], ["--alive"]):
        print(USAGE, file=sys.stderr)
        return 2
    if args[0] == "intake":
        problem = intake_problem(intake_url(), alive=args[1:] == ["--alive"])
    else:
        try:
            problem = asyncio.run(_worker())
        except Exception as e:  # the probe says what it saw, it does not crash with a traceback
            problem = f"{type(e).__name__}: {e}"
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # no interpreter finalisation with Temporal's native runtime threads about
