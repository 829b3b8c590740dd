"""The channel activities against a Slack Web API double on loopback that checks every call's method, token and
body: one channel per incident however often a step runs, people invited, the topic, bookmarks, messages in
threads, the archive, and Slack's rate limits."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.channel import ChannelActivities, channel_name, marker, suffixed
from incident.config import Config
from incident.context import MetricSummary, PageContext
from incident.coordination import ChannelSettings
from incident.links import Link
from incident.models import Page, Severity, Status
from tests.helpers.config import make_config
from tests.helpers.slack_web import BOT_TOKEN, BOT_USER, Slack, slack_web
from workflows.messages import (
    SLACK_FAILED,
    SLACK_RATE_LIMITED,
    SLACK_REFUSED,
    ChannelArchiveRequest,
    ChannelBookmarksRequest,
    ChannelInviteRequest,
    ChannelOpenRequest,
    ChannelPostRequest,
    ChannelTopicRequest,
)

INCIDENT = "INC-7K2Q9M"
PEOPLE = """
people:
  alice: {name: Alice, slack: U0ALICE, webhook: "SINK/alice", notify: [webhook]}
  bob:   {name: Bob, webhook: "SINK/bob", notify: [webhook]}
  dave:  {name: Dave, slack: U0DAVE, webhook: "SINK/dave", notify: [webhook]}
escalation_policies:
  one: {levels: [{notify: [user:alice], after: 5m}]}
services:
  checkout: {escalation: one, runbook: "https://runbooks.example/checkout"}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
