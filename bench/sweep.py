"""The highest rate of new incidents at which p99 alert-to-page stays under a bound, next to bare Temporal.

    .venv/bin/python -m bench.sweep [--rates 10,20,30,40,50] [--seconds 8] [--bound-ms 300] [--json out.json]

Same stack and receiver as `bench.latency`. For each rate, baton gets `--seconds` of new incidents (one alert
each, its own dedup key) and the bare Temporal round trip (start a workflow -> its first activity runs, worker
in this process) gets the same rate on the same dev server, one after the other. CPU per new incident per process
is measured over each baton step, and per bare start (server, and this process for the client and worker). A step
whose p99 is past ten times the bound ends the sweep: every higher rate would only queue more.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import threading
import time
import uuid
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from temporalio.worker import Worker

from bench import latency
from bench.stack import baton_stack
from gateway.temporal import connect

PROCS = ("server", "worker", "intake")
IN_INTAKE = ("server", "intake+worker")


async def bare_at_rate(address: str, rate: int, seconds: int) -> list[float]:
    """Start -> first activity, `rate` workflow starts a second for `seconds`."""
    client = await connect(address)
    queue = f"bench-rt-{uuid.uuid4().hex[:6]}"

    async def one() -> float:
        wid = f"rt-{uuid.uuid4().hex[:12]}"
        sent = time.time()
        await client.start_workflow(latency.RoundTrip.run, id=wid, task_queue=queue)
        deadline = time.monotonic() + 60
        while wid not in latency.STARTED:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{wid} never ran its activity")
            await asyncio.sleep(0.002)
        return latency.STARTED[wid] - sent

    async with Worker(client, task_queue=queue, workflows=[latency.RoundTrip], activities=[latency.first]):
        return await latency.at_rate(one, rate, seconds)


def own_cpu() -> float:
    """CPU seconds of this process, every thread (the bare baseline's client and worker run here)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def stats(samples: list[float]) -> dict[str, float]:
    return {
        "n": len(samples),
        "p50_ms": round(latency.pct(samples, 50), 1),
        "p99_ms": round(latency.pct(samples, 99), 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), latency.Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    config = latency.CONFIG.replace("RECEIVER", f"http://127.0.0.1:{receiver.server_address[1]}")
    steps: list[dict[str, Any]] = []
    try:
        with baton_stack(config, worker_in_intake=args.worker_in_intake) as stack:
            url = f"{stack.intake}/v1/events"
            await latency.baton_idle(url, 5)  # warm-up: connections, caches
            for rate in args.rates:
                cpu0 = stack.cpu()
                baton = await latency.baton_under_load(url, rate, args.seconds)
                spent = [b - a for a, b in zip(cpu0, stack.cpu(), strict=True)]
                server0, own0 = stack.cpu()[0], own_cpu()
                bare = await bare_at_rate(stack.address, rate, args.seconds)
                bare_cpu = {"server": stack.cpu()[0] - server0, "client+worker": own_cpu() - own0}
                step = {
                    "rate": rate,
                    "baton": stats(baton),
                    "bare": stats(bare),
                    "cpu_ms_per_new_incident": {
                        p: round(s / len(baton) * 1000, 1)
                        for p, s in zip(IN_INTAKE if args.worker_in_intake else PROCS, spent, strict=True)
                    },
                    "bare_cpu_ms_per_start": {k: round(v / len(bare) * 1000, 1) for k, v in bare_cpu.items()},
                    "load_average": round(os.getloadavg()[0], 2),
                }
                steps.append(step)
                print(step, file=sys.stderr, flush=True)
                if step["baton"]["p99_ms"] > 10 * args.bound_ms:
                    break
    finally:
        receiver.shutdown()
    under = [s["rate"] for s in steps if s["baton"]["p99_ms"] <= args.bound_ms]
    bare_under = [s["rate"] for s in steps if s["bare"]["p99_ms"] <= args.bound_ms]
    return {
        "bound_ms": args.bound_ms,
        "seconds_per_step": args.seconds,
        "cores": os.cpu_count(),
        "worker_in_intake": args.worker_in_intake,
        "steps": steps,
        "highest_rate_under_bound": max(under, default=0),
        "bare_highest_rate_under_bound": max(bare_under, default=0),
    }


def table(r: dict[str, Any]) -> str:
    lines = [
        "| new incidents/s | baton p50 ms | baton p99 ms | bare p50 ms | bare p99 ms "
        "| CPU ms/new incident (server, worker, intake) | bare CPU ms/start (server, client+worker) | load average |",
        "| ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |",
    ]
    for s in r["steps"]:
        cpu = ", ".join(f"{v:g}" for v in s["cpu_ms_per_new_incident"].values())
        bare = ", ".join(f"{v:g}" for v in s["bare_cpu_ms_per_start"].values())
        lines.append(
            f"| {s['rate']} | {s['baton']['p50_ms']} | {s['baton']['p99_ms']} | {s['bare']['p50_ms']} "
            f"| {s['bare']['p99_ms']} | {cpu} | {bare} | {s['load_average']} |"
        )
    lines.append(
        f"\nhighest rate with p99 <= {r['bound_ms']} ms: baton {r['highest_rate_under_bound']}/s, "
        f"bare Temporal {r['bare_highest_rate_under_bound']}/s"
    )
    return "\n".join(lines)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", type=lambda s: [int(x) for x in s.split(",") if x], default=[10, 20, 30, 40, 50])
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--bound-ms", type=float, default=300)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--worker-in-intake", action="store_true", help="run the worker inside the intake process")
    args = ap.parse_args()
    r = await run(args)
    print("\n" + table(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
