"""`baton show` prints what sources and people wrote: as text, never as markup or terminal commands."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from gateway.render import print_incident
from incident.models import Status, TimelineEntry
from incident.state import IncidentState

NOW = datetime(2026, 11, 26, 14, 0, tzinfo=UTC)
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x9b31m"


def shown(st: IncidentState) -> str:
    out = io.StringIO()
    print_incident(Console(file=out, force_terminal=True, width=200, color_system=None), st)
    return out.getvalue()


def incident(**fields: object) -> IncidentState:
    base: dict = {
        "incident_id": "INC-7K2Q9M",
        "workflow_id": "incident:events:checkout:k",
        "title": "checkout 5xx",
        "service": "checkout",
        "severity": "SEV2",
        "opened_at": NOW,
    }
    return IncidentState.model_validate(base | fields)


def test_a_resolution_with_markup_is_printed_as_written() -> None:
    st = incident(status=Status.RESOLVED, resolved_by="human:alice", resolution="fixed in [/x] and [bold]v2[/bold]")
    assert "fixed in [/x] and [bold]v2[/bold]" in shown(st)


def test_terminal_escape_sequences_from_a_source_are_shown_not_obeyed() -> None:
    entry = TimelineEntry(at=NOW, actor="system", kind="alert", text=f"alert {ESCAPES}")
    st = incident(title=f"checkout {ESCAPES} 5xx", timeline=[entry], resolution=ESCAPES, resolved_by="human:alice")
    out = shown(st)
    for c in "\x1b\x07\x9b":  # no colours are asked for (color_system=None): any of these came from the text
        assert c not in out, repr(c)
    assert "\\x1b]0;owned\\x07" in out
