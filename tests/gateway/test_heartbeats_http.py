"""Heartbeat pings and the monitors' API on a real port against the dev server, and `baton heartbeats` and
`baton readiness` through the gateway: what a job's curl sees, what people see, and the refusals (an unknown
name, a wrong token)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.intake import create_app
from incident.attestation import Method
from tests.gateway.test_cli import ALICE, TRIAGE, Cli
from tests.helpers.config import BASE_CONFIG, TOKEN, make_config
from tests.helpers.http import Sink, serving
from tests.helpers.temporal import Harness, harness

HB_TOKEN = "hb-token-0123456789"
EXTRA = f"""  heartbeats: {{token: {HB_TOKEN}}}
heartbeats:
  nightly-backup: {{service: checkout, every: 24h, grace: 1h}}
  queue-drain: {{service: checkout, every: 10m}}
agents:
  triage: {{token: {TRIAGE}}}
"""
JOB = {"Authorization": f"Bearer {HB_TOKEN}"}
PERSON = {"Authorization": f"Bearer {ALICE}"}


@pytest.fixture
async def stack(
    dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[str, Cli, Harness]]:
    monkeypatch.setenv("TEST_INTAKE_TOKEN", TOKEN)
    config_file = tmp_path / "baton.yaml"
    config_file.write_text(BASE_CONFIG.replace("SINK", sink.url) + EXTRA)
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url, extra=EXTRA), http)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BATON_"))} | {
            "BATON_CONFIG": str(config_file),
            "COLUMNS": "200",
            "BATON_TOKEN": ALICE,
        }
        async with h.worker, serving(create_app(h.config, h.incidents.acting(Method.TOKEN))) as url:
            yield url, Cli(env | {"BATON_URL": url}), h


async def test_a_ping_by_post_or_get_is_recorded_and_listed(stack: tuple[str, Cli, Harness]) -> None:
    url, _, _ = stack
    async with httpx.AsyncClient(base_url=url) as http:
        posted = await http.post("/v1/heartbeats/nightly-backup", headers=JOB)
        got = await http.get("/v1/heartbeats/queue-drain", params={"token": HB_TOKEN})
        listed = await http.get("/v1/heartbeats", headers=PERSON)
    assert posted.status_code == 202, posted.text
    body = posted.json()
    assert body["status"] == "success" and body["heartbeat"] == "nightly-backup" and body["next_deadline"]
    assert got.status_code == 200 and got.json()["heartbeat"] == "queue-drain"
    rows = {r["name"]: r for r in listed.json()}
    assert rows["nightly-backup"]["status"] == "ok" and rows["nightly-backup"]["last_ping"]
    assert rows["nightly-backup"]["every"] == "1d" and rows["queue-drain"]["grace"] == "5m"


async def test_unknown_names_and_wrong_tokens_are_refused_in_json(stack: tuple[str, Cli, Harness]) -> None:
    url, _, _ = stack
    async with httpx.AsyncClient(base_url=url) as http:
        unknown = await http.post("/v1/heartbeats/no-such-job", headers=JOB)
        unknown_get = await http.get("/v1/heartbeats/no-such-job", params={"token": HB_TOKEN})
        wrong = await http.post("/v1/heartbeats/nightly-backup", headers={"Authorization": "Bearer nope-nope-nope"})
        wrong_query = await http.get("/v1/heartbeats/nightly-backup", params={"token": "nope"})
        none = await http.post("/v1/heartbeats/no-such-job")
        other = await http.post("/v1/heartbeats/nightly-backup", headers={"Authorization": f"Bearer {TOKEN}"})
        person = await http.post("/v1/heartbeats/nightly-backup", headers=PERSON)
        job_pauses = await http.post("/v1/heartbeats/nightly-backup/pause", headers=JOB)
        agent_pauses = await http.post(
            "/v1/heartbeats/nightly-backup/pause", headers={"Authorization": f"Bearer {TRIAGE}"}
        )
        unknown_pause = await http.post("/v1/heartbeats/no-such-job/pause", headers=PERSON)
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_heartbeat"
    assert "nightly-backup" in unknown.json()["message"]
    assert unknown_get.status_code == 404 and unknown_get.json()["error"] == "unknown_heartbeat"
    for resp in (wrong, wrong_query, none, person):
        assert resp.status_code == 401 and resp.json()["error"] == "unauthorized", resp.text
    assert other.status_code == 403 and "events" in other.json()["message"]
    assert job_pauses.status_code == 403 and "heartbeats integration" in job_pauses.json()["message"]
    assert agent_pauses.status_code == 403 and "for people" in agent_pauses.json()["message"]
    assert unknown_pause.status_code == 404 and unknown_pause.json()["error"] == "unknown_heartbeat"


async def test_the_cli_lists_pauses_and_resumes(stack: tuple[str, Cli, Harness]) -> None:
    url, baton, _ = stack
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/v1/heartbeats/queue-drain", headers=JOB)).status_code == 202
    listed = await baton("heartbeats", "--json")
    assert listed.code == 0, listed.err
    rows = {r["name"]: r for r in listed.json}
    assert rows["queue-drain"]["status"] == "ok" and rows["nightly-backup"]["status"] == "never"
    paused = await baton("heartbeats", "pause", "queue-drain", "-m", "queue migration")
    assert paused.code == 0 and "queue-drain paused" in paused.out, paused.err
    table = await baton("heartbeats")
    assert "paused by human:alice: queue migration" in table.out and "never" in table.out
    resumed = await baton("heartbeats", "resume", "queue-drain", "--json")
    assert resumed.code == 0 and resumed.json["status"] == "ok" and resumed.json["next_deadline"]
    bad = await baton("heartbeats", "pause", "Not A Name")
    assert bad.code == 2 and "not a heartbeat name" in bad.err
    unknown = await baton("heartbeats", "pause", "no-such-job")
    assert unknown.code == 1 and "no heartbeat 'no-such-job'" in unknown.err


async def test_baton_readiness_through_the_gateway_and_for_a_file_alone(stack: tuple[str, Cli, Harness]) -> None:
    url, baton, _ = stack
    async with httpx.AsyncClient(base_url=url) as http:
        assert (await http.post("/v1/heartbeats/queue-drain", headers=JOB)).status_code == 202
    found = await baton("readiness", "--days", "7", "--json")
    assert found.code == 1, found.err  # a gap: exit 1
    gaps = {(g["kind"], g["where"]) for g in found.json["gaps"]}
    assert ("heartbeat_never_pinged", "heartbeats.nightly-backup") in gaps
    assert ("heartbeat_never_pinged", "heartbeats.queue-drain") not in gaps
    assert found.json["days"] == 7 and found.json["ok"] is False
    text = await baton("readiness")
    assert "heartbeat_never_pinged" in text.out and "heartbeats.nightly-backup" in text.out
    alone = await baton("readiness", "--config", baton.env["BATON_CONFIG"], "--json", token=None)
    assert alone.code == 1 and any("heartbeats" in n for n in alone.json["not_known"]), alone.err
    history = await baton("readiness", "--history")
    assert history.code == 0 and "no readiness run yet" in history.out
    bad = await baton("readiness", "--days", "0")
    assert bad.code == 2
