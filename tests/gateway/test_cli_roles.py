"""`baton lead` and `baton role` against a real dev server, through the gateway, as the token's person."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.intake import create_app
from incident.attestation import Method
from tests.gateway.test_cli import ALICE, BOB, Cli, open_incident
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink, serving
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until

ROLES = "coordination:\n  roles: [comms, scribe]\n"


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path) -> AsyncIterator[tuple[Cli, Harness]]:
    """A worker and the gateway on loopback, with roles comms and scribe; the CLI reaches only the gateway."""
    config_file = tmp_path / "baton.yaml"
    config_file.write_text(BASE_CONFIG.replace("SINK", sink.url) + ROLES)
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url, extra=ROLES), http)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BATON_"))} | {
            "BATON_CONFIG": str(config_file),
            "COLUMNS": "200",
            "BATON_TOKEN": ALICE,
        }
        async with h.worker, serving(create_app(h.config, h.incidents.acting(Method.TOKEN))) as url:
            yield Cli(env | {"BATON_URL": url}), h


async def test_lead_and_roles_from_the_command_line(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)

    took = await baton("lead", iid)
    assert took.code == 0 and f"alice leads {iid}" in took.out, took.err
    handed = await baton("lead", iid, "dave", "--json")
    assert handed.code == 0 and handed.json["ok"] and handed.json["message"] == f"dave leads {iid}"
    comms = await baton("role", iid, "comms", token=BOB)
    assert comms.code == 0 and f"bob holds comms on {iid}" in comms.out
    scribe = await baton("role", iid, "scribe", "@alice", token=BOB)
    assert scribe.code == 0 and f"alice holds scribe on {iid}" in scribe.out

    st = await h.incidents.state(iid)
    assert st.roles == {"lead": "dave", "comms": "bob", "scribe": "alice"}
    assert [e.text for e in st.timeline if e.kind == "role"] == [
        "alice takes lead",
        "alice hands lead to dave",
        "bob takes comms",
        "bob hands scribe to alice",
    ]
    shown = await baton("show", iid)
    assert shown.code == 0
    assert any(line.split() == ["lead", "dave"] for line in shown.out.splitlines()), shown.out
    assert any(line.split() == ["comms", "bob"] for line in shown.out.splitlines()), shown.out

    led = await until(
        lambda: baton("incidents", "--lead", "dave", "--json"), lambda r: r.code == 0 and iid in str(r.json)
    )
    assert {r["lead"] for r in led.json} == {"dave"}, "only incidents dave leads"
    table = await baton("incidents")
    assert any(iid in line and "dave" in line for line in table.out.splitlines()), table.out
    others = await baton("incidents", "--lead", "bob", "--json")
    assert iid not in {r["id"] for r in others.json} and {r["lead"] for r in others.json} <= {"bob"}


async def test_bad_roles_and_names_exit_2_with_a_message(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)
    unknown_role = await baton("role", iid, "commander")
    assert unknown_role.code == 2 and "unknown role 'commander' (known: comms, lead, scribe)" in unknown_role.err
    unknown_person = await baton("lead", iid, "zed")
    assert unknown_person.code == 2 and "unknown person 'zed'" in unknown_person.err
    assert "alice, bob, dave" in unknown_person.err
    not_a_name = await baton("lead", iid, "Dave Smith")
    assert not_a_name.code == 2 and "not a person's name" in not_a_name.err
    not_a_role = await baton("role", iid, "Comms!")
    assert not_a_role.code == 2 and "not a role name" in not_a_role.err
    missing = await baton("lead", "INC-ZZZZZZ")
    assert missing.code == 1 and "no incident INC-ZZZZZZ" in missing.err
    assert (await h.incidents.state(iid)).roles == {}
