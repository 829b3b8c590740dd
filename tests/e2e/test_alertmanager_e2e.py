"""The real Alertmanager (Debian's prometheus-alertmanager) sending its webhook to baton, as a team runs it."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from incident.ids import workflow_id_for
from incident.state import IncidentState
from tests.helpers.config import TOKEN, make_config
from tests.helpers.http import Sink, free_port
from tests.helpers.temporal import Harness, intake_stack
from tests.helpers.wait import until
from workflows.incident import IncidentWorkflow

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
TOKENS = "\n  alertmanager: {token: env:TEST_INTAKE_TOKEN}\n"


@pytest.fixture
async def baton(
    dev_env: WorkflowEnvironment, sink: Sink, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    async with intake_stack(dev_env, make_config(sink.url, extra=TOKENS)) as stack:
        yield stack


@pytest.fixture
def alertmanager(baton: tuple[str, Harness], tmp_path: Path) -> Iterator[str]:
    url, _ = baton
    assert Path(ALERTMANAGER).exists(), "needs Debian's prometheus-alertmanager (scripts/test-deps installs it)"
    port = free_port()
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        f"""
route:
  receiver: baton
  group_by: [alertname, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: baton
    webhook_configs:
      - url: {url}/v1/alerts/alertmanager
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {TOKEN}}}
"""
    )
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


async def state(h: Harness, wid: str) -> IncidentState | None:
    try:
        return await h.client.get_workflow_handle(wid).query(IncidentWorkflow.state)
    except Exception:
        return None


async def test_alerts_flow_from_alertmanager_one_incident_per_group_and_back(
    baton: tuple[str, Harness], alertmanager: str
) -> None:
    _, h = baton
    run = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)

    def alert(name: str, instance: str, ends: datetime | None = None) -> dict:
        body = {
            "labels": {"alertname": name, "service": "checkout", "instance": instance, "severity": "critical"},
            "annotations": {"summary": f"{name} on {instance}"},
            "startsAt": now.isoformat(),
            "generatorURL": "http://prometheus.local/graph",
        }
        if ends:
            body["endsAt"] = ends.isoformat()
        return body

    firing = [alert(f"Errors{run}", "web-1"), alert(f"Errors{run}", "web-2"), alert(f"Latency{run}", "web-1")]
    async with httpx.AsyncClient(base_url=alertmanager) as am:
        await until(lambda: _ready(am), timeout=30)
        assert (await am.post("/api/v2/alerts", json=firing)).status_code == 200

        errors = workflow_id_for("alertmanager", f'{{}}:{{alertname="Errors{run}", service="checkout"}}')
        latency = workflow_id_for("alertmanager", f'{{}}:{{alertname="Latency{run}", service="checkout"}}')
        st = await until(
            lambda: state(h, errors), lambda s: s is not None and s.alert_count == 2 and s.paged, timeout=30
        )
        assert st.service == "checkout" and st.severity.value == "SEV1" and len(st.alerts) == 2
        assert st.paged == ["alice"]
        lst = await until(lambda: state(h, latency), lambda s: s is not None and s.alert_count == 1, timeout=30)
        assert lst.incident_id != st.incident_id

        past = datetime.now(UTC) - timedelta(seconds=1)
        resolved = [alert(f"Errors{run}", "web-1", past), alert(f"Errors{run}", "web-2", past)]
        assert (await am.post("/api/v2/alerts", json=resolved)).status_code == 200
        st = await until(
            lambda: state(h, errors), lambda s: any(e.kind == "asked_to_resolve" for e in s.timeline), timeout=30
        )
    assert not any(a.firing for a in st.alerts.values())
    assert st.status.value == "triggered", "recovery alone never resolves (on_recovery: ask)"
    assert any(e.kind == "recovered" for e in st.timeline)


async def _ready(am: httpx.AsyncClient) -> bool:
    try:
        return (await am.get("/-/ready")).status_code == 200
    except httpx.HTTPError:
        return False
