"""A shadow policy decided beside the enforced one, in virtual time: disagreements recorded and counted, the
enforced decision untouched; and `baton boundaries report --shadow`'s rows from the incidents' memos."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.config import load_config
from incident.models import Actor
from incident.shadow import ShadowRow
from incident.state import IncidentPolicy
from tests.helpers.config import BASE_CONFIG, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import entries, open_incident, state
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until

BOUNDARIES = """
boundaries:
  custom_actions: [restart_pods]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity, restart_pods]
    approval: [rollback, customer_comms, resolve]
    never: [postmortem_conclusions]
  shadow:
    custom_actions: [restart_pods]
    agent:
      auto: [acknowledge, lookup_oncall, gather_context, page, note, escalate, triage_severity]
      approval: [rollback, customer_comms, resolve, postmortem_conclusions]
      never: [restart_pods]
services:
  checkout:
    escalation: two-levels
    customer_facing: true
    actions:
      restart_pods:
        webhook: {url: "SINK/deploy/{service}/restart"}
"""
TRIAGE = Actor.agent("triage")
ALICE = Actor.human("alice")


def shadow_config() -> str:
    """The test config with the boundaries above (`SINK` still to replace)."""
    return BASE_CONFIG.split("services:")[0] + BOUNDARIES + "routing: {default_service: checkout}\n"


@pytest.fixture
async def hs(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url, base=shadow_config()), http)
        async with h.worker:
            yield h


async def test_a_disagreement_is_recorded_and_counted_and_the_enforced_decision_stands(hs: Harness, sink: Sink) -> None:
    wid = await open_incident(hs)
    for n in (1, 2):
        reply = await hs.incidents.request(wid, TRIAGE, "restart_pods", f"pods wedged ({n})")
        assert reply.ok and reply.message.startswith(f"R{n}: restart_pods accepted"), "the enforced policy: alone"

    async def restarts() -> int:
        return len(sink.for_path("/deploy/checkout/restart"))

    await until(restarts, lambda n: n == 2)
    with pytest.raises(Refused) as refused:
        await hs.incidents.request(wid, TRIAGE, "postmortem_conclusions", "the cause was the deploy")
    assert refused.value.verdict == "never", "the shadow's `approval` does not turn the refusal into an approval"
    await hs.incidents.request(wid, TRIAGE, "gather_context", "look at the deploys")  # both: auto
    await hs.incidents.acknowledge(wid, ALICE)  # humans decide under both

    st = await until(lambda: state(hs, wid), lambda s: s.shadow_total == 3)
    rows = {(d.action, d.verdict, d.shadow_verdict): d.count for d in st.shadow}
    assert rows == {("restart_pods", "auto", "never"): 2, ("postmortem_conclusions", "never", "approval"): 1}
    shadow = entries(st, "shadow")
    assert len(shadow) == 2, "one entry per kind; the rest is counted"
    assert shadow[0].actor == "agent:triage"
    said = "shadow policy would have refused restart_pods at SEV2: rule boundaries.agent.never (enforced: auto)"
    assert shadow[0].text == said
    assert shadow[0].data == {
        "action": "restart_pods",
        "verdict": "auto",
        "shadow_verdict": "never",
        "rule": "boundaries.agent.never",
    }
    assert all("restart_pods" not in e.text for e in entries(st, "refused")), "the shadow refuses nothing"
    desc = await hs.client.get_workflow_handle(wid).describe()
    assert (await desc.memo())["shadow"]["total"] == 3


async def test_without_a_shadow_nothing_is_compared(ts_env: WorkflowEnvironment, sink: Sink) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url), http)
        async with h.worker:
            wid = await open_incident(h)
            with pytest.raises(Refused):
                await h.incidents.request(wid, TRIAGE, "postmortem_conclusions", "the deploy")
            st = await state(h, wid)
            assert st.shadow == [] and st.shadow_total == 0 and not entries(st, "shadow")
            assert IncidentPolicy.snapshot(h.config, "checkout").shadow is None


async def test_the_report_sums_disagreements_across_incidents_most_frequent_first(
    dev_env: WorkflowEnvironment, sink: Sink
) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(dev_env, make_config(sink.url, base=shadow_config()), http)
        async with h.worker:
            since = datetime.now(UTC)  # the dev server is shared: only this test's incidents
            ids = []
            for i, restarts in enumerate((2, 1)):
                wid = await open_incident(h, key=f"{h.task_queue}-{i}")
                ids.append((await state(h, wid)).incident_id)
                for n in range(restarts):
                    await h.incidents.request(wid, TRIAGE, "restart_pods", f"pods wedged ({n})")
                with pytest.raises(Refused):
                    await h.incidents.request(wid, TRIAGE, "postmortem_conclusions", "the deploy")

            def ours(rows: list[ShadowRow]) -> list[ShadowRow]:
                return [r for r in rows if set(r.incidents) & set(ids)]

            rows = await until(lambda: h.incidents.shadow(since), lambda rows: sum(r.count for r in ours(rows)) == 5)
            got = [(r.action, r.verdict, r.shadow_verdict, r.count, sorted(r.incidents)) for r in ours(rows)]
            assert got == [
                ("restart_pods", "auto", "never", 3, sorted(ids)),
                ("postmortem_conclusions", "never", "approval", 2, sorted(ids)),
            ]
            assert ours(rows)[0].shadow_rule == "boundaries.agent.never" and ours(rows)[0].actors == ["agent:triage"]


def test_a_shadow_policy_may_live_in_a_file_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "stricter.yaml").write_text(
        "boundaries:\n  custom_actions: [restart_pods]\n  agent:\n    auto: [note]\n    never: [restart_pods]\n"
    )
    config = BASE_CONFIG.replace("SINK", "http://127.0.0.1:9") + (
        "boundaries:\n  custom_actions: [restart_pods]\n  shadow: stricter.yaml\n"
    )
    (tmp_path / "baton.yaml").write_text(config)
    loaded = load_config(tmp_path / "baton.yaml")
    assert loaded.boundaries.shadow is not None and loaded.boundaries.shadow.agent.never == ["restart_pods"]
    snap = IncidentPolicy.snapshot(loaded, "checkout")
    assert snap.shadow == loaded.boundaries.shadow and snap.boundaries.shadow is None


def test_a_missing_shadow_file_or_a_shadow_of_a_shadow_is_a_config_problem(tmp_path: Path) -> None:
    from incident.config import ConfigError

    base = BASE_CONFIG.replace("SINK", "http://127.0.0.1:9")
    (tmp_path / "a.yaml").write_text(base + "boundaries:\n  shadow: nowhere.yaml\n")
    with pytest.raises(ConfigError, match=r"boundaries.shadow: cannot read the shadow policy"):
        load_config(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text(base + "boundaries:\n  shadow: {shadow: {}}\n")
    with pytest.raises(ConfigError, match="a shadow policy has no shadow of its own"):
        load_config(tmp_path / "b.yaml")
