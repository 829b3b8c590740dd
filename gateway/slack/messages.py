"""What the Slack app sends: ephemeral answers, the page with its buttons replaced by an outcome, the modals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from incident.slack_contract import OUR_ACTION_BLOCKS, OUTCOME_BLOCK


@dataclass
class Origin:
    """The message a button was pressed on, and how to reach the user who pressed it."""

    channel: str = ""
    ts: str = ""
    response_url: str = ""
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.ts}"


def cut(s: str, limit: int) -> str:
    return s if len(s) <= limit else s[: limit - 1] + "…"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def ephemeral(text: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text}


def without_buttons(blocks: list[dict[str, Any]], line: str) -> list[dict[str, Any]]:
    """The message's blocks with our buttons (and any earlier outcome) replaced by a context line. Link buttons
    such as "Open incident" stay."""
    out: list[dict[str, Any]] = []
    for block in blocks:
        if block.get("block_id") == OUTCOME_BLOCK:
            continue
        if block.get("type") == "actions" and block.get("block_id") in OUR_ACTION_BLOCKS:
            links = [e for e in block.get("elements", []) if e.get("url")]
            if links:
                out.append({**block, "elements": links})
            continue
        out.append(block)
    out.append({"type": "context", "block_id": OUTCOME_BLOCK, "elements": [{"type": "mrkdwn", "text": line}]})
    return out


def modal(
    callback: str, title: str, submit: str, private: str, intro: str, field: str, label: str, optional: bool
) -> dict[str, Any]:
    """A modal asking for one text (the resolve summary, the denial's reason); the submission finds it by `field`."""
    return {
        "type": "modal",
        "callback_id": callback,
        "title": plain(cut(title, 24)),
        "submit": plain(submit),
        "close": plain("Cancel"),
        "private_metadata": private,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": intro}},
            {
                "type": "input",
                "block_id": field,
                "optional": optional,
                "label": plain(label),
                "element": {"type": "plain_text_input", "action_id": field, "multiline": True, "max_length": 2000},
            },
        ],
    }
