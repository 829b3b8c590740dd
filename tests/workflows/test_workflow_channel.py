"""The incident's channel in virtual time, against a Slack Web API double: made on open, people invited as they
are paged, the topic kept, the timeline mirrored (not a storm's every alert), the close and the archive, and a
Slack that is down or hangs delaying no page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from incident.config import Config
from incident.ids import workflow_id_for
from incident.models import Actor, Alert
from incident.state import IncidentInput, IncidentPolicy, IncidentState
from tests.helpers.config import alert, make_config
from tests.helpers.http import Sink, recording_sink
from tests.helpers.incidents import SCOPE, entries, paged_count, state
from tests.helpers.slack_web import BOT_TOKEN, Slack, slack_web
from tests.helpers.temporal import Harness, harness
from tests.helpers.wait import until
from workflows import search_attributes as sa
from workflows.channel_close import ChannelClosed, close_id
from workflows.incident import IncidentWorkflow

BASE = """
people:
  alice: {name: Alice, slack: U0ALICE, webhook: "SINK/alice", notify: [webhook]}
  dave:  {name: Dave, slack: U0DAVE, webhook: "SINK/dave", notify: [webhook]}
escalation_policies:
  two-levels:
    levels:
      - {notify: [user:alice], after: 5m}
      - {notify: [user:dave], after: 10m}
services:
  checkout: {escalation: two-levels, runbook: "https://runbooks.example/checkout"}
routing: {default_service: checkout}
coordination:
  slack:
    channel: {name: "inc-{id}-{service}", announce: "#incidents", archive_after: 7d}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
