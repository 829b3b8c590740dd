"""The Slack wire contract end to end: the buttons the notifier puts on a page are the ones the app reads back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

import pytest

from activities.notifiers.slack import blocks
from gateway.client import IncidentRef, Pinned
from gateway.slack.deadline import Deadline
from gateway.slack.interactions import Interactions
from gateway.slack.messages import Origin, without_buttons
from gateway.slack.people import People
from gateway.slack.web import SlackWeb
from incident import slack_contract as wire
from incident.models import Actor, Page, Severity, Status, UpdateReply
from tests.helpers.config import make_config

WID = "incident:events:checkout:k"
PINNED = Pinned(WID, "INC-7K2Q9M")


def a_page(kind: Literal["page", "approval"], approval_id: str | None = None) -> Page:
    return Page(
        kind=kind,
        incident_id="INC-7K2Q9M",
        workflow_id=WID,
        title="checkout 5xx rate above 5%",
        service="checkout",
        severity=Severity.SEV1,
        status=Status.TRIGGERED,
        level=1,
        levels=2,
        cycle=0,
        alert_count=1,
        opened_at=datetime(2026, 1, 1, tzinfo=UTC),
        approval_id=approval_id,
    )


class Decisions:
    """The façade's decisions, recorded: what the app asked for after a button press."""

    def __init__(self, running: str = "INC-7K2Q9M") -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.running = running
        """The incident the workflow runs now."""

    async def find(self, ref: Pinned) -> IncidentRef:
        self.calls.append(("find", ref))
        return IncidentRef(ref.workflow_id, "run", ref.incident_id, open=ref.incident_id == self.running)

    async def acknowledge(self, ref: str, actor: Actor) -> UpdateReply:
        self.calls.append(("acknowledge", ref, str(actor)))
        return UpdateReply(ok=True, message="acknowledged", status=Status.ACKNOWLEDGED)

    async def approve(self, ref: str, actor: Actor, approval_id: str) -> UpdateReply:
        self.calls.append(("approve", ref, str(actor), approval_id))
        return UpdateReply(ok=True, message="approved", status=Status.TRIGGERED)


class Shown(SlackWeb):
    """Slack as the app sees it: what it would put on the message, kept instead of sent."""

    def __init__(self) -> None:
        super().__init__(None)
        self.lines: list[str] = []
        self.answers: list[dict[str, Any]] = []

    async def update_message(self, origin: Origin, line: str) -> None:
        self.lines.append(line)

    async def respond(self, response_url: str | None, body: dict[str, Any]) -> None:
        self.answers.append(body)


def press(page_blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any]:
    element = next(
        e for b in page_blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id
    )
    return {
        "type": "block_actions",
        "user": {"id": "U_ALICE"},
        "actions": [{"action_id": action_id, "value": element.get("value")}],
        "container": {"channel_id": "D1", "message_ts": "1.2"},
        "message": {"ts": "1.2", "text": "page", "blocks": page_blocks},
        "response_url": "http://slack.invalid/respond",
    }


@pytest.fixture
def app() -> tuple[Interactions, Decisions, Shown]:
    config = make_config("http://sink.invalid")
    config.people["alice"].slack = "U_ALICE"
    decisions, shown = Decisions(), Shown()
    interactions = Interactions(decisions, People(config), shown, Deadline(5.0))  # type: ignore[arg-type]
    return interactions, decisions, shown


async def test_a_pages_acknowledge_button_acknowledges_its_incident(app: tuple[Interactions, Decisions, Shown]) -> None:
    interactions, decisions, shown = app
    await interactions.block_actions(press(blocks(a_page("page"), "http://ui.example/INC-7K2Q9M"), wire.ACK))
    assert decisions.calls == [("acknowledge", PINNED, "human:alice")]
    assert shown.lines and "Acknowledged by Alice" in shown.lines[0] and not shown.answers


async def test_an_approvals_approve_button_names_its_approval(app: tuple[Interactions, Decisions, Shown]) -> None:
    interactions, decisions, _ = app
    await interactions.block_actions(press(blocks(a_page("approval", "A1"), "http://ui.example/x"), wire.APPROVE))
    assert decisions.calls == [("approve", PINNED, "human:alice", "A1")]


def test_the_outcome_replaces_the_pages_buttons_and_keeps_the_link() -> None:
    page_blocks = blocks(a_page("page"), "http://ui.example/INC-7K2Q9M")
    after = without_buttons(page_blocks, "done")
    elements = [e for b in after if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in elements] == [wire.OPEN]
    assert after[-1]["block_id"] == wire.OUTCOME_BLOCK


def test_a_button_value_round_trips_and_a_foreign_one_is_refused() -> None:
    value = wire.ButtonValue("INC-7K2Q9M", WID, "A1")
    assert wire.decode_button(wire.encode_button(value)) == value
    for raw in (None, "", "not json", "[]", '{"incident_id": "INC-1"}', '{"workflow_id": "w"}'):
        with pytest.raises(wire.BadButton):
            wire.decode_button(raw)
    assert wire.esc("a < b & c > d") == "a &lt; b &amp; c &gt; d"


async def test_a_button_without_its_incident_id_is_refused_not_sent_to_the_workflows_current_incident(
    app: tuple[Interactions, Decisions, Shown],
) -> None:
    interactions, decisions, shown = app
    pressed = press(blocks(a_page("page"), "http://ui.example/x"), wire.ACK)
    pressed["actions"][0]["value"] = json.dumps({"workflow_id": WID})
    await interactions.block_actions(pressed)
    assert decisions.calls == [] and not shown.lines
    assert "does not say which incident" in shown.answers[0]["text"]


async def test_resolve_on_a_closed_incident_opens_no_form_and_says_so(
    app: tuple[Interactions, Decisions, Shown],
) -> None:
    interactions, decisions, shown = app
    decisions.running = "INC-NEXT00"  # the key opened the next incident since
    await interactions.block_actions(press(blocks(a_page("page"), "http://ui.example/x"), wire.RESOLVE))
    assert decisions.calls == [("find", PINNED)]
    assert shown.lines == [":warning: INC-7K2Q9M is already resolved"]
