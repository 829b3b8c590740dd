"""What a team plans capacity with: memory, disk and CPU per open incident, and the work behind each one.

    .venv/bin/python -m bench.capacity [--incidents 10000] [--marks 1000,5000] [--rate 30] [--cache 1000]
                                       [--joins 500] [--sample 50] [--json out.json]

Dev server (SQLite file), worker and intake as separate processes, the worker keeping `--cache` incidents in
memory (BATON_WORKFLOW_CACHE). It opens `--incidents` incidents through the intake, one alert each with its own
dedup key, at a steady `--rate`, and at every mark (and at the end) waits until each is paged, then records the
worker's, the server's and the intake's memory, the SQLite database with its WAL, and the CPU each process spent
on that batch (less what it spends idle). Then `--joins` alerts join open incidents (the oldest ones, one alert
each, so none is batched with another), with their CPU; and `--sample` of those incidents' histories are counted:
events, workflow tasks and visibility updates per new incident and per joining alert.
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
from collections import Counter
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.enums.v1 import EventType

from bench import latency
from bench.stack import Stack, baton_stack
from gateway.temporal import connect
from incident.ids import workflow_id_for

PROCS = ("server", "worker", "intake")
VISIBILITY = {"UPSERT_WORKFLOW_SEARCH_ATTRIBUTES", "WORKFLOW_PROPERTIES_MODIFIED"}
MB = 1024 * 1024


async def send_at_rate(http: httpx.AsyncClient, url: str, keys: list[str], rate: float) -> dict[str, float]:
    """POST one alert per key at `rate` a second; when each was sent."""
    sent: dict[str, float] = {}

    async def one(key: str) -> None:
        sent[key] = await latency.fire(http, url, key)

    tasks = []
    start = time.monotonic()
    for i, key in enumerate(keys):
        await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(key)))
    await asyncio.gather(*tasks)
    return sent


async def wait_paged(keys: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with latency.LOCK:
            missing = sum(1 for k in keys if k not in latency.ARRIVED)
        if not missing:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{missing} of {len(keys)} incidents not paged")
        await asyncio.sleep(0.2)


def idle_cpu(stack: Stack, seconds: float = 5.0) -> list[float]:
    """CPU seconds per second each process spends with nothing arriving (pollers, timers, the server's own loops)."""
    before = stack.cpu()
    time.sleep(seconds)
    return [(b - a) / seconds for a, b in zip(before, stack.cpu(), strict=True)]


def cpu_ms_each(spent: list[float], idle: list[float], seconds: float, n: int) -> dict[str, float]:
    return {p: round(max(0.0, s - i * seconds) / n * 1000, 2) for p, s, i in zip(PROCS, spent, idle, strict=True)}


def snapshot(stack: Stack, open_incidents: int) -> dict[str, Any]:
    mem = dict(zip(PROCS, stack.memory(), strict=True))
    db = stack.db_bytes()
    return {
        "open_incidents": open_incidents,
        "rss_mb": {p: round(m["rss"] / MB, 1) for p, m in mem.items()},
        "pss_mb": {p: round(m["pss"] / MB, 1) for p, m in mem.items()},
        "db_mb": round(db["db"] / MB, 1),
        "wal_mb": round(db["wal"] / MB, 1),
    }


async def join_signal_seen(address: str, wids: list[str], timeout: float = 120) -> None:
    """Wait until each of `wids` has taken a second alert signal (the join), read from the server's history."""
    client = await connect(address)
    deadline = time.monotonic() + timeout
    for wid in wids:
        while True:
            hist = await client.get_workflow_handle(wid).fetch_history()
            if sum(1 for e in hist.events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED) >= 2:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{wid} has not taken its joining alert")
            await asyncio.sleep(0.2)


async def count_history(address: str, wids: list[str]) -> dict[str, Any]:
    """Events per new incident (up to the joining alert's signal) and per joining alert (from it on), by type."""
    client = await connect(address)
    new: Counter[str] = Counter()
    join: Counter[str] = Counter()
    for wid in wids:
        hist = await client.get_workflow_handle(wid).fetch_history()
        names = [EventType.Name(e.event_type).removeprefix("EVENT_TYPE_") for e in hist.events]
        split = max(i for i, n in enumerate(names) if n == "WORKFLOW_EXECUTION_SIGNALED")
        new.update(names[:split])
        join.update(names[split:])

    def per(c: Counter[str]) -> dict[str, Any]:
        n = len(wids)
        return {
            "events": round(sum(c.values()) / n, 2),
            "workflow_tasks": round(c["WORKFLOW_TASK_COMPLETED"] / n, 2),
            "activities": round(c["ACTIVITY_TASK_SCHEDULED"] / n, 2),
            "timers": round(c["TIMER_STARTED"] / n, 2),
            "visibility_updates": round(sum(c[v] for v in VISIBILITY) / n, 2),
            "by_type": {k: round(v / n, 2) for k, v in sorted(c.items())},
        }

    return {"sampled": len(wids), "per_new_incident": per(new), "per_joining_alert": per(join)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), latency.Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    config = latency.CONFIG.replace("RECEIVER", f"http://127.0.0.1:{receiver.server_address[1]}")
    env = {"BATON_WORKFLOW_CACHE": str(args.cache)}
    out: dict[str, Any] = {
        "cache": args.cache,
        "rate": args.rate,
        "cores": os.cpu_count(),
        "load_average_at_start": os.getloadavg(),
    }
    try:
        with baton_stack(config, env=env) as stack:
            url = f"{stack.intake}/v1/events"
            await latency.baton_idle(url, 5)  # warm-up: connections, caches
            out["idle_cpu_per_s"] = dict(zip(PROCS, (round(x, 3) for x in idle_cpu(stack)), strict=True))
            out["empty"] = snapshot(stack, 0)
            print(f"cache {args.cache}, empty: {out['empty']}", file=sys.stderr, flush=True)
            run_id = uuid.uuid4().hex[:6]
            keys = [f"{run_id}-{i:05d}" for i in range(args.incidents)]
            marks = sorted({m for m in args.marks if 0 < m < args.incidents} | {args.incidents})
            out["marks"] = []
            done = 0
            async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100)) as http:
                for mark in marks:
                    batch = keys[done:mark]
                    cpu0, t0 = stack.cpu(), time.monotonic()
                    sent = await send_at_rate(http, url, batch, args.rate)
                    await wait_paged(batch, timeout=120 + len(batch) / args.rate)
                    seconds = time.monotonic() - t0
                    spent = [b - a for a, b in zip(cpu0, stack.cpu(), strict=True)]
                    with latency.LOCK:
                        lat = [latency.ARRIVED[k] - sent[k] for k in batch]
                    row = snapshot(stack, mark) | {
                        "batch": len(batch),
                        "batch_seconds": round(seconds, 1),
                        "cpu_ms_per_new_incident": cpu_ms_each(
                            spent, list(out["idle_cpu_per_s"].values()), seconds, len(batch)
                        ),
                        "page_p50_ms": round(latency.pct(lat, 50), 1),
                        "page_p99_ms": round(latency.pct(lat, 99), 1),
                        "load_average": os.getloadavg()[0],
                    }
                    out["marks"].append(row)
                    print(f"{mark} open: {row}", file=sys.stderr, flush=True)
                    done = mark

                joining = keys[: args.joins]
                wids = [workflow_id_for("events:checkout", k) for k in joining]
                cpu0, t0 = stack.cpu(), time.monotonic()
                await send_at_rate(http, url, joining, args.rate)
                await join_signal_seen(stack.address, wids[-20:])
                seconds = time.monotonic() - t0
                spent = [b - a for a, b in zip(cpu0, stack.cpu(), strict=True)]
                out["joins"] = {
                    "alerts": len(joining),
                    "seconds": round(seconds, 1),
                    "cpu_ms_per_joining_alert": cpu_ms_each(
                        spent, list(out["idle_cpu_per_s"].values()), seconds, len(joining)
                    ),
                    "note": "the oldest incidents: outside the worker's cache when more are open than it holds",
                }
                print(f"joins: {out['joins']}", file=sys.stderr, flush=True)
            out["history"] = await count_history(stack.address, wids[: args.sample])
            out["after_joins"] = snapshot(stack, args.incidents)
    finally:
        receiver.shutdown()
    out["load_average_at_end"] = os.getloadavg()
    return out


