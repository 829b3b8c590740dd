"""Intake under an alert storm, next to two baselines measured in the same run on the same machine.

    .venv/bin/python -m bench.intake [--alerts 10000] [--keys 50] [--concurrency 64] [--json out.json]

1. baton, PagerDuty-shaped events, one alert per POST (the hardest shape: nothing batched by the source);
2. baton, Alertmanager webhooks, the same alerts as Alertmanager groups them (many alerts per POST);
3. baseline: bare `start_workflow(..., start_signal=...)` calls, one per alert, into an empty workflow on the
   same dev server: what a signal per alert can reach here;
4. baseline: Debian's Alertmanager receiving the same alerts one per POST on `/api/v2/alerts` (kept in memory only).

For baton it then checks that the storm made exactly `--keys` incidents and that every accepted alert is counted.
CPU seconds per process are measured for each scenario (baton: until every alert is applied), and CPU per alert
compared: baton's server + worker + intake, the bare baseline's server + this process (its client and worker),
Alertmanager's one process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from temporalio import workflow
from temporalio.worker import Worker

from bench import loadgen
from bench.stack import TOKEN, baton_stack, cpu_seconds, free_port, wait_port
from gateway.temporal import connect
from incident.ids import workflow_id_for
from workflows.incident import IncidentWorkflow

CONFIG = """
people:
  alice: {name: Alice, notify: [log]}
escalation_policies:
  p: {levels: [{notify: [user:alice], after: 30m}]}
services:
  checkout: {escalation: p}
integrations:
  events: {token: env:BATON_INTAKE_TOKEN}
  alertmanager: {token: env:BATON_INTAKE_TOKEN}
