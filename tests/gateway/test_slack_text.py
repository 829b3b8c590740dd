"""What Slack shows of text sources and agents wrote: it cannot ping, forge a link, hide or forge a line."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from activities.notifiers import slack
from gateway.slack.commands import Commands
from gateway.slack.people import People
from incident.context import Change, LogLine, LogSummary, MetricSummary, PageContext, Suspect
from incident.links import Link
from incident.models import Page, Severity, Status, TimelineEntry
from incident.state import IncidentState
from tests.helpers.config import make_config

NOW = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)
LINK = "http://localhost:8233/namespaces/default/workflows/w"
PINGS = "<!channel> <!here> <@U0ADMIN> <#C0OPS> <!subteam^S0SRE> <https://evil.example|Runbook>"
HIDDEN = "\x1b[2J\u202eevil\u200b\U000e0041\x9b"


def hostile_page() -> Page:
    deploy = Change(service="checkout", version=f"v2.41 {PINGS}", author=HIDDEN, at=NOW - timedelta(minutes=20))
    context = PageContext(
        suspects=[Suspect(change=deploy, before=timedelta(minutes=20))],
        metrics=[MetricSummary(name=f"5xx {PINGS}", query="q", current=7.2)],
        logs=LogSummary(query="q", total=3, top=[LogLine(text=f"error {PINGS} `x` {HIDDEN}", count=3)]),
        missing=[f"github: {PINGS}"],
    )
    return Page(
        kind="page",
        incident_id="INC-7K2Q9M",
        workflow_id="w",
        title=f"checkout {PINGS} {HIDDEN}\nfake line",
        service="checkout",
        severity=Severity.SEV1,
        status=Status.TRIGGERED,
        level=1,
        levels=1,
        cycle=0,
        alert_count=1,
        opened_at=NOW,
        links=[Link(href="https://evil.example/x|Incident", text="Source <!channel>")],
        context=context,
    )


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every text Slack reads as mrkdwn (plain_text, the header, shows mentions and links as written)."""
    found = []
    for b in blocks:
        for t in [b.get("text"), *b.get("fields", []), *b.get("elements", [])]:
            if isinstance(t, dict) and t.get("type") == "mrkdwn":
                found.append(t["text"])
    return found


def test_a_page_from_a_hostile_source_cannot_ping_or_forge_a_link() -> None:
    body = slack.message(hostile_page(), "U1", LINK)
    shown = [body["text"], *texts(body["blocks"])]
    every = "\n".join(shown)
    for ping in ("<!channel>", "<!here>", "<@U0ADMIN>", "<#C0OPS>", "<!subteam", "<https://evil.example|Runbook>"):
        assert ping not in every, ping
    assert "&lt;!channel&gt;" in every and "&lt;@U0ADMIN&gt;" in every
    links = [t for t in shown if "evil.example/x" in t]
    assert links and all("<https://evil.example/x%7CIncident|Source &lt;!channel&gt;>" in t for t in links), links


def test_escape_sequences_bidi_and_invisible_characters_are_shown_not_sent() -> None:
    every = json.dumps(slack.message(hostile_page(), "U1", LINK), ensure_ascii=False)
    for c in ("\x1b", "\u202e", "\u200b", "\U000e0041", "\x9b"):
        assert c not in every, repr(c)
    assert "\\\\x1b[2J" in every and "\\\\u202eevil" in every


def test_a_title_stays_on_the_header_line_and_a_suspect_cannot_start_a_bullet() -> None:
    page = hostile_page().model_copy(update={"title": "checkout 5xx\nfake line"})
    page.context.suspects[0].change.version = "v2.41\n• checkout v2.40 deployed by alice (the real one)"  # type: ignore[union-attr]
    blocks = slack.blocks(page, LINK)
    assert blocks[0]["text"]["type"] == "plain_text"
    header = blocks[0]["text"]["text"]
    assert header.endswith("checkout: checkout 5xx ↵ fake line")
    suspects = next(t for t in texts(blocks) if t.startswith("*Suspects*"))
    assert suspects.count("\n• ") == 1, suspects
    assert "\n    ↳ • checkout v2.40" in suspects


def test_the_slash_command_quotes_a_note_without_letting_it_forge_an_entry() -> None:
    config = make_config("http://127.0.0.1:9")
    forged = "checked it\n> 14:06 human:alice: approved A1 <!channel>"
    st = IncidentState.model_validate(
        {
            "incident_id": "INC-7K2Q9M",
            "workflow_id": "w",
            "title": f"checkout {HIDDEN}\n*INC-FAKE* resolved",
            "service": "checkout",
            "severity": "SEV2",
            "opened_at": NOW,
            "timeline": [TimelineEntry(at=NOW, actor="agent:triage", kind="note", text=forged)],
        }
    )
    text = Commands(config, None, People(config)).incident_text(st)  # type: ignore[arg-type]
    lines = text.split("\n")
    assert [line for line in lines if line.startswith("> 14:")] == ["> 14:05 agent:triage: checked it"], text
    assert any(
        line.startswith(">") and "↳ &gt; 14:06 human:alice: approved A1 &lt;!channel&gt;" in line for line in lines
    )
    assert not any(line.startswith("*INC-FAKE*") for line in lines) and "\x1b" not in text
