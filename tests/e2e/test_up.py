"""`baton up` as a user runs it: SIGKILL its worker and it is back within seconds, logged, and still paging; the
token it kept for a person works with the CLI; Ctrl-C stops everything with exit 0."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.up import METRICS_OFFSET
from tests.helpers.config import BASE_CONFIG, PEOPLE_TOKENS, TOKEN
from tests.helpers.http import Sink, free_fixed_ports
from tests.helpers.prometheus import wait_for

BATON = str(Path(sys.executable).parent / "baton")
ROLES = {"temporal": "server", "worker": "worker", "intake": "starter"}
"""Each child of `baton up`, by a word of its command line."""


@dataclass
class Up:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path
    data: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def children(self) -> dict[str, int]:
        """The live children of `baton up` by role, read from the process tree."""
        found: dict[str, int] = {}
        for task in Path(f"/proc/{self.proc.pid}/task").iterdir():
            try:  # a thread or a child can end while we read
                pids = (task / "children").read_text().split()
            except FileNotFoundError:
                continue
            for pid in pids:
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                except FileNotFoundError:
                    continue
                for role, word in ROLES.items():
                    if word.encode() in argv and state != "Z":
                        found[role] = int(pid)
        return found


@pytest.fixture
def up(tmp_path: Path, sink: Sink) -> Iterator[Up]:
    config = tmp_path / "baton.yaml"
    config.write_text(
        BASE_CONFIG.replace("SINK", sink.url).replace(f"token: {PEOPLE_TOKENS['alice']}", "token: env:UP_ALICE_TOKEN")
    )
    log = tmp_path / "up.log"
    base = free_fixed_ports(METRICS_OFFSET + 5)  # Temporal, UI, intake, then metrics at intake + 64..66
    http_port = base + 2
    env = {k: v for k, v in os.environ.items() if k != "UP_ALICE_TOKEN"} | {
        "BATON_CONFIG": str(config),
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_INTAKE_TOKEN": TOKEN,
        "TEST_INTAKE_TOKEN": TOKEN,
    }
    ports = ["--temporal-port", str(base), "--ui-port", str(base + 1), "--http-port", str(http_port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [BATON, "up", *ports], env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    stack = Up(proc, f"http://127.0.0.1:{http_port}", log, tmp_path / "data")
    try:

        def healthy() -> bool:
            assert proc.poll() is None, f"baton up exited with {proc.returncode}:\n{stack.output()}"
            return httpx.get(f"{stack.url}/healthz", timeout=1).status_code == 200

        wait_for(healthy, "the intake's /healthz", timeout=90)
        yield stack
    finally:
        if proc.poll() is None:
            for pid in stack.children().values():
                os.kill(pid, signal.SIGKILL)
            proc.kill()
        proc.wait(timeout=30)


def test_a_killed_worker_is_restarted_logged_and_pages_again_then_ctrl_c_stops_all(up: Up, sink: Sink) -> None:
    before = wait_for(lambda: (c := up.children()).keys() == ROLES.keys() and c, "three children")
    os.kill(before["worker"], signal.SIGKILL)

    after = wait_for(
        lambda: (c := up.children()).get("worker") not in (None, before["worker"]) and c, "a new worker", timeout=30
    )
    assert (after["temporal"], after["intake"]) == (before["temporal"], before["intake"]), "only the worker restarts"
    out = up.output()
    assert f"worker DIED (pid {before['worker']} was killed by SIGKILL" in out, out
    assert f"worker restarted (pid {after['worker']})" in out, out

    key = f"up-{uuid.uuid4().hex[:8]}"
    event = {
        "routing_key": "checkout",
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {"summary": "checkout 5xx after a worker crash", "source": "prom", "severity": "critical"},
    }
    answer = httpx.post(f"{up.url}/v1/events", json=event, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 202, answer.text
    pages = wait_for(
        lambda: [r for r in sink.for_path("/alice") if r["json"]["workflow_id"].endswith(key)], "the page", timeout=30
    )
    assert pages[0]["json"]["level"] == 1

    kept = up.data / "tokens" / "alice"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600, "alice's token is hers to read"
    assert f"export BATON_TOKEN=$(cat {kept})" in up.output()
    cli = {k: v for k, v in os.environ.items() if not k.startswith(("BATON_", "TEMPORAL_"))}
    acked = subprocess.run(
        [BATON, "ack", pages[0]["json"]["incident_id"]],
        env=cli | {"BATON_URL": up.url, "BATON_TOKEN": kept.read_text().strip()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert acked.returncode == 0 and "acknowledged by human:alice" in acked.stdout, acked.stderr

    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(timeout=60) == 0, up.output()
    gone = wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in after.values()), "every child gone")
    assert gone


def test_up_serves_the_intake_s_and_the_worker_s_metrics_and_the_temporal_sdk_s(up: Up) -> None:

    port = int(up.url.rsplit(":", 1)[1])
    # The banner follows the intake's first healthy answer, which is all the fixture waits for.
    wait_for(lambda: "metrics        http://127.0.0.1:" in up.output(), "the banner's metrics line", timeout=15)
    intake = httpx.get(f"{up.url}/metrics", timeout=5)  # no token
    assert intake.status_code == 200 and "baton_alerts_received_total" in intake.text
    worker = wait_for(lambda: httpx.get(f"http://127.0.0.1:{port + METRICS_OFFSET}/metrics", timeout=2), "worker")
    assert "baton_pages_total" in worker.text
    sdk = f"http://127.0.0.1:{port + METRICS_OFFSET + 1}/metrics"
    wait_for(lambda: 'poller_type="workflow_task"' in httpx.get(sdk, timeout=2).text, "the worker's SDK metrics")
    intake_sdk = f"http://127.0.0.1:{port + METRICS_OFFSET + 2}/metrics"
    assert httpx.get(intake_sdk, timeout=2).status_code == 200
