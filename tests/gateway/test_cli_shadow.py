"""`baton boundaries report --shadow` as a user runs it, through the gateway: the disagreements of real incidents
on a dev server, most frequent first, as a table and as JSON."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from gateway.intake import create_app
from incident.attestation import Method
from incident.models import Actor
from tests.gateway.test_cli import ALICE, Cli, Run
from tests.helpers.config import make_config
from tests.helpers.http import Sink, serving
from tests.helpers.incidents import open_incident, state
from tests.helpers.temporal import harness
from tests.helpers.wait import until
from tests.workflows.test_workflow_shadow import shadow_config

TRIAGE = Actor.agent("triage")


async def test_the_shadow_report_on_the_command_line(dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path) -> None:
    base = shadow_config().replace("restart_pods", "drain_node")  # the dev server is shared: a name of its own
    (tmp_path / "baton.yaml").write_text(base.replace("SINK", sink.url))
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url, base=base), http)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BATON_"))} | {
            "BATON_CONFIG": str(tmp_path / "baton.yaml"),
            "COLUMNS": "200",
            "BATON_TOKEN": ALICE,
        }
        async with h.worker, serving(create_app(h.config, h.incidents.acting(Method.TOKEN))) as url:
            baton = Cli(env | {"BATON_URL": url})
            wid = await open_incident(h)
            iid = (await state(h, wid)).incident_id
            for n in range(2):
                await h.incidents.request(wid, TRIAGE, "drain_node", f"node wedged ({n})")

            async def report() -> Run:
                return await baton("boundaries", "report", "--shadow", "--json")

            def ours(r: Run) -> list[dict[str, object]]:
                return [row for row in r.json if row["action"] == "drain_node"] if r.code == 0 else []

            found = await until(report, lambda r: [row["count"] for row in ours(r)] == [2])
            row = ours(found)[0]
            assert (row["verdict"], row["shadow_verdict"], row["shadow_rule"]) == (
                "auto",
                "never",
                "boundaries.agent.never",
            )
            assert row["incidents"] == [iid] and row["actors"] == ["agent:triage"]
            table = await baton("boundaries", "report", "--shadow")
            assert table.code == 0 and "SHADOW RULE" in table.out
            line = next(ln for ln in table.out.splitlines() if "drain_node" in ln)
            assert line.split()[:5] == ["2", "drain_node", "SEV2", "auto", "never"]