"""


@workflow.defn(sandboxed=False)
class EmptyWorkflow:
    """The baseline: a workflow that takes signals and does nothing with them."""

    def __init__(self) -> None:
        self.n = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal
    def s(self, payload: dict[str, Any]) -> None:
        self.n += 1


def events(run: str, n: int, keys: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "routing_key": "checkout",
                "event_action": "trigger",
                "dedup_key": f"{run}-k{i % keys}",
                "payload": {"summary": f"error burst {i}", "source": f"host-{i % 97}", "severity": "error"},
            }
        ).encode()
        for i in range(n)
    ]


def am_alert(run: str, i: int, keys: int) -> dict[str, Any]:
    return {
        "labels": {"alertname": f"Storm{run}", "group": f"k{i % keys}", "instance": f"host-{i}", "severity": "warning"},
        "annotations": {"summary": f"error burst {i}"},
        "startsAt": "2026-11-26T02:00:00Z",
        "generatorURL": "http://prometheus.local/graph",
    }


def am_webhooks(run: str, n: int, keys: int, per_post: int) -> list[bytes]:
    """The same alerts as Alertmanager delivers them: per group, `per_post` alerts a notification."""
    bodies = []
    by_group: dict[int, list[int]] = {}
    for i in range(n):
        by_group.setdefault(i % keys, []).append(i)
    for g, idx in by_group.items():
        for start in range(0, len(idx), per_post):
            alerts = []
            for i in idx[start : start + per_post]:
                a = am_alert(run, i, keys)
                alerts.append(
                    {
                        "status": "firing",
                        "labels": a["labels"],
                        "annotations": a["annotations"],
                        "startsAt": a["startsAt"],
                        "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": a["generatorURL"],
                        "fingerprint": f"{run}{i:08x}",
                    }
                )
            group_key = f'{{}}:{{alertname="Storm{run}", group="k{g}"}}'
            bodies.append(
                json.dumps(
                    {
                        "version": "4",
                        "groupKey": group_key,
                        "truncatedAlerts": 0,
                        "status": "firing",
                        "receiver": "baton",
                        "groupLabels": {"alertname": f"Storm{run}", "group": f"k{g}"},
                        "commonLabels": {"alertname": f"Storm{run}", "group": f"k{g}"},
                        "commonAnnotations": {},
                        "externalURL": "http://alertmanager.local",
                        "alerts": alerts,
                    }
                ).encode()
            )
    return bodies


async def count_incidents(address: str, wids: list[str], expected: int, timeout: float = 300) -> tuple[int, int]:
    """(incidents, alerts counted) once the workers have applied everything, or what is there at the deadline."""
    client = await connect(address)
    deadline = time.monotonic() + timeout
    while True:
        total, found = 0, 0
        for wid in wids:
            try:
                st = await client.get_workflow_handle(wid).query(IncidentWorkflow.state)
            except Exception:
                continue
            found += 1
            total += st.alert_count
        if total >= expected or time.monotonic() > deadline:
            return found, total
        await asyncio.sleep(0.5)


async def bare_temporal(address: str, n: int, keys: int, concurrency: int) -> loadgen.Result:
    client = await connect(address)
    queue = f"bench-empty-{uuid.uuid4().hex[:6]}"
    run = uuid.uuid4().hex[:6]
    todo = list(range(n))
    latencies: list[float] = []
    ok = 0
    async with Worker(client, task_queue=queue, workflows=[EmptyWorkflow]):

        async def one() -> None:
            nonlocal ok
            while todo:
                i = todo.pop()
                t0 = time.perf_counter()
                await client.start_workflow(
                    EmptyWorkflow.run,
                    id=f"empty-{run}-{i % keys}",
                    task_queue=queue,
                    start_signal="s",
                    start_signal_args=[{"i": i, "summary": f"error burst {i}"}],
                )
                latencies.append(time.perf_counter() - t0)
                ok += 1

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return loadgen.Result(sent=n, ok=ok, statuses={200: ok}, seconds=seconds, latencies=latencies)


def own_cpu() -> float:
    """CPU seconds of this process, every thread (the Temporal SDK's core threads too)."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def alertmanager(n: int, keys: int, concurrency: int, tmp: Path) -> tuple[loadgen.Result, float] | None:
    """Alertmanager's result and the CPU seconds its process spent taking the alerts."""
    binary = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
    if not Path(binary).exists():
        print("prometheus-alertmanager not installed: skipping that baseline", file=sys.stderr)
        return None
    port = free_port()
    (tmp / "am.yml").write_text("route: {receiver: 'null'}\nreceivers: [{name: 'null'}]\n")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp / 'am.yml'}",
            f"--storage.path={tmp / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        run = uuid.uuid4().hex[:6]
        bodies = [json.dumps([am_alert(run, i, keys)]).encode() for i in range(n)]
        cpu0 = cpu_seconds(proc.pid)
        r = await loadgen.run(f"http://127.0.0.1:{port}/api/v2/alerts", bodies, {}, concurrency)
        return r, cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def row(name: str, r: loadgen.Result, alerts: int, cpu: dict[str, float]) -> dict[str, Any]:
    print(f"{name}: {r.ok}/{r.sent} ok in {r.seconds:.2f}s {r.statuses}, cpu s {cpu}", file=sys.stderr, flush=True)
    return {
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_ms_per_alert": round(sum(cpu.values()) / alerts * 1000, 3),
        "scenario": name,
        "requests": r.sent,
        "ok": r.ok,
        "alerts_per_s": round(alerts * (r.ok / r.sent) / r.seconds, 1) if r.seconds else 0.0,
        "p50_ms": round(r.percentile(50), 1),
        "p99_ms": round(r.percentile(99), 1),
        "seconds": round(r.seconds, 2),
        "statuses": r.statuses,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--keys", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--per-post", type=int, default=50, help="alerts in one Alertmanager notification")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()

    results: list[dict[str, Any]] = []
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with baton_stack(CONFIG) as stack:
        run = uuid.uuid4().hex[:6]
        bodies = events(run, args.alerts, args.keys)
        cpu0 = stack.cpu()
        r = await loadgen.run(f"{stack.intake}/v1/events", bodies, auth, args.concurrency)
        cpu1 = stack.cpu()
        wids = [workflow_id_for("events:checkout", f"{run}-k{k}") for k in range(args.keys)]
        incidents, counted = await count_incidents(stack.address, wids, r.ok)
        cpu2 = stack.cpu()
        print(
            "cpu s (server, worker, intake) while accepting:",
            [round(b - a, 1) for a, b in zip(cpu0, cpu1, strict=True)],
            "until applied:",
            [round(b - a, 1) for a, b in zip(cpu0, cpu2, strict=True)],
            file=sys.stderr,
        )
        cpu = dict(zip(("server", "worker", "intake"), (b - a for a, b in zip(cpu0, cpu2, strict=True)), strict=True))
        results.append(
            row("baton, events, 1 alert/POST", r, args.alerts, cpu) | {"incidents": incidents, "counted": counted}
        )

        run = uuid.uuid4().hex[:6]
        bodies = am_webhooks(run, args.alerts, args.keys, args.per_post)
        cpu0 = stack.cpu()
        r = await loadgen.run(f"{stack.intake}/v1/alerts/alertmanager", bodies, auth, args.concurrency)
        wids = [
            workflow_id_for("alertmanager", f'{{}}:{{alertname="Storm{run}", group="k{k}"}}') for k in range(args.keys)
        ]
        incidents, counted = await count_incidents(stack.address, wids, args.alerts)
        cpu = dict(
            zip(("server", "worker", "intake"), (b - a for a, b in zip(cpu0, stack.cpu(), strict=True)), strict=True)
        )
        results.append(
            row(f"baton, Alertmanager webhook, {args.per_post} alerts/POST", r, args.alerts, cpu)
            | {"incidents": incidents, "counted": counted}
        )

        server0, own0 = stack.cpu()[0], own_cpu()
        r = await bare_temporal(stack.address, args.alerts, args.keys, args.concurrency)
        cpu = {"server": stack.cpu()[0] - server0, "client+worker": own_cpu() - own0}
        results.append(row("baseline: bare start_workflow+signal per alert", r, args.alerts, cpu))
    tmp = Path(tempfile.mkdtemp(prefix="baton-am-"))
    am = await alertmanager(args.alerts, args.keys, args.concurrency, tmp)
    if am:
        results.append(
            row("baseline: Alertmanager /api/v2/alerts, 1 alert/POST", am[0], args.alerts, {"alertmanager": am[1]})
        )
    shutil.rmtree(tmp, ignore_errors=True)

    print(f"\n{args.alerts} alerts across {args.keys} keys, {args.concurrency} connections, {os.cpu_count()} cores\n")
    print("| scenario | alerts/s | p50 ms | p99 ms | 2xx | incidents | alerts counted | CPU ms/alert | CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for x in results:
        cpu_s = ", ".join(f"{k} {v:g}" for k, v in x["cpu_s"].items())
        print(
            f"| {x['scenario']} | {x['alerts_per_s']:,.0f} | {x['p50_ms']} | {x['p99_ms']} | {x['ok']}/{x['requests']} "
            f"| {x.get('incidents', '')} | {x.get('counted', '')} | {x['cpu_ms_per_alert']} | {cpu_s} |"
        )
    by = {x["scenario"]: x["alerts_per_s"] for x in results}
    base_t = next((v for k, v in by.items() if k.startswith("baseline: bare")), 0)
    base_am = next((v for k, v in by.items() if k.startswith("baseline: Alertmanager")), 0)
    print()
    for k, v in by.items():
        if k.startswith("baton"):
            ratios = []
            if base_t:
                ratios.append(f"{v / base_t:.2f}x bare Temporal")
            if base_am:
                ratios.append(f"{v / base_am:.2f}x Alertmanager")
            print(f"{k}: " + ", ".join(ratios))
    cpu_by = {x["scenario"]: x["cpu_ms_per_alert"] for x in results}
    cpu_t = next((v for k, v in cpu_by.items() if k.startswith("baseline: bare")), 0)
    cpu_am = next((v for k, v in cpu_by.items() if k.startswith("baseline: Alertmanager")), 0)
    for k, v in cpu_by.items():
        if k.startswith("baton"):
            ratios = [
                f"{v / b:.2f}x the CPU of {n}" for b, n in ((cpu_t, "bare Temporal"), (cpu_am, "Alertmanager")) if b
            ]
            print(f"{k}, CPU per alert: " + ", ".join(ratios))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
