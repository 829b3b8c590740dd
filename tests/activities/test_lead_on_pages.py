"""Every page says who leads, whichever way it arrives, and an incident commander's page says why it comes."""

from __future__ import annotations

from activities.notifiers import render
from activities.notifiers.slack import blocks
from activities.notifiers.webhook import payload
from tests.activities.test_notifiers import LINK, RECIPIENT, page

WHY = "Nobody has taken the lead of this incident 10m after it opened: you are paged as incident commander."


def test_the_lead_is_one_of_the_facts_in_text_html_slack_and_the_webhook() -> None:
    led = page(lead="dave")
    assert ("Lead", "dave") in render.fields(led)
    assert "\nLead:     dave\n" in render.text(led, LINK)
    assert '<th align="left" style="padding-right:12px">Lead</th><td>dave</td>' in render.html(led, LINK)
    facts = next(b for b in blocks(led, LINK) if "fields" in b)["fields"]
    assert {"type": "mrkdwn", "text": "*Lead*\ndave"} in facts
    assert payload(led, RECIPIENT, "k", LINK)["lead"] == "dave"
    assert ("Lead", "nobody yet") in render.fields(page())
    assert payload(page(), RECIPIENT, "k", LINK)["lead"] is None


def test_an_incident_commanders_page_says_why_it_comes() -> None:
    commander = page(level=0, notice=WHY)
    out = render.text(commander, LINK)
    assert WHY in out.split("\n\n")[1], "before the facts"
    assert ("Level", "incident commander (nobody leads)") in render.fields(commander)
    assert any(b.get("type") == "actions" for b in blocks(commander, LINK)), "with the buttons: Take lead"
