"""Readiness drills that run themselves, on the dev server: the worker's Schedule runs the team's drill files
against the live config (and readiness) when the config changes; a change that breaks a drill tells the owner
(`readiness.notify`, a notice through the notifiers), and the history keeps when the config last passed."""

from __future__ import annotations

from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from gateway.readiness import ensure_readiness, readiness_history
from incident.config import load_config
from incident.readiness import ReadinessLog
from tests.helpers.config import BASE_CONFIG
from tests.helpers.http import Sink
from tests.helpers.temporal import trusted
from tests.helpers.wait import until
from worker import build_worker

READINESS = """readiness:
  notify: [user:dave]
  drills: ["drills/*.yaml"]
"""
DRILL = """name: checkout pages alice first
start: 2026-11-24T02:00:00Z
alerts:
  - {at: 0s, service: checkout, summary: "checkout 5xx above 5%", severity: SEV2, key: checkout-5xx}
expect:
  - {at: 0s, paged: {person: alice, level: 1}}
"""


def notices(sink: Sink) -> list[dict]:
    return [r["json"] for r in sink.for_path("/dave") if r["json"].get("incident_id") == "readiness"]


def failures(sink: Sink) -> list[dict]:
    return [n for n in notices(sink) if "drill failed" in (n.get("notice") or "")]


async def test_a_config_change_that_breaks_a_drill_tells_the_owner(
    dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path
) -> None:
    config_file = tmp_path / "baton.yaml"
    config_file.write_text(BASE_CONFIG.replace("SINK", sink.url) + READINESS)
    (tmp_path / "drills").mkdir()
    (tmp_path / "drills" / "pages-alice.yaml").write_text(DRILL)
    config = load_config(config_file)
    queue = f"readiness-{tmp_path.name[-12:]}"
    client = dev_env.client

    async def history() -> ReadinessLog:
        return await readiness_history(client, queue)

    async with httpx.AsyncClient() as http:
        worker = build_worker(client, config, http, task_queue=queue, trusted=trusted(), config_file=config_file)
        async with worker:
            assert await ensure_readiness(client, config, config_file, queue), "the first start runs it"
            first = (await until(history, lambda log: len(log.runs) == 1, timeout=90)).runs[0]
            assert first.passed, first
            assert [(d.name, d.passed) for d in first.drills] == [("checkout pages alice first", True)]
            assert first.readiness is not None

            assert not await ensure_readiness(client, config, config_file, queue), "nothing changed: no run"

            # The change: level 1 now pages bob, so the drill's "alice first" no longer holds.
            config_file.write_text(
                config_file.read_text().replace("{notify: [user:alice], after: 5m}", "{notify: [user:bob], after: 5m}")
            )
            assert await ensure_readiness(client, load_config(config_file), config_file, queue)
            log = await until(history, lambda log: len(log.runs) == 2, timeout=90)
            second = log.runs[1]
            assert not second.passed and second.config_digest != first.config_digest
            assert second.drills[0].problem and "alice" in second.drills[0].problem
            assert log.last_passed == first.at and log.last_passed_digest == first.config_digest
            told = await until(lambda: _async(failures(sink)), timeout=30)
            assert len(told) == 1, "one notice per failed run"
            notice = told[0]
            assert notice["kind"] == "notice" and "drill failed: checkout pages alice first" in notice["notice"]
            assert f"last passed at {first.at:%Y-%m-%d %H:%M} UTC" in notice["notice"]
            assert sink.for_path("/alice") == [] or all(
                r["json"].get("incident_id") != "readiness" for r in sink.for_path("/alice")
            ), "only readiness.notify is told"


async def _async(value: list[dict]) -> list[dict]:
    return value