"""


def config(slack: Slack | None) -> Config:
    extra = f"  slack: {{bot_token: {BOT_TOKEN}, api_url: '{slack.api}'}}\n" if slack else ""
    return make_config(extra=extra, base=PEOPLE)


def opening(**settings: Any) -> ChannelOpenRequest:
    return ChannelOpenRequest(
        incident_id=INCIDENT,
        service="checkout",
        severity=Severity.SEV1,
        title="checkout 5xx above 5%",
        settings=ChannelSettings.model_validate(settings),
    )


def page() -> Page:
    return Page(
        incident_id=INCIDENT,
        workflow_id="incident:events:checkout-5xx",
        title="checkout 5xx above 5%",
        service="checkout",
        severity=Severity.SEV1,
        status=Status.TRIGGERED,
        level=0,
        levels=2,
        cycle=0,
        alert_count=3,
        opened_at=datetime(2026, 3, 2, 14, 5, tzinfo=UTC),
        runbook="https://runbooks.example/checkout",
        links=[Link(href="https://grafana.example/d/checkout", text="Checkout dashboard")],
        context=PageContext(
            metrics=[MetricSummary(name="5xx rate", query="q", current=7.2, link="https://prom.example/graph?g0")]
        ),
    )


@pytest.fixture
def slack() -> Iterator[Slack]:
    with slack_web() as s:
        yield s


@pytest.fixture
async def acts(slack: Slack) -> AsyncIterator[ChannelActivities]:
    async with httpx.AsyncClient() as http:
        yield ChannelActivities(config(slack), http, ui_url="http://temporal-ui.example")


def env(heartbeats: list[Any] | None = None, details: list[Any] | None = None) -> ActivityEnvironment:
    e = ActivityEnvironment()
    e.info = dataclasses.replace(
        e.info, workflow_id="incident:events:checkout-5xx", workflow_run_id="run-1", heartbeat_details=details or []
    )
    if heartbeats is not None:
        e.on_heartbeat = lambda *d: heartbeats.extend(d)
    return e


def test_names_follow_slacks_rules() -> None:
    assert channel_name("inc-{id}-{service}", INCIDENT, "checkout", "SEV1", "x") == "inc-7k2q9m-checkout"
    assert channel_name("INC {id} {service}!", INCIDENT, "Payments API", "SEV1", "x") == "inc-7k2q9m-payments-api"
    long = channel_name("inc-{id}-{title}", INCIDENT, "checkout", "SEV1", "very long title " * 10)
    assert len(long) <= 80 and long.startswith("inc-7k2q9m-very-long-title") and not long.endswith("-")
    assert len(suffixed(long, 12)) <= 80 and suffixed(long, 12).endswith("-12")


async def test_a_channel_is_created_from_the_template_and_marked_as_the_incidents(
    slack: Slack, acts: ChannelActivities
) -> None:
    opened = await env().run(acts.open, opening(name="inc-{id}-{service}"))
    assert opened.created and not opened.found and opened.name == "inc-7k2q9m-checkout"
    [create] = slack.of("conversations.create")
    assert create.body == {"name": "inc-7k2q9m-checkout", "is_private": False}
    assert create.headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    assert create.headers["Content-Type"].startswith("application/json")
    channel = slack.channels[opened.channel_id or ""]
    assert marker(INCIDENT) in channel["purpose"]["value"]


async def test_a_retried_open_reuses_the_channel_its_first_attempt_created(
    slack: Slack, acts: ChannelActivities
) -> None:
    slack.fail["conversations.setPurpose"] = [(500, {}, {"ok": False})]
    beats: list[Any] = []
    with pytest.raises(ApplicationError) as err:
        await env(beats).run(acts.open, opening())
    assert err.value.type == SLACK_FAILED and not err.value.non_retryable
    assert beats and beats[0]["channel_id"], "the created channel was not kept in the heartbeat"
    again = await env(details=beats).run(acts.open, opening())
    assert again.channel_id == beats[0]["channel_id"] and again.found
    assert len(slack.of("conversations.create")) == 1, "a retry created a second channel"
    assert marker(INCIDENT) in slack.channels[again.channel_id or ""]["purpose"]["value"]


async def test_a_retry_whose_heartbeat_was_lost_finds_the_channel_baton_created(
    slack: Slack, acts: ChannelActivities
) -> None:
    # The first attempt created the channel and died before it marked it or heartbeat reached Temporal.
    cid = slack.add_channel("inc-7k2q9m-checkout", creator=BOT_USER)
    opened = await env().run(acts.open, opening())
    assert opened.channel_id == cid and opened.found and opened.created
    assert len(slack.by_name("inc-7k2q9m-checkout")) == 1 and len(slack.channels) == 1
    assert slack.of("auth.test"), "whose channel it is was not asked"


async def test_a_name_another_channel_has_gets_a_suffix(slack: Slack, acts: ChannelActivities) -> None:
    for i in range(250):  # the taken name is on the second page of conversations.list
        slack.add_channel(f"general-{i}")
    slack.add_channel("inc-7k2q9m-checkout", purpose="baton incident INC-AAAAAA (checkout)", creator=BOT_USER)
    slack.add_channel("inc-7k2q9m-checkout-2", purpose="someone's own")
    opened = await env().run(acts.open, opening())
    assert opened.name == "inc-7k2q9m-checkout-3" and opened.created and not opened.found
    assert [c.body["name"] for c in slack.of("conversations.create")] == [
        "inc-7k2q9m-checkout",
        "inc-7k2q9m-checkout-2",
        "inc-7k2q9m-checkout-3",
    ]
    assert len(slack.of("conversations.list")) >= 2, "the channel list was not paged through"
    again = await env().run(acts.open, opening())  # a retry that lost everything: the marked -3 is ours
    assert again.channel_id == opened.channel_id and len(slack.of("conversations.create")) == 6


async def test_a_static_channel_is_found_and_nothing_is_created(slack: Slack, acts: ChannelActivities) -> None:
    cid = slack.add_channel("checkout-ops")
    opened = await env().run(acts.open, opening(create=False, static="#checkout-ops"))
    assert opened.channel_id == cid and not opened.created
    assert not slack.of("conversations.create") and not slack.of("conversations.setPurpose")
    missing = await env().run(acts.open, opening(create=False, static="#nowhere"))
    assert missing.channel_id is None and missing.problem and "#nowhere" in missing.problem


async def test_without_integrations_slack_there_is_no_channel(slack: Slack) -> None:
    async with httpx.AsyncClient() as http:
        acts = ChannelActivities(config(None), http)
        opened = await env().run(acts.open, opening())
        assert opened.channel_id is None and opened.problem == "integrations.slack is not configured on the worker"
        with pytest.raises(ApplicationError) as err:
            await env().run(acts.topic, ChannelTopicRequest(channel_id="C1", topic="x"))
        assert err.value.non_retryable and err.value.type == SLACK_REFUSED
    assert slack.calls == []


async def test_people_are_invited_by_member_id_and_already_in_is_fine(slack: Slack, acts: ChannelActivities) -> None:
    cid = slack.add_channel("inc-7k2q9m-checkout", creator=BOT_USER)
    slack.members[cid].add("U0DAVE")
    got = await env().run(acts.invite, ChannelInviteRequest(channel_id=cid, people=["alice", "bob", "dave"]))
    assert got.invited == ["alice", "dave"]
    assert got.problems == ["bob has no `slack:` member id in the config"]
    assert [c.body for c in slack.of("conversations.invite")] == [
        {"channel": cid, "users": "U0ALICE"},
        {"channel": cid, "users": "U0DAVE"},
    ]
    assert {"U0ALICE", "U0DAVE"} <= slack.members[cid]


async def test_topic_bookmarks_and_archive(slack: Slack, acts: ChannelActivities) -> None:
    cid = slack.add_channel("inc-7k2q9m-checkout", creator=BOT_USER)
    await env().run(acts.topic, ChannelTopicRequest(channel_id=cid, topic="INC-7K2Q9M · SEV1 · triggered"))
    assert slack.channels[cid]["topic"]["value"] == "INC-7K2Q9M · SEV1 · triggered"

    added = await env().run(acts.bookmarks, ChannelBookmarksRequest(channel_id=cid, page=page()))
    marks = slack.bookmarks[cid]
    assert added == len(marks) == 4
    assert [m["link"] for m in marks] == [
        "http://temporal-ui.example/namespaces/default/workflows/incident%3Aevents%3Acheckout-5xx/run-1",
        "https://runbooks.example/checkout",
        "https://grafana.example/d/checkout",
        "https://prom.example/graph?g0",
    ]
    assert all(c.body["type"] == "link" and c.body["channel_id"] == cid for c in slack.of("bookmarks.add"))
    assert await env().run(acts.bookmarks, ChannelBookmarksRequest(channel_id=cid, page=page())) == 0
    assert len(slack.bookmarks[cid]) == 4, "a repeat bookmarked the links again"

    await env().run(acts.archive, ChannelArchiveRequest(channel_id=cid))
    await env().run(acts.archive, ChannelArchiveRequest(channel_id=cid))  # a retry after a lost answer
    assert slack.channels[cid]["is_archived"] and len(slack.of("conversations.archive")) == 2


async def test_the_summary_carries_the_pages_buttons_and_replies_go_in_its_thread(
    slack: Slack, acts: ChannelActivities
) -> None:
    cid = slack.add_channel("inc-7k2q9m-checkout", creator=BOT_USER)
    first = await env().run(acts.post, ChannelPostRequest(channel=cid, text="", summary=page()))
    [sent] = slack.posted(cid)
    assert sent["ts"] == first.ts and sent["text"].startswith("[SEV1]")
    buttons = next(b for b in sent["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == ["baton_ack", "baton_resolve", "baton_open"]
    assert json.loads(buttons[0]["value"]) == {"incident_id": INCIDENT, "workflow_id": "incident:events:checkout-5xx"}
    facts = next(b for b in sent["blocks"] if "fields" in b)["fields"]
    assert [f["text"].split("\n")[0] for f in facts] == ["*Service*", "*Severity*", "*Status*", "*Opened*"]

    req = ChannelPostRequest(channel=cid, text="resolved", thread_ts=first.ts, broadcast=True)
    await env().run(acts.post, req)
    reply = slack.posted(cid)[1]
    assert reply["thread_ts"] == first.ts and reply["reply_broadcast"] is True and reply["text"] == "resolved"
    assert reply["unfurl_links"] is False


async def test_a_rate_limit_waits_as_long_as_slack_asks(slack: Slack, acts: ChannelActivities) -> None:
    cid = slack.add_channel("inc-7k2q9m-checkout", creator=BOT_USER)
    slack.fail["conversations.setTopic"] = [(429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"})]
    with pytest.raises(ApplicationError) as err:
        await env().run(acts.topic, ChannelTopicRequest(channel_id=cid, topic="t"))
    assert err.value.type == SLACK_RATE_LIMITED and err.value.next_retry_delay == timedelta(seconds=30)
    assert not err.value.non_retryable


async def test_a_refusal_is_not_retried(slack: Slack, acts: ChannelActivities) -> None:
    slack.fail["conversations.setTopic"] = [(200, {}, {"ok": False, "error": "missing_scope"})]
    with pytest.raises(ApplicationError) as err:
        await env().run(acts.topic, ChannelTopicRequest(channel_id="C1", topic="t"))
    assert err.value.non_retryable and err.value.type == SLACK_REFUSED and "missing_scope" in str(err.value)
