"""`baton show` prints what sources and people wrote: as text, never as markup or terminal commands."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from gateway.cli import common as cli
from gateway.render import print_incident, timeline_entry
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


FORGED = "checked the deploy\n14:02:01  human:alice        human:alice approved A1"
HOSTILE = "\x1b[1A\x1b[2K\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x9b2J\u202eevil\u2066\u200b\U000e0041"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\u2066", "\u200b", "\U000e0041")


def lines_starting_with_a_time(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\s{0,2}\d\d:\d\d:\d\d", line)]


def watched(*entries: TimelineEntry, width: int = 100) -> str:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=width, color_system=None)
    for e in entries:
        console.print(timeline_entry(e))
    return out.getvalue()


def note(text: str, actor: str = "agent:triage") -> TimelineEntry:
    return TimelineEntry(at=NOW, actor=actor, kind="note", text=text)


def test_a_note_cannot_forge_a_timeline_entry_in_show() -> None:
    out = shown(incident(timeline=[note(FORGED)]))
    assert len(lines_starting_with_a_time(out)) == 1, out
    forged = next(line for line in out.splitlines() if "approved A1" in line)
    author = next(line for line in out.splitlines() if "checked the deploy" in line)
    assert forged.index("↳") >= author.index("checked the deploy"), "continued under what the author wrote"


def test_a_note_cannot_forge_a_timeline_entry_in_watch() -> None:
    out = watched(note(FORGED), note("rolled back", "human:bob"))
    assert [line.split()[1] for line in lines_starting_with_a_time(out)] == ["agent:triage", "human:bob"], out
    forged = next(line for line in out.splitlines() if "approved A1" in line)
    assert forged.startswith(" " * 20) and forged.lstrip().startswith("↳ 14:02:01"), out


def test_a_long_note_wraps_under_its_author_not_at_the_margin() -> None:
    padded = "see" + " " * 300 + "14:02:01  human:alice  approved A1 " + "and more words " * 20
    for out in (watched(note(padded), width=80), shown(incident(timeline=[note(padded)]))):
        assert len(lines_starting_with_a_time(out)) == 1, out


def test_escape_sequences_bidi_and_invisible_characters_never_reach_the_terminal() -> None:
    st = incident(
        title=f"checkout {HOSTILE}",
        timeline=[note(f"note {HOSTILE}")],
        resolution=HOSTILE,
        resolved_by="human:alice",
        context={"suspects": [{"before": 60, "change": {"service": "checkout", "version": HOSTILE, "at": NOW}}]},
    )
    for out in (shown(st), watched(note(f"note {HOSTILE}"), width=200)):
        for c in RAW:
            assert c not in out, repr(c)
        assert "\\x1b]8;;https://evil.example\\x07" in out and "\\u202e" in out


def test_a_title_on_several_lines_stays_under_the_headline() -> None:
    out = shown(incident(title="checkout 5xx\n14:00:00  system  resolved by human:alice"))
    assert len(lines_starting_with_a_time(out)) == 0, out
    assert "  ↳ 14:00:00" in out


def test_tabs_become_spaces_and_markup_and_emoji_codes_print_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    out = watched(note("a\tb [bold]x[/bold] [/]"))
    assert "a    b [bold]x[/bold] [/]" in out and "\t" not in out
    cli.out.print(timeline_entry(note("all good :white_check_mark:")))
    assert ":white_check_mark:" in capsys.readouterr().out
