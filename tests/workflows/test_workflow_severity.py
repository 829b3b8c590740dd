"""An alert's severity is a proposal: a more severe trigger joining an open incident raises it, and the boundaries
then decide at the new severity; a severity a human set stays."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from incident.models import Actor, Severity
from incident.state import IncidentPolicy
from tests.helpers.config import BASE_CONFIG, alert, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import SCOPE, entries, open_incident, state
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until

BOUNDARIES = """
boundaries:
  custom_actions: [restart_pods]
  agent:
    auto: [acknowledge, lookup_oncall, gather_context, note, restart_pods]
"""
TRIAGE = Actor.agent("triage")


@pytest.fixture
async def hs(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    """A worker whose agents may restart pods alone, below SEV1 (autonomy turns it into an approval there)."""
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, make_config(sink.url, base=BASE_CONFIG + BOUNDARIES), http)
        async with hh.worker:
            yield hh


async def test_a_more_severe_alert_raises_the_incident_and_the_boundaries_decide_at_it(hs: Harness) -> None:
    wid = await open_incident(hs)  # SEV2
    policy = IncidentPolicy.snapshot(hs.config, "checkout")
    worse = alert(hs.key, summary="checkout down in every region").model_copy(update={"severity": Severity.SEV1})
    await hs.incidents.ingest(worse, policy, SCOPE)
    st = await until(lambda: state(hs, wid), lambda s: s.alert_count == 2)
    assert st.severity is Severity.SEV1 and st.severity_label == "SEV1 (proposed)"
    [proposed] = entries(st, "severity_proposed")
    assert proposed.actor == "system:events" and proposed.data == {"severity": "SEV1"}
    assert "checkout down in every region" in proposed.text

    reply = await hs.incidents.request(wid, TRIAGE, "restart_pods", "pods are crash-looping")
    assert reply.verdict == "approval" and reply.approval_id == "A1", "restart_pods ran alone on a SEV1"


async def test_a_severity_a_human_set_stays_and_a_milder_alert_lowers_nothing(hs: Harness) -> None:
    wid = await open_incident(hs)
    await hs.incidents.set_severity(wid, Actor.human("alice"), Severity.SEV3, "one canary pod")
    policy = IncidentPolicy.snapshot(hs.config, "checkout")
    for sev in (Severity.SEV0, Severity.SEV4):
        await hs.incidents.ingest(alert(hs.key).model_copy(update={"severity": sev}), policy, SCOPE)
    st = await until(lambda: state(hs, wid), lambda s: s.alert_count == 3)
    assert st.severity is Severity.SEV3 and not entries(st, "severity_proposed")
