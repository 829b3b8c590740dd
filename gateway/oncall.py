"""`baton oncall`: who is on call and who is next, as a table, JSON or an iCalendar feed. Needs no Temporal.

The schedule math lives in `incident.schedule`; this module only picks schedules, reads times typed by a human and
renders the answer, so the terminal, scripts and calendars all see the same timeline.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from incident.config import Config
from incident.fields import unknown
from incident.schedule import Schedule, Shift, aware

LOOKBACK_LIMIT = timedelta(days=366)  # how far back a feed looks for the start of the shift under way


class OnCallError(ValueError):
    """A sentence for the user: an unknown schedule or a time that cannot be read."""


class Handoff(BaseModel):
    start: datetime
    end: datetime
    person: str | None


class OnCallView(BaseModel):
    """Who is on call on one schedule at one instant, and the next handoffs (times in the schedule's zone)."""

    schedule: str
    timezone: str
    at: datetime
    on_call: str | None
    next: list[Handoff]


def parse_at(text: str | None, tz: ZoneInfo, now: datetime | None = None) -> datetime:
    """`now` (or nothing), or ISO 8601 with or without an offset; naive means wall-clock time in `tz`."""
    if text is None or text.strip().lower() in ("", "now"):
        return (now or datetime.now(UTC)).astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise OnCallError(
            f"cannot read the time {text!r}: use ISO 8601 such as 2026-03-08T09:00 (the schedule's zone), "
            "2026-03-08T09:00-05:00, 2026-03-08T14:00Z, or now"
        ) from None
    return aware(parsed, tz)


def pick(config: Config, name: str | None) -> dict[str, Schedule]:
    """The named schedule, or every schedule when no name is given."""
    if name is None:
        return dict(config.schedules)
    if name not in config.schedules:
        raise OnCallError(unknown("schedule", name, config.schedules))
    return {name: config.schedules[name]}


def views(config: Config, name: str | None, at_text: str | None, count: int = 3) -> list[OnCallView]:
    out = []
    for sname, schedule in pick(config, name).items():
        tz = schedule.zone
        at = parse_at(at_text, tz)
        out.append(
            OnCallView(
                schedule=sname,
                timezone=schedule.timezone,
                at=at.astimezone(tz),
                on_call=schedule.on_call(at),
                next=[
                    Handoff(start=s.start.astimezone(tz), end=s.end.astimezone(tz), person=s.person)
                    for s in schedule.next_handoffs(at, count)
                ],
            )
        )
    return out


def _local(t: datetime, weekday: bool = True) -> str:
    return f"{t:%a %Y-%m-%d %H:%M %Z}" if weekday else f"{t:%Y-%m-%d %H:%M %Z}"


def _utc(t: datetime) -> str:
    return f"{t.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _who(person: str | None) -> str:
    return person if person is not None else "[yellow](nobody)[/yellow]"


def print_views(console: Console, found: list[OnCallView]) -> None:
    if not found:
        console.print("(no schedules in the config)")
        return
    for i, v in enumerate(found):
        if i:
            console.print()
        console.print(f"[bold]{v.schedule}[/bold]  {v.timezone}", highlight=False)
        console.print(f"  on call at {_local(v.at)} ({_utc(v.at)}): [bold]{_who(v.on_call)}[/bold]", highlight=False)
        if not v.next:
            console.print("  no handoff in the next two years", highlight=False)
            continue
        table = Table(box=None, header_style="bold", padding=(0, 1), pad_edge=False)
        for col in ("NEXT HANDOFF (LOCAL)", "UTC", "ON CALL", "UNTIL (LOCAL)"):
            table.add_column(col, no_wrap=True)
        for h in v.next:
            table.add_row(_local(h.start), _utc(h.start), _who(h.person), _local(h.end, weekday=False))
        console.print(table)


def _uid(schedule: str, shift: Shift) -> str:
    """The same shift gets the same UID on every export, so subscribed calendars update it in place."""
    key = f"{schedule}\n{shift.person}\n{shift.start.astimezone(UTC).isoformat()}"
    return f"{hashlib.sha256(key.encode()).hexdigest()[:32]}@baton"


def feed_shifts(schedule: Schedule, start: datetime, end: datetime) -> list[Shift]:
    """The shifts over [start, end), the first one from its real start (not clipped at `start`), so a feed
    exported at any moment names it with the same UID."""
    span = timedelta(days=8)
    while True:
        pieces = schedule.shifts(start - span, end)
        first = next(i for i, s in enumerate(pieces) if s.end > start)
        if pieces[first].start > start - span or span >= LOOKBACK_LIMIT:
            return pieces[first:]
        span = min(span * 4, LOOKBACK_LIMIT)


def ical(config: Config, name: str | None, at_text: str | None, days: int) -> bytes:
    """An iCalendar (RFC 5545) feed of one schedule: a VEVENT per shift with someone on call, times in UTC."""
    if name is None:
        known = ", ".join(sorted(config.schedules)) or "none defined"
        raise OnCallError(f"--ical needs a SCHEDULE (known: {known})")
    schedule = pick(config, name)[name]
    start = parse_at(at_text, schedule.zone)
    cal = Calendar()
    cal.add("prodid", "-//baton//on-call//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", f"On call: {name}")
    stamp = datetime.now(UTC).replace(microsecond=0)
    for shift in feed_shifts(schedule, start, start + timedelta(days=days)):
        if shift.person is None:
            continue
        event = Event()
        event.add("uid", _uid(name, shift))
        event.add("dtstamp", stamp)
        event.add("dtstart", shift.start.astimezone(UTC))
        event.add("dtend", shift.end.astimezone(UTC))
        event.add("summary", f"On call: {shift.person} ({name})")
        event.add("description", f"from {shift.source}; schedule time zone {schedule.timezone}")
        event.add("transp", "TRANSPARENT")
        cal.add_component(event)
    return cal.to_ical()
