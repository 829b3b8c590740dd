"""Who leads, from Slack: the page's Take lead button and `/baton lead`, signed as Slack signs them, against the
real dev server; the person is the one the Slack user is, acting from Slack."""

from __future__ import annotations

import httpx

from tests.gateway import test_slack_app as app
from tests.gateway.test_slack_app import FakeSlack, interact, open_incident, press, slash, state
from tests.helpers.temporal import Harness

slack, stack = app.slack, app.stack
"""The Slack app's fixtures: a local server playing Slack, and the app with a worker on the dev server."""


def take_lead(fake: FakeSlack, user: str, iid: str, wid: str) -> dict[str, object]:
    """A press of the page's Take lead button, as the notifier puts it on the page."""
    pressed = press(fake, "baton_ack", user, iid, wid)
    button = dict(pressed["actions"][0])
    button["action_id"] = "baton_lead"
    pressed["actions"] = [button]
    return pressed


async def test_take_lead_button_makes_the_presser_lead_and_keeps_the_buttons(
    stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack
) -> None:
    http, h = stack
    iid, wid = await open_incident(h)
    pressed = take_lead(slack, "UBOB", iid, wid)
    resp = await interact(http, pressed)
    assert resp.status_code == 200
    st = await state(h, wid)
    assert st.lead == "bob"
    [role] = [e for e in st.timeline if e.kind == "role"]
    assert role.text == "bob takes lead" and role.actor == "human:bob"
    assert role.data == {"role": "lead", "person": "bob", "from": None}
    [told] = await slack.wait(str(pressed["response_url"]).removeprefix(slack.url))
    assert told["json"]["response_type"] == "ephemeral"
    assert told["json"]["text"] == f":large_blue_circle: You lead {iid} (bob leads {iid})"
    assert not slack.to("/api/chat.update"), "the page keeps its buttons: it still needs acknowledging"

    # alice acknowledges afterwards: bob stays lead.
    await interact(http, press(slack, "baton_ack", "UALICE", iid, wid))
    st = await state(h, wid)
    assert st.acknowledged_by == "human:alice" and st.lead == "bob"

    # Someone Slack cannot name may not take it.
    stranger = take_lead(slack, "UNOBODY", iid, wid)
    await interact(http, stranger)
    [refused] = await slack.wait(str(stranger["response_url"]).removeprefix(slack.url))
    assert "is not a person in baton's config" in refused["json"]["text"]
    assert (await state(h, wid)).lead == "bob"


async def test_slash_lead_takes_or_hands_over(stack: tuple[httpx.AsyncClient, Harness], slack: FakeSlack) -> None:
    http, h = stack
    iid, wid = await open_incident(h)

    async def say(text: str, user: str = "UALICE") -> str:
        resp = await slash(http, slack, text, user)
        assert resp.status_code == 200 and resp.json()["response_type"] == "ephemeral", resp.text
        return str(resp.json()["text"])

    assert await say(f"lead {iid}") == f"alice leads {iid}"
    assert await say(f"lead {iid} <@UBOB|bob>") == f"bob leads {iid}"  # a mention as Slack escapes it
    assert await say(f"lead {iid} @dave", user="UBOB") == f"dave leads {iid}"
    assert "unknown person 'zed'" in await say(f"lead {iid} zed")
    assert "unknown role 'comms' (known: lead)" in await say(f"role {iid} comms")
    assert "which incident" in await say("lead")
    assert "`/baton lead INC-7K2Q9M [@person]`" in await say("help")
    st = await state(h, wid)
    assert st.lead == "dave"
    assert [e.text for e in st.timeline if e.kind == "role"] == [
        "alice takes lead",
        "alice hands lead to bob",
        "bob hands lead to dave",
    ]
