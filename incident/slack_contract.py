"""The Slack wire contract, written once: what a page's buttons carry and how the Slack app reads them back.

The notifier (activities/notifiers/slack.py) puts these block ids, action ids and button values on the message;
the app (gateway/slack/) reads them when a button is pressed, possibly days later and from another process. Both
sides import this module, so neither can drift: change an id here and a page already sent still carries the old
one, so keep every value as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from incident import display

ACTIONS_BLOCK = "baton_actions"
"""The page's buttons: Acknowledge, Resolve, Take lead, and the "Open incident" link."""
APPROVAL_BLOCK = "baton_approval"
"""An approval's buttons: Approve and Deny."""
OUTCOME_BLOCK = "baton_outcome"
"""The context line that replaces our buttons once a decision is recorded."""
OUR_ACTION_BLOCKS = (ACTIONS_BLOCK, APPROVAL_BLOCK)

ACK = "baton_ack"
RESOLVE = "baton_resolve"
OPEN = "baton_open"
APPROVE = "baton_approve"
DENY = "baton_deny"
TAKE_LEAD = "baton_lead"
"""Whoever presses it takes the incident's lead (pages sent before roles have no such button)."""
DECIDING = (ACK, APPROVE, RESOLVE, DENY, TAKE_LEAD)
"""Action ids that decide something; OPEN is a link, Slack reports its click and there is nothing to do."""

RESOLVE_MODAL = RESOLVE
DENY_MODAL = DENY
"""Callback ids of the modals Resolve and Deny open (the same as the buttons that open them)."""


@dataclass(frozen=True)
class ButtonValue:
    """What a button carries so the app can find the incident: its id, the workflow behind it, the approval.

    The incident id is the pin: the workflow id is the alert key's and is reused once the incident is resolved,
    so a button acts on `incident_id` only. Every button baton has sent carries both."""

    incident_id: str
    workflow_id: str
    approval_id: str | None = None


class BadButton(ValueError):
    """A button value that names no incident (not ours, or cut short), or a workflow without its incident."""


def encode_button(value: ButtonValue) -> str:
    """Compact JSON; `approval_id` only on an approval's buttons."""
    body: dict[str, str | None] = {"incident_id": value.incident_id, "workflow_id": value.workflow_id}
    if value.approval_id is not None:
        body["approval_id"] = value.approval_id
    return json.dumps(body, separators=(",", ":"))


def decode_button(raw: str | None) -> ButtonValue:
    """The value back. Raises BadButton without a workflow id, and without an incident id: such a button could
    only be acted on as "whatever incident the workflow runs now", which may be a later one on the same key."""
    try:
        body = json.loads(raw or "")
        workflow_id = str(body["workflow_id"])
    except (ValueError, KeyError, TypeError):
        raise BadButton("this button carries no incident; open it in baton") from None
    incident_id = str(body.get("incident_id") or "")
    if not incident_id:
        raise BadButton("this button does not say which incident it is for; use `/baton ack INC-…` or baton instead")
    approval_id = str(body.get("approval_id") or "") or None
    return ButtonValue(incident_id=incident_id, workflow_id=workflow_id, approval_id=approval_id)


def esc(s: str, indent: str = "") -> str:
    """Text someone else wrote, as Slack mrkdwn that shows it as written: `&`, `<` and `>` escaped as Slack
    documents (so `<!channel>`, `<@U123>` or `<https://…|label>` cannot ping anyone or forge a link), control and
    invisible characters shown as escapes, each line after the first marked as its continuation and started with
    `indent` (`incident.display`)."""
    return display.hanging(s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"), indent)


def esc_href(href: str) -> str:
    """A URL inside `<url|label>`: a `|` in it would end the URL early and make the rest the label."""
    return esc(display.one_line(href)).replace("|", "%7C")