def table(r: dict[str, Any]) -> str:
    lines = [
        f"cache {r['cache']} incidents, opened at {r['rate']}/s, {r['cores']} cores, "
        f"load average at start {r['load_average_at_start'][0]:.2f}\n",
        "| open incidents | worker RSS MB | worker PSS MB | server RSS MB | intake RSS MB | SQLite db MB | WAL MB "
        "| CPU ms/new incident (server, worker, intake) | page p50 / p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for m in [r["empty"], *r["marks"]]:
        cpu = m.get("cpu_ms_per_new_incident")
        cpu_s = ", ".join(f"{v:g}" for v in cpu.values()) if cpu else ""
        lat = f"{m['page_p50_ms']} / {m['page_p99_ms']}" if "page_p50_ms" in m else ""
        lines.append(
            f"| {m['open_incidents']:,} | {m['rss_mb']['worker']} | {m['pss_mb']['worker']} | {m['rss_mb']['server']} "
            f"| {m['rss_mb']['intake']} | {m['db_mb']} | {m['wal_mb']} | {cpu_s} | {lat} |"
        )
    j = r["joins"]["cpu_ms_per_joining_alert"]
    lines.append(f"\nCPU ms per joining alert (server, worker, intake): {', '.join(f'{v:g}' for v in j.values())}")
    h = r["history"]
    lines += [
        "",
        "| per | events | workflow tasks | activities | timers | visibility updates |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in ("per_new_incident", "per_joining_alert"):
        x = h[name]
        lines.append(
            f"| {name.removeprefix('per_').replace('_', ' ')} | {x['events']} | {x['workflow_tasks']} "
            f"| {x['activities']} | {x['timers']} | {x['visibility_updates']} |"
        )
    return "\n".join(lines)


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--incidents", type=int, default=10_000)
    ap.add_argument("--marks", type=lambda s: [int(x) for x in s.split(",") if x], default=[1000, 5000])
    ap.add_argument("--rate", type=float, default=30)
    ap.add_argument("--cache", type=int, default=1000, help="BATON_WORKFLOW_CACHE for the worker")
    ap.add_argument("--joins", type=int, default=500)
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    r = await run(args)
    print("\n" + table(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
