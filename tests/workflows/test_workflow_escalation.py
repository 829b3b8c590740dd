"""The incident workflow in virtual time: escalation timers, acknowledgement, ack timeout, repeat, exhaustion."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from gateway.client import Refused
from incident.ids import workflow_id_for
from incident.models import Actor, AlertAction, Status
from incident.state import IncidentPolicy
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink
from tests.helpers.incidents import SCOPE, entries, open_incident, outcome, paged_count, state
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until


async def test_level_two_is_paged_exactly_after_the_level_one_window(h: Harness, sink: Sink) -> None:
    wid = await open_incident(h)
    assert len(sink.for_path("/alice")) == 1
    await h.env.sleep(timedelta(minutes=4, seconds=58))
    assert await paged_count(h, wid, level=2) == 0, "level 2 was paged before `after` ran out"
    assert sink.for_path("/dave") == []
    await h.env.sleep(timedelta(seconds=3))
    await until(lambda: paged_count(h, wid, level=2))
    st = await state(h, wid)
    level2 = next(e for e in entries(st, "paged") if e.data["level"] == 2)
    assert timedelta(minutes=5) <= level2.at - st.opened_at < timedelta(minutes=5, seconds=3)
    page = sink.for_path("/dave")[0]["json"]
    assert page["level"] == 2 and page["incident_id"] == st.incident_id and page["service"] == "checkout"


async def test_human_ack_stops_escalation(h: Harness, sink: Sink) -> None:
    wid = await open_incident(h)
    result = await h.incidents.acknowledge(wid, Actor.human("alice"))
    assert result.status is Status.ACKNOWLEDGED
    await h.env.sleep(timedelta(minutes=20))
    st = await state(h, wid)
    assert st.status is Status.ACKNOWLEDGED and st.acknowledged_by == "human:alice"
    assert await paged_count(h, wid, level=2) == 0
    assert sink.for_path("/dave") == []


async def test_agent_ack_starts_coordination_but_escalation_continues(h: Harness) -> None:
    wid = await open_incident(h)
    result = await h.incidents.acknowledge(wid, Actor.agent("triage"))
    assert result.status is Status.TRIGGERED
    await h.env.sleep(timedelta(minutes=5, seconds=1))
    await until(lambda: paged_count(h, wid, level=2))
    st = await state(h, wid)
    assert [e.actor for e in entries(st, "coordination")] == ["agent:baton", "agent:triage"]


async def test_ack_timeout_returns_to_triggered_and_restarts_escalation(h: Harness) -> None:
    wid = await open_incident(h)
    await h.incidents.acknowledge(wid, Actor.human("alice"))
    await h.env.sleep(timedelta(minutes=29))
    assert (await state(h, wid)).status is Status.ACKNOWLEDGED
    await h.env.sleep(timedelta(minutes=1, seconds=1))
    await until(lambda: paged_count(h, wid, level=1), lambda n: n == 2)
    st = await state(h, wid)
    assert st.status is Status.TRIGGERED and st.acknowledged_by is None
    timeout = entries(st, "ack_timeout")[0]
    assert timedelta(minutes=30) <= timeout.at - entries(st, "acknowledged")[0].at < timedelta(minutes=30, seconds=3)


async def test_levels_repeat_then_escalation_is_exhausted(h: Harness, sink: Sink) -> None:
    wid = await open_incident(h)
    # pass 1: alice at 0, dave at 5m; pass 2 (repeat: 1): alice at 15m, dave at 20m; exhausted at 30m.
    await h.env.sleep(timedelta(minutes=29))
    await until(lambda: paged_count(h, wid, level=2), lambda n: n == 2)
    st = await state(h, wid)
    assert not entries(st, "escalation_exhausted")
    offsets = [e.at - st.opened_at for e in entries(st, "paged")]
    expected = [timedelta(0), timedelta(minutes=5), timedelta(minutes=15), timedelta(minutes=20)]
    assert all(e <= o < e + timedelta(seconds=3) for o, e in zip(offsets, expected, strict=True)), offsets
    steps = [(e.data["level"], e.data["pass"], e.data["people"]) for e in entries(st, "escalation")]
    assert steps == [(1, 1, ["alice"]), (2, 1, ["dave"]), (1, 2, ["alice"]), (2, 2, ["dave"])]
    assert {e.data["levels"] for e in entries(st, "escalation")} == {2}
    await h.env.sleep(timedelta(minutes=1, seconds=1))
    await until(lambda: _exhausted(h, wid))
    exhausted = entries(await state(h, wid), "escalation_exhausted")[0]
    assert exhausted.data == {"levels": 2, "passes": 2}
    assert len(sink.for_path("/alice")) == 2 and len(sink.for_path("/dave")) == 2
    await h.env.sleep(timedelta(hours=2))
    assert len(sink.for_path("/alice")) == 2, "pages went on after escalation was exhausted"


async def _exhausted(h: Harness, wid: str) -> bool:
    return bool(entries(await state(h, wid), "escalation_exhausted"))


async def test_level_that_resolves_to_nobody_is_skipped_at_once(ts_env: WorkflowEnvironment, sink: Sink) -> None:
    # Level 1 names alice, whom the worker's config no longer has (it changed since the incident began).
    config = make_config(sink.url)
    config.people.pop("alice")
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, config, http)
        async with h.worker:
            policy = IncidentPolicy.snapshot(config, "checkout")
            await h.incidents.ingest(alert(h.task_queue), policy, SCOPE)
            wid = workflow_id_for(SCOPE, h.task_queue)
            await until(lambda: paged_count(h, wid, level=2))
            st = await state(h, wid)
            skipped = entries(st, "escalation_skipped")[0]
            assert "level 1" in skipped.text and skipped.data == {"level": 1}
            assert "alice" in entries(st, "page_problem")[0].text
            dave = entries(st, "paged")[0]
            assert dave.data["person"] == "dave" and dave.at - st.opened_at < timedelta(seconds=3)
            assert len(sink.for_path("/dave")) == 1


async def test_human_resolve_completes_the_workflow_with_a_summary(h: Harness) -> None:
    wid = await open_incident(h)
    await h.incidents.note(wid, Actor.human("bob"), "rolled back v2.41")
    await h.incidents.resolve(wid, Actor.human("alice"), "rollback fixed it")
    ended = await outcome(h, wid)
    assert ended.status is Status.RESOLVED and ended.resolved_by == "human:alice"
    assert ended.summary == "rollback fixed it" and ended.alert_count == 1


async def test_malformed_requests_are_rejected_and_write_nothing(h: Harness) -> None:
    wid = await open_incident(h)
    before = len((await state(h, wid)).timeline)
    with pytest.raises(Refused, match="needs text"):
        await h.incidents.note(wid, Actor.human("bob"), "   ")
    await h.incidents.resolve(wid, Actor.human("alice"), "done")
    with pytest.raises(Refused, match="already resolved"):
        await h.incidents.acknowledge(wid, Actor.human("alice"))
    st = await state(h, wid)
    assert len(st.timeline) == before + 1  # only the resolve


async def test_source_recovery_pauses_escalation_until_it_fires_again(h: Harness) -> None:
    wid = await open_incident(h)
    policy = IncidentPolicy.snapshot(h.config, "checkout")
    await h.incidents.ingest(alert(h.key, action=AlertAction.RESOLVE), policy, SCOPE)
    await until(lambda: _has(h, wid, "recovered"))
    await h.env.sleep(timedelta(minutes=10))
    assert await paged_count(h, wid, level=2) == 0
    await h.incidents.ingest(alert(h.key), policy, SCOPE)
    await until(lambda: paged_count(h, wid, level=2))
    st = await state(h, wid)
    assert st.status is Status.TRIGGERED and entries(st, "alert_refired")


async def _has(h: Harness, wid: str, kind: str) -> bool:
    return bool(entries(await state(h, wid), kind))


@pytest.mark.parametrize("on_recovery", ["resolve", "ignore"])
async def test_on_recovery_resolve_or_ignore(
    ts_env: WorkflowEnvironment, sink: Sink, on_recovery: Literal["resolve", "ignore"]
) -> None:
    config = make_config(sink.url)
    config.services["checkout"].on_recovery = on_recovery
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, config, http)
        async with h.worker:
            wid = await open_incident(h)
            policy = IncidentPolicy.snapshot(config, "checkout")
            await h.incidents.ingest(alert(h.key, action=AlertAction.RESOLVE), policy, SCOPE)
            if on_recovery == "resolve":
                ended = await outcome(h, wid)
                assert ended.status is Status.RESOLVED and ended.resolved_by == "system:events"
                assert "on_recovery: resolve" in ended.summary
            else:
                await until(lambda: _has(h, wid, "recovered"))
                await h.env.sleep(timedelta(minutes=5, seconds=1))
                await until(lambda: paged_count(h, wid, level=2))


async def test_a_repeated_delivery_is_counted_once(h: Harness) -> None:
    wid = await open_incident(h)
    policy = IncidentPolicy.snapshot(h.config, "checkout")
    again = alert(h.key, summary="retry me").model_copy(update={"event_id": "delivery-1"})
    for _ in range(3):
        await h.incidents.ingest(again, policy, SCOPE)
    st = await until(lambda: state(h, wid), lambda s: s.alert_count + s.duplicates == 4)
    assert st.alert_count == 2 and st.duplicates == 2


async def test_severity_agent_proposes_human_decides(h: Harness) -> None:
    from incident.models import Severity

    wid = await open_incident(h)  # SEV2 from routing, on the customer-facing checkout service
    st = await state(h, wid)
    assert st.severity_label == "SEV2 (proposed)"
    with pytest.raises(Refused, match="needs a reason"):
        await h.incidents.set_severity(wid, Actor.agent("triage"), Severity.SEV1)
    result = await h.incidents.set_severity(wid, Actor.agent("triage"), Severity.SEV1, "EU checkout fully down")
    assert result.message == "in force: SEV1 (proposed)"
    less = await h.incidents.set_severity(wid, Actor.agent("triage"), Severity.SEV3, "recovering")
    assert less.message == "in force: SEV1 (proposed)", "a proposal never lowers what is in force"
    await h.incidents.set_severity(wid, Actor.human("alice"), Severity.SEV2, "only card payments")
    st = await state(h, wid)
    assert st.severity is Severity.SEV2 and st.severity_label == "SEV2" and st.severity_confirmed_by == "human:alice"
    after = await h.incidents.set_severity(wid, Actor.agent("triage"), Severity.SEV0, "spreading")
    assert "a human set the severity" in after.message
    assert (await state(h, wid)).severity is Severity.SEV2
    desc = await h.client.get_workflow_handle(wid).describe()
    from workflows import search_attributes as sa

    assert desc.typed_search_attributes.get(sa.INCIDENT_SEVERITY) == "SEV2"
