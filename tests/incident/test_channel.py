"""The channel's pure choices: the topic, who to invite, which timeline entries are mirrored (across a carry), how a
mirrored line reads, and how `baton show` and `get_incident` show the channel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.mcp.answers import channel_json
from gateway.render import channel_line
from incident import lifecycle
from incident.channel import POST_LIMIT, ChannelState, line, lines, to_invite, topic, unmirrored
from incident.judge import Seen, check
from incident.models import Actor, Alert, AlertAction, Severity
from incident.scenario import parse_scenario
from incident.state import CARRY, IncidentPolicy, IncidentState
from incident.timeline import Kind, entry
from tests.helpers.config import BASE_CONFIG, make_config
from workflows.channel_close import ChannelClose
from workflows.messages import ChannelPostRequest

T0 = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


def opened() -> IncidentState:
    policy = IncidentPolicy.snapshot(make_config(), "checkout")
    alert = Alert(
        source="events",
        dedup_key="k",
        action=AlertAction.TRIGGER,
        summary="checkout 5xx above 5%",
        service="checkout",
        severity=Severity.SEV1,
        received_at=T0,
    )
    st, _ = lifecycle.open_incident(alert, "INC-7K2Q9M", "incident:test:k", policy, T0)
    st.channel = ChannelState(channel_id="C0123ABCD", name="inc-7k2q9m-checkout", created=True)
    return st


def add(st: IncidentState, kind: Kind, text: str, minutes: float, actor: Actor | None = None) -> None:
    st.timeline.append(entry(T0 + timedelta(minutes=minutes), actor or Actor.system(), kind, text))


def test_the_topic_says_severity_status_and_lead() -> None:
    st = opened()
    assert topic(st) == "INC-7K2Q9M · SEV1 (proposed) · triggered · lead: nobody yet · checkout 5xx above 5%"
    st.roles["lead"] = "alice"
    st.title = "x" * 400
    assert " · lead: alice · " in topic(st) and len(topic(st)) == 250


def test_whoever_is_paged_or_leads_is_invited_once() -> None:
    st = opened()
    st.paged = ["alice", "dave"]
    st.roles["lead"] = "erin"
    assert to_invite(st) == ["alice", "dave", "erin"]
    assert st.channel
    st.channel.invited = ["alice", "dave"]
    assert to_invite(st) == ["erin"]


def test_what_matters_is_mirrored_in_batches_and_alerts_are_not() -> None:
    st = opened()
    for i in range(30):
        add(st, Kind.ALERT, f"storm {i}", 0.1)
    for i in range(30):
        add(st, Kind.PAGED, f"paged p{i} via slack (level 1)", 1)
    add(st, Kind.RESOLVED, "resolved by human:alice", 2)
    first, upto = unmirrored(st, limit=25)
    assert [e.kind for e in first] == [Kind.PAGED] * 25 and first[0].text.startswith("paged p0")
    assert st.channel
    st.channel.mirrored, st.channel.mirrored_at = upto, first[-1].at
    rest, upto = unmirrored(st, limit=25)
    assert rest[0].text.startswith("paged p25") and len(rest) == 5, "the resolve is the closing message's"
    assert upto == len(st.timeline)


def test_what_was_not_mirrored_before_a_continue_as_new_is_still_found() -> None:
    st = opened()
    for i in range(300):
        add(st, Kind.NOTE, f"note {i}", i / 10, Actor.human("alice"))
    assert st.channel
    st.channel.mirrored = st.timeline_left + 295  # the last five were not posted yet
    st.channel.mirrored_at = st.timeline[294].at
    carried = st.carried(CARRY[2])  # the tightest carry: the last 10 entries and a few story ones
    assert carried.timeline_left > 0
    pending, upto = unmirrored(carried)
    assert [e.text for e in pending] == [f"note {i}" for i in range(295, 300)]
    assert upto == carried.timeline_left + len(carried.timeline) == len(st.timeline)


def test_a_mirrored_line_escapes_what_people_wrote() -> None:
    e = entry(T0, Actor.human("alice"), Kind.NOTE, "<!channel> rolled back & <https://evil|ok>")
    assert line(e) == "`14:05` *alice* &lt;!channel&gt; rolled back &amp; &lt;https://evil|ok&gt;"
    assert line(entry(T0, Actor.system(), Kind.PAGED, "paged alice")) == "`14:05` *baton* paged alice"


def test_show_and_get_incident_name_the_channel() -> None:
    st = opened()
    assert channel_line(st) == "#inc-7k2q9m-checkout (C0123ABCD)"
    assert channel_json(st) == {
        "name": "#inc-7k2q9m-checkout",
        "id": "C0123ABCD",
        "created": True,
        "invited": [],
        "archive_at": None,
    }
    st.channel = ChannelState(off="integrations.slack is not configured on the worker")
    assert channel_line(st) == "none: integrations.slack is not configured on the worker"
    assert channel_json(st) == {
        "name": None,
        "id": None,
        "problem": "integrations.slack is not configured on the worker",
    }
    st.channel = None
    assert channel_json(st) is None


def test_config_check_warns_of_a_channel_that_cannot_work() -> None:
    channel = "coordination:\n  slack: {channel: {announce: '#incidents'}}\n"
    where = ("coordination", "slack", "channel")
    no_slack = "a channel is configured but integrations.slack is not: incidents get no channel"
    assert (where, no_slack) in make_config(extra=channel).warnings()

    static = BASE_CONFIG.replace(
        "checkout: {escalation: two-levels,",
        "checkout: {escalation: two-levels, coordination: {slack: {channel: {create: false}}},",
    )
    warned = dict(make_config(extra="  slack: {bot_token: xoxb-x}\n", base=static).warnings())
    assert warned[("services", "checkout", "coordination", "slack", "channel")].startswith("`create: false` needs")
    assert warned[("people",)].startswith("alice, dave can be paged but have no `slack:` member id")
    assert not make_config(extra="  slack: {bot_token: xoxb-x}\n").channel_warnings(), "no channel, no warning"


def test_a_drill_can_expect_the_channel() -> None:
    sc = parse_scenario(
        "name: n\nalerts: [{at: 0s, summary: s}]\n"
        "expect: [{at: 1m, channel: created}, {at: 1m, channel: {state: none}}, {at: 1m, channel: {name: inc-7k2q}}]"
    )
    created, none, named = sc.expect
    assert created.describe() == "channel created" and named.describe() == "channel #inc-7k2q… created"
    st = opened()
    seen = Seen(state=st, origin=T0)
    assert check(created, seen).passed and check(named, seen).passed and not check(none, seen).passed
    assert check(created, seen).got == "channel #inc-7k2q9m-checkout created"
    st.channel = ChannelState(off="integrations.slack is not configured on the worker")
    assert check(none, seen).passed and not check(created, seen).passed
    assert check(created, seen).got == "no channel: integrations.slack is not configured on the worker"


def test_a_message_longer_than_slack_takes_is_cut_at_a_line_never_refused() -> None:
    at = datetime(2026, 12, 2, 2, 0, tzinfo=UTC)
    notes = [entry(at, Actor.human("alice"), Kind.NOTE, "<\n" * 2000) for _ in range(3)]  # escaped: ~90,000 chars
    text = lines(notes)
    assert len(text) > 40_000
    post = ChannelPostRequest(channel="C1", text=text)
    assert len(post.text) <= POST_LIMIT and post.text.endswith("the whole timeline is in `baton show`")
    assert text.startswith(post.text.rsplit("\n", 1)[0]), "cut at a line, what is kept unchanged"
    close = ChannelClose(incident_id="INC-7K2Q9M", channel="C1", shown="#inc", text=text)
    assert len(close.text) <= POST_LIMIT
