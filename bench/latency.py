"""From alert to page: how long after an alert is POSTed does the first page reach a webhook receiver?

    .venv/bin/python -m bench.latency [--idle 100] [--rate 50] [--seconds 10]

Measured in the same run, on the same dev server: baton idle (one alert at a time), baton under `--rate` new
incidents per second, and the bare Temporal round trip (start a workflow -> its first activity runs) that every
page needs at least once. The context deadline is not in these numbers: the service has no slow provider
configured (baton's own change log only); with metrics/logs configured, the first page waits at most `deadline`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from temporalio import activity, workflow
from temporalio.worker import Worker

from bench.stack import TOKEN, Stack, baton_stack
from gateway.temporal import connect

CONFIG = """
people:
  alice: {name: Alice, webhook: "RECEIVER/alice", notify: [webhook]}
escalation_policies:
  p: {levels: [{notify: [user:alice], after: 30m}]}
services:
  checkout: {escalation: p}
integrations:
  events: {token: env:BATON_INTAKE_TOKEN}
"""

ARRIVED: dict[str, float] = {}
LOCK = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as webhook receivers in production do

    def do_POST(self) -> None:
        now = time.time()
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        key = body["workflow_id"].rsplit(":", 1)[-1]
        with LOCK:
            ARRIVED.setdefault(key, now)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] * 1000 if xs else float("nan")


async def wait_arrival(key: str, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with LOCK:
            if key in ARRIVED:
                return ARRIVED[key]
        await asyncio.sleep(0.002)
    raise TimeoutError(f"no page for {key}")


async def fire(http: httpx.AsyncClient, url: str, key: str) -> float:
    event = {
        "routing_key": "checkout",
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": f"latency probe {key}", "source": "bench", "severity": "critical"},
    }
    sent = time.time()
    resp = await http.post(url, json=event, headers={"Authorization": f"Bearer {TOKEN}"})
    resp.raise_for_status()
    return sent


async def baton_idle(url: str, n: int) -> list[float]:
    out = []
    async with httpx.AsyncClient() as http:
        for _ in range(n):
            key = uuid.uuid4().hex[:12]
            sent = await fire(http, url, key)
            out.append(await wait_arrival(key) - sent)
    return out


async def baton_under_load(url: str, rate: int, seconds: int) -> list[float]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=200)) as http:

        async def one() -> float:
            key = uuid.uuid4().hex[:12]
            sent = await fire(http, url, key)
            return await wait_arrival(key, timeout=60) - sent

        return await at_rate(one, rate, seconds)


async def at_rate(one: Callable[[], Coroutine[Any, Any, float]], rate: int, seconds: int) -> list[float]:
    """Start `one` `rate` times a second for `seconds`, on schedule whatever the earlier ones take; their results."""
    tasks: list[asyncio.Task[float]] = []
    start = time.monotonic()
    for i in range(rate * seconds):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one()))
    return list(await asyncio.gather(*tasks))


@workflow.defn(sandboxed=False)
class RoundTrip:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(first, start_to_close_timeout=timedelta(seconds=10))


STARTED: dict[str, float] = {}


@activity.defn
async def first() -> None:
    STARTED.setdefault(activity.info().workflow_id or "", time.time())


async def bare_round_trip(address: str, n: int) -> list[float]:
    client = await connect(address)
    queue = f"bench-rt-{uuid.uuid4().hex[:6]}"
    out = []
    async with Worker(client, task_queue=queue, workflows=[RoundTrip], activities=[first]):
        for _ in range(n):
            wid = f"rt-{uuid.uuid4().hex[:12]}"
            sent = time.time()
            handle = await client.start_workflow(RoundTrip.run, id=wid, task_queue=queue)
            await handle.result()
            out.append(STARTED[wid] - sent)
    return out


async def _with_cpu(stack: Stack, work: Any) -> Any:
    before = stack.cpu()
    t0 = time.monotonic()
    out = await work
    spent = [round(after - b, 1) for after, b in zip(stack.cpu(), before, strict=True)]
    print(f"cpu s (server, worker, intake) in {time.monotonic() - t0:.1f}s: {spent}", file=sys.stderr, flush=True)
    return out


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--idle", type=int, default=100)
    ap.add_argument("--rate", type=int, default=50)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker-in-intake", action="store_true", help="run the worker inside the intake process")
    args = ap.parse_args()

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    rows: list[dict[str, Any]] = []
    try:
        config = CONFIG.replace("RECEIVER", f"http://127.0.0.1:{receiver.server_address[1]}")
        with baton_stack(config, worker_in_intake=args.worker_in_intake) as stack:
            url = f"{stack.intake}/v1/events"
            await baton_idle(url, 5)  # warm-up: connections, caches
            for name, samples in (
                (
                    "baseline: bare Temporal start -> first activity, idle",
                    await bare_round_trip(stack.address, args.idle),
                ),
                ("baton: alert POST -> page at the webhook, idle", await baton_idle(url, args.idle)),
                (
                    f"baton: alert POST -> page, under {args.rate} new incidents/s",
                    await _with_cpu(stack, baton_under_load(url, args.rate, args.seconds)),
                ),
            ):
                rows.append(
                    {
                        "scenario": name,
                        "n": len(samples),
                        "p50_ms": round(pct(samples, 50), 1),
                        "p99_ms": round(pct(samples, 99), 1),
                    }
                )
                print(f"{name}: p50 {rows[-1]['p50_ms']} ms, p99 {rows[-1]['p99_ms']} ms", file=sys.stderr, flush=True)
    finally:
        receiver.shutdown()
    print(f"\n{os.cpu_count()} cores\n\n| scenario | n | p50 ms | p99 ms |\n| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['scenario']} | {r['n']} | {r['p50_ms']} | {r['p99_ms']} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
