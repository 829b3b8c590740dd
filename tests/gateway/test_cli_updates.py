"""`baton update` against a real dev server through the gateway, run as a user runs it: the update due and its
draft shown, sent as drafted or edited as the token's person, and bad input answered with exit code 2."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.intake import create_app
from incident.attestation import Method
from incident.models import Actor
from tests.gateway.test_cli import AGENTS, ALICE, BOB, Cli, open_incident
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink, serving
from tests.helpers.temporal import Harness, harness

UPDATES = """coordination:
  updates:
    every: {SEV2: 1h}
"""


@pytest.fixture
async def stack(dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path) -> AsyncIterator[tuple[Cli, Harness]]:
    config_file = tmp_path / "baton.yaml"
    config_file.write_text(BASE_CONFIG.replace("SINK", sink.url) + AGENTS + UPDATES)
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url, extra=AGENTS + UPDATES), http)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "BATON_"))} | {
            "BATON_CONFIG": str(config_file),
            "COLUMNS": "200",
            "BATON_TOKEN": ALICE,
        }
        gateway = h.incidents.acting(Method.TOKEN)
        async with h.worker, serving(create_app(h.config, gateway)) as url:
            yield Cli(env | {"BATON_URL": url}), h


async def test_show_and_send_the_update_as_the_tokens_person(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)
    st = await h.incidents.state(iid)
    shown = await baton("update", iid, "--json")
    assert shown.code == 0 and shown.json["update"] == 1 and not shown.json["due"]
    assert shown.json["due_at"] == (st.opened_at + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M UTC")
    human = await baton("update", iid)
    assert human.code == 0 and f"{iid}: update 1 is due at" in human.out

    wording = "Checkout errors for some EU customers; the team is rolling back."
    await h.incidents.stakeholder_update(iid, Actor.agent("triage"), wording, propose=True)
    human = await baton("update", iid)
    assert "Draft (wording by agent:triage):" in human.out and wording in human.out
    assert f"baton update {iid} --send" in human.out

    sent = await baton("update", iid, "--send", token=BOB)
    assert sent.code == 0 and "update 1 sent to the timeline" in sent.out
    st = await h.incidents.state(iid)
    entry = next(e for e in st.timeline if e.kind == "update_sent")
    assert entry.actor == "human:bob" and (entry.data or {})["text"] == wording

    edited = await baton("update", iid, "--send", "-m", "Rolled back; errors falling.", "--json")
    assert edited.code == 0 and edited.json["ok"] and "update 2 sent" in edited.json["message"]
    shown = await baton("update", iid, "--json")
    assert shown.json["sent"] == 2 and shown.json["last_sent"]["by"] == "human:alice"
    assert shown.json["last_sent"]["text"] == "Rolled back; errors falling."


async def test_bad_input_is_exit_code_2_and_nothing_to_send_is_1(stack: tuple[Cli, Harness]) -> None:
    baton, h = stack
    iid = await open_incident(h)
    for args in (["-m", "hello"], ["--customers"], ["--send", "-m", "  "], ["--send", "-m", "x" * 4001]):
        bad = await baton("update", iid, *args)
        assert bad.code == 2 and "error:" in bad.err and "Traceback" not in bad.err, args
    nothing = await baton("update", iid, "--send")
    assert nothing.code == 1 and "no update is due yet and there is no draft" in nothing.err
    code_needed = await baton("update", iid, "--send", "--customers", "-m", "We are on it.")
    assert code_needed.code == 1 and "--code" in code_needed.err, "customer text needs the person present"
    st = await h.incidents.state(iid)
    assert not any(e.kind == "update_sent" for e in st.timeline)
