"""What a request's parameters cannot do, end to end in virtual time: a value an action does not take is refused
and recorded before anything runs, and a secret a runner's output holds never reaches the timeline."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.models import Actor
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import entries, open_incident, state
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until

DEPLOY_TOKEN = "deploy-secret-0123456789abcdef"
ACTIONS = """
boundaries:
  custom_actions: [restart_pods, deploy_notes]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity, restart_pods,
           deploy_notes]
    approval: [rollback, customer_comms, resolve]
services:
  checkout:
    escalation: two-levels
    actions:
      rollback:
        params: {version: {pattern: "^v[0-9]+$"}}
        webhook: {url: "SINK/deploy/{service}/rollback", body: {version: "{version}"}}
      restart_pods:
        params: {deployment: {pattern: "^[a-z0-9][a-z0-9-]{0,62}$"}}
        webhook: {url: "SINK/deploy/{service}/restart/{deployment}"}
      deploy_notes:
        command: {argv: [PROGRAM], env: [TEST_DEPLOY_TOKEN]}
routing: {default_service: checkout}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
  github: {token: env:TEST_DEPLOY_TOKEN}
"""
LEAKY = f"""#!{sys.executable}
import os, sys
token = os.environ["TEST_DEPLOY_TOKEN"]
print(f"deploying with token {{token}}")
print(f"curl -H 'Authorization: Bearer {{token}}' failed", file=sys.stderr)
sys.exit(2)
"""
TRIAGE = Actor.agent("triage")


@pytest.fixture
async def hp(
    ts_env: WorkflowEnvironment, sink: Sink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """A worker whose actions declare their parameters: webhooks to the sink, and a command that leaks its token."""
    monkeypatch.setenv("TEST_DEPLOY_TOKEN", DEPLOY_TOKEN)
    program = tmp_path / "deploy_notes.py"
    program.write_text(LEAKY)
    program.chmod(0o755)
    text = BASE_CONFIG.split("services:")[0] + ACTIONS.replace("PROGRAM", json.dumps(str(program)))
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, make_config(sink.url, base=text), http)
        async with hh.worker:
            yield hh


def deploys(sink: Sink) -> list[str]:
    with sink.lock:
        return [r["path"] for r in sink.received if r["path"].startswith("/deploy/")]


async def test_a_parameter_outside_its_rule_is_refused_recorded_and_runs_nothing(hp: Harness, sink: Sink) -> None:
    wid = await open_incident(hp)
    with pytest.raises(Refused) as outside:
        await hp.incidents.request(wid, TRIAGE, "restart_pods", "stuck pods", {"deployment": "--all"})
    assert outside.value.rule == "services.checkout.actions.restart_pods.params.deployment"
    assert outside.value.verdict == "params"
    assert "parameter 'deployment' must match ^[a-z0-9][a-z0-9-]{0,62}$ (the whole value); got '--all'" in str(
        outside.value
    )
    with pytest.raises(Refused) as undeclared:
        await hp.incidents.request(
            wid, TRIAGE, "restart_pods", "stuck pods", {"deployment": "api", "kubeconfig": "/tmp/x"}
        )
    assert undeclared.value.rule == "services.checkout.actions.restart_pods.params"
    assert "parameter 'kubeconfig' is not one this action takes (it takes: deployment)" in str(undeclared.value)
    with pytest.raises(Refused) as judged:  # a request for approval is checked before anyone is asked
        await hp.incidents.request(wid, TRIAGE, "rollback", "bad deploy", {"version": "v41; curl evil"})
    assert judged.value.rule == "services.checkout.actions.rollback.params.version"

    accepted = await hp.incidents.request(wid, TRIAGE, "restart_pods", "stuck pods", {"deployment": "api"})
    assert accepted.message.startswith("R1: restart_pods accepted")
    await until(lambda: state(hp, wid), lambda s: bool(entries(s, "action_ran")))
    assert deploys(sink) == ["/deploy/checkout/restart/api"], "only the request that fits ran"
    st = await state(hp, wid)
    assert [a.id for a in st.actions] == ["R1"] and st.approvals == []
    refused = entries(st, "refused")
    assert st.refused_total == 3 and len(refused) == 3
    assert all(e.actor == "agent:triage" for e in refused)
    assert "refused by services.checkout.actions.restart_pods.params.deployment" in refused[0].text
    assert "got '--all'" in refused[0].text
    assert [r.verdict for r in st.refusals] == ["params"] * 3


async def test_a_secret_a_command_echoes_never_reaches_the_timeline(hp: Harness, sink: Sink) -> None:
    wid = await open_incident(hp)
    await hp.incidents.request(wid, TRIAGE, "deploy_notes", "write the deploy notes")
    st = await until(lambda: state(hp, wid), lambda s: bool(entries(s, "action_failed")))
    failed = entries(st, "action_failed")[0].text
    assert "exit 2" in failed and "deploying with token [redacted]" in failed
    assert "Authorization: Bearer [redacted]" in failed
    assert DEPLOY_TOKEN not in st.model_dump_json()
    told = await until(lambda: _notices(sink), lambda n: any("deploy_notes" in t for t in n))
    assert all(DEPLOY_TOKEN not in t for t in told)


async def _notices(sink: Sink) -> list[str]:
    with sink.lock:
        return [json.dumps(r["json"]) for r in sink.received]