"""
FAST = BASE.replace("after: 5m", "after: 3s")


def config(sink: Sink, slack: Slack) -> Config:
    extra = f"  slack: {{bot_token: {BOT_TOKEN}, api_url: '{slack.api}'}}\n"
    return make_config(sink.url, extra, base=BASE)


@pytest.fixture
def slack() -> Iterator[Slack]:
    with slack_web() as s:
        s.add_channel("incidents")
        yield s


@pytest.fixture
async def hc(ts_env: WorkflowEnvironment, sink: Sink, slack: Slack) -> AsyncIterator[Harness]:
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, config(sink, slack), http)
        async with hh.worker:
            yield hh


async def start(h: Harness, batch: list[Alert] | None = None) -> str:
    key = f"{h.task_queue}-checkout-5xx"
    await h.incidents.ingest(alert(key), IncidentPolicy.snapshot(h.config, "checkout"), SCOPE)
    return workflow_id_for(SCOPE, key)


async def channel_of(h: Harness, wid: str, pred: Any = lambda ch: ch.channel_id) -> IncidentState:
    st: IncidentState = await until(lambda: state(h, wid), lambda s: s.channel is not None and pred(s.channel))
    return st


async def test_a_channel_is_made_on_open_and_people_are_invited_as_they_are_paged(
    hc: Harness, slack: Slack, sink: Sink
) -> None:
    wid = await start(hc)
    st = await channel_of(hc, wid, lambda ch: ch.channel_id and ch.bookmarked and "alice" in ch.invited)
    ch = st.channel
    assert ch is not None and ch.created and ch.name == f"inc-{st.incident_id.removeprefix('INC-').lower()}-checkout"
    assert len(slack.of("conversations.create")) == 1 and slack.by_name(ch.name)[0]["id"] == ch.channel_id
    assert "U0ALICE" in slack.members[ch.channel_id or ""]
    channel = slack.channels[ch.channel_id or ""]
    assert channel["topic"]["value"].startswith(f"{st.incident_id} · SEV2 · triggered · lead: nobody yet")
    [summary] = [m for m in slack.posted(ch.channel_id) if m.get("blocks")]
    assert any(b["type"] == "actions" for b in summary["blocks"])
    [announcement] = slack.posted(slack.by_name("incidents")[0]["id"])
    assert f"<#{ch.channel_id}>" in announcement["text"] and st.incident_id in announcement["text"]
    assert [m["link"] for m in slack.bookmarks[ch.channel_id or ""]][1] == "https://runbooks.example/checkout"
    opened = entries(st, "channel")[0]
    assert opened.text == f"channel #{ch.name} created" and opened.data["channel_id"] == ch.channel_id
    await until(lambda: _attribute(hc, wid), lambda v: v == ch.channel_id)

    await hc.env.sleep(timedelta(minutes=5, seconds=2))
    st = await channel_of(hc, wid, lambda ch: "dave" in ch.invited)
    assert "U0DAVE" in slack.members[ch.channel_id or ""]
    await hc.incidents.acknowledge(wid, Actor.human("alice"))
    await until(lambda: _topic(slack, ch.channel_id or ""), lambda t: " · acknowledged · " in t)
    assert len(slack.of("conversations.create")) == 1

    history = await hc.client.get_workflow_handle(wid).fetch_history()
    await Replayer(workflows=[IncidentWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)


async def _attribute(h: Harness, wid: str) -> str | None:
    return (await h.client.get_workflow_handle(wid).describe()).typed_search_attributes.get(sa.INCIDENT_CHANNEL)


async def _topic(slack: Slack, cid: str) -> str:
    return str(slack.channels[cid]["topic"]["value"])


async def test_what_matters_is_mirrored_in_a_few_messages_and_a_storms_alerts_are_not(
    hc: Harness, slack: Slack
) -> None:
    wid = await start(hc)
    st = await channel_of(hc, wid, lambda ch: ch.bookmarked)
    cid = st.channel.channel_id if st.channel else ""
    key = f"{hc.task_queue}-checkout-5xx"
    policy = IncidentPolicy.snapshot(hc.config, "checkout")
    for i in range(60):  # an alert storm
        await hc.incidents.ingest(alert(key, summary=f"storm alert number {i}"), policy, SCOPE)
    await hc.incidents.note(wid, Actor.human("alice"), "rolling back v2.41 <!channel>")
    await hc.incidents.acknowledge(wid, Actor.human("alice"))
    text = await until(lambda: _said(slack, cid or ""), lambda t: "acknowledged by human:alice" in t)
    assert "rolling back v2.41 &lt;!channel&gt;" in text, "a note is mirrored, escaped"
    assert "paged alice" in text
    assert "storm alert number" not in text
    mirrored = [m for m in slack.posted(cid) if not m.get("blocks")]
    assert len(mirrored) <= 4, f"{len(mirrored)} messages for a storm"
    st = await state(hc, wid)
    assert st.channel and st.channel.mirrored == st.timeline_left + len(st.timeline)


async def _said(slack: Slack, cid: str) -> str:
    return "\n".join(str(m.get("text") or "") for m in slack.posted(cid))


async def test_the_resolve_is_told_and_the_channel_archived_after_archive_after(hc: Harness, slack: Slack) -> None:
    wid = await start(hc)
    st = await channel_of(hc, wid, lambda ch: ch.bookmarked)
    cid = (st.channel.channel_id if st.channel else "") or ""
    await hc.incidents.resolve(wid, Actor.human("alice"), "rolled back v2.41")
    await hc.client.get_workflow_handle(wid).result()
    child = hc.client.get_workflow_handle(close_id(wid, st.incident_id), result_type=ChannelClosed)
    text = await until(lambda: _said(slack, cid), lambda t: "baton postmortem" in t)
    assert f"`baton postmortem {st.incident_id}`" in text and "*Resolved* by alice" in text
    assert "rolled back v2.41" in text
    incidents = slack.by_name("incidents")[0]["id"]
    reply = await until(lambda: _replies(slack, incidents), bool)
    assert reply[0]["thread_ts"] == slack.posted(incidents)[0]["ts"] and f"<#{cid}>" in reply[0]["text"]
    st = await state(hc, wid)
    closing = entries(st, "channel")[-1]
    assert "archived in 7d (at " in closing.text and st.channel and st.channel.archive_at
    assert st.channel.archive_at - (st.resolved_at or st.opened_at) == timedelta(days=7)

    await hc.env.sleep(timedelta(days=6, hours=23))
    assert not slack.channels[cid]["is_archived"], "archived before archive_after"
    await hc.env.sleep(timedelta(hours=1, seconds=5))
    closed = await until(lambda: _closed(child), lambda c: c is not None)
    assert closed.told and closed.archived and slack.channels[cid]["is_archived"] and not closed.problems
    [archive] = slack.of("conversations.archive")
    assert archive.body == {"channel": cid}


async def _closed(child: Any) -> ChannelClosed | None:
    desc = await child.describe()
    if desc.status is None or desc.status.name == "RUNNING":
        return None
    result: ChannelClosed = await child.result()
    return result


async def _replies(slack: Slack, cid: str) -> list[dict[str, Any]]:
    return [m for m in slack.posted(cid) if m.get("thread_ts")]


async def test_a_slack_that_is_down_delays_no_page_and_the_channel_follows_once_it_is_back(
    hc: Harness, slack: Slack, sink: Sink
) -> None:
    slack.down = True
    wid = await start(hc)
    await until(lambda: paged_count(hc, wid, level=1))
    st = await state(hc, wid)
    assert entries(st, "paged")[0].at - st.opened_at < timedelta(seconds=3)
    await hc.env.sleep(timedelta(minutes=5, seconds=2))
    await until(lambda: paged_count(hc, wid, level=2))
    st = await state(hc, wid)
    level2 = next(e for e in entries(st, "paged") if e.data["level"] == 2)
    assert timedelta(minutes=5) <= level2.at - st.opened_at < timedelta(minutes=5, seconds=3)
    problems = entries(st, "channel_problem")
    assert len(problems) == 1, "a streak of failures is recorded once"
    assert "could not open the channel" in problems[0].text and "trying again" in problems[0].text
    assert st.channel and st.channel.channel_id is None

    slack.down = False
    await hc.env.sleep(timedelta(minutes=31))
    st = await channel_of(hc, wid, lambda ch: {"alice", "dave"} <= set(ch.invited))
    assert len(slack.channels) == 2, "one channel besides #incidents"


async def test_a_slack_that_hangs_delays_no_page(dev_env: WorkflowEnvironment, slack: Slack) -> None:
    """In real time (the time-skipping server does not skip while an activity runs): every Slack call hangs past
    the 10 s HTTP timeout, and the level-2 page still goes out 3 s after the level-1 page."""
    slack.hang = True
    with recording_sink() as sink:
        cfg = make_config(sink.url, f"  slack: {{bot_token: {BOT_TOKEN}, api_url: '{slack.api}'}}\n", base=FAST)
        async with httpx.AsyncClient() as http:
            h = await harness(dev_env, cfg, http)
            async with h.worker:
                wid = await start(h)
                await until(lambda: paged_count(h, wid, level=2), timeout=10)
                st = await state(h, wid)
                offsets = [e.at - st.opened_at for e in entries(st, "paged")]
                assert offsets[0] < timedelta(seconds=2), f"level 1 went out {offsets[0]} after the open"
                assert offsets[1] - timedelta(seconds=3) < timedelta(seconds=2), f"level 2 at {offsets[1]}"
                assert slack.of("conversations.create"), "the channel was not even tried"
                assert st.channel and st.channel.channel_id is None
                slack.release.set()
                await h.client.get_workflow_handle(wid).terminate()


async def test_a_rate_limited_create_waits_for_retry_after_and_makes_one_channel(hc: Harness, slack: Slack) -> None:
    slack.fail["conversations.create"] = [(429, {"Retry-After": "45"}, {"ok": False, "error": "ratelimited"})]
    wid = await start(hc)
    await hc.env.sleep(timedelta(seconds=50))
    st = await channel_of(hc, wid)
    assert len(slack.of("conversations.create")) == 2 and len(slack.by_name(st.channel.name or "")) == 1  # type: ignore[union-attr]
    history = await hc.client.get_workflow_handle(wid).fetch_history()
    scheduled = {
        e.event_id: e.event_time.ToDatetime()
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and e.activity_task_scheduled_event_attributes.activity_type.name == "channel_open"
    }
    [started] = [
        e
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        and e.activity_task_started_event_attributes.scheduled_event_id in scheduled
    ]
    assert started.activity_task_started_event_attributes.attempt == 2
    attrs = started.activity_task_started_event_attributes
    waited = started.event_time.ToDatetime() - scheduled[attrs.scheduled_event_id]
    assert waited >= timedelta(seconds=45), f"retried {waited} after a 429 asking for 45 s"


async def test_without_integrations_slack_there_is_no_channel_and_paging_goes_on(
    ts_env: WorkflowEnvironment, sink: Sink
) -> None:
    async with httpx.AsyncClient() as http:
        h = await harness(ts_env, make_config(sink.url, base=BASE), http)
        async with h.worker:
            wid = await start(h)
            st = await channel_of(h, wid, lambda ch: ch.off)
            assert st.channel and st.channel.off == "integrations.slack is not configured on the worker"
            [problem] = entries(st, "channel_problem")
            assert problem.text == "no incident channel: integrations.slack is not configured on the worker"
            await h.env.sleep(timedelta(minutes=5, seconds=2))
            await until(lambda: paged_count(h, wid, level=2))
            assert len(entries(await state(h, wid), "channel_problem")) == 1


async def test_channel_work_left_when_a_run_continues_as_new_is_done_by_the_next(hc: Harness, slack: Slack) -> None:
    key = f"{hc.task_queue}-carry"
    wid = workflow_id_for(SCOPE, key)
    handle = await hc.client.start_workflow(
        IncidentWorkflow.run,
        IncidentInput(
            policy=IncidentPolicy.snapshot(hc.config, "checkout"), incident_id="INC-7K2Q9M", history_limit=100
        ),
        id=wid,
        task_queue=hc.task_queue,
        start_signal="alert",
        start_signal_args=[alert(key)],
    )
    st = await channel_of(hc, wid, lambda ch: ch.bookmarked)
    cid = (st.channel.channel_id if st.channel else "") or ""
    first_run = (await handle.describe()).run_id
    slack.down = True  # notes pile up unmirrored while the run reaches its history limit
    for i in range(30):
        await hc.incidents.note(wid, Actor.human("alice"), f"finding {i}")
    await hc.env.sleep(timedelta(minutes=3))  # a post being tried holds the run back at most two minutes
    st = await until(lambda: _settled(hc, wid), lambda s: s is not None and s.runs >= 2, timeout=30)
    assert (await handle.describe()).run_id != first_run
    slack.down = False
    await hc.env.sleep(timedelta(minutes=31))
    text = await until(lambda: _said(slack, cid), lambda t: "finding 29" in t, timeout=30)
    said = [line.rsplit("* ", 1)[-1] for line in text.splitlines()]
    assert [f for f in said if f.startswith("finding")] == [f"finding {i}" for i in range(30)], "each once, in order"
    assert len(slack.channels) == 2 and len(slack.of("conversations.create")) == 1, "the next run made no channel"


async def _settled(h: Harness, wid: str) -> IncidentState | None:
    try:
        return await state(h, wid)
    except Exception:
        return None


async def test_a_channel_slack_refuses_to_create_is_recorded_once_and_not_tried_again(
    hc: Harness, slack: Slack
) -> None:
    slack.fail["conversations.create"] = [(200, {}, {"ok": False, "error": "missing_scope"})] * 5
    wid = await start(hc)
    st = await channel_of(hc, wid, lambda ch: ch.off)
    [problem] = entries(st, "channel_problem")
    assert "could not open the channel" in problem.text and "missing_scope" in problem.text
    assert problem.text.endswith("not tried again")
    await hc.env.sleep(timedelta(minutes=5, seconds=2))
    await until(lambda: paged_count(hc, wid, level=2))
    assert len(slack.of("conversations.create")) == 1 and len(entries(await state(hc, wid), "channel_problem")) == 1
