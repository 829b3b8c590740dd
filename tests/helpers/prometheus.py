"""A real Prometheus (Debian's package) on loopback, with a backfilled series to query around an alert."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers.http import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (httpx.HTTPError, KeyError, IndexError, ValueError) as e:
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {timeout}s (last: {last!r})")


# ---- a real Prometheus ---------------------------------------------------------------------------------------


@dataclass
class Prom:
    url: str
    backfill_alert_at: datetime
    """The alert time the backfilled `baton_test_errors` series is built around (see `backfill`)."""


def backfill(path: Path, now: datetime) -> datetime:
    """Write blocks for `baton_test_errors{instance=a|b|c}`: 1 each until two minutes before an alert ten minutes
    ago, 10 each after, sampled every 15 s from 45 minutes ago until 30 s ago. Returns the alert time."""
    alert_at = now - timedelta(minutes=10)
    jump = alert_at - timedelta(minutes=2)
    lines = ["# TYPE baton_test_errors gauge"]
    for instance in "abc":
        at = now - timedelta(minutes=45)
        while at <= now - timedelta(seconds=30):
            lines.append(f'baton_test_errors{{instance="{instance}"}} {1 if at < jump else 10} {at.timestamp():.3f}')
            at += timedelta(seconds=15)
    source = path / "backfill.om"
    source.write_text("\n".join([*lines, "# EOF", ""]))
    command = [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(path / "data")]
    subprocess.run(command, check=True, capture_output=True)
    return alert_at


def run_prometheus(
    tmp_path_factory: pytest.TempPathFactory, jobs: dict[str, list[str]] | None = None, rules: Path | None = None
) -> Iterator[Prom]:
    """Start Prometheus scraping itself (and `jobs`: job name -> host:port targets), with the backfilled series,
    evaluating `rules` every second; yield where it is."""
    assert Path(PROMETHEUS).exists(), "needs Debian's prometheus (scripts/test-deps installs it)"
    tmp = tmp_path_factory.mktemp("prometheus")
    alert_at = backfill(tmp, datetime.now(UTC))
    port = free_port()
    config = tmp / "prometheus.yml"
    scrapes = "".join(
        f"""
  - job_name: {name}
    static_configs: [{{targets: {json.dumps(targets)}}}]"""
        for name, targets in (jobs or {}).items()
    )
    config.write_text(
        f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: {json.dumps([str(rules)] if rules else [])}
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ["127.0.0.1:{port}"]}}]{scrapes}
"""
    )
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"

    def samples_of_up() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        r = httpx.get(f"{url}/api/v1/query", params={"query": 'count_over_time(up{job="prometheus"}[1m])'}, timeout=2)
        result = r.json()["data"]["result"]
        return bool(result) and float(result[0]["value"][1]) >= 3

    try:
        wait_for(samples_of_up, "three samples of `up`")
        yield Prom(url=url, backfill_alert_at=alert_at)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
