"""On-call schedule math: who holds a rotation at a given instant.

Handoffs follow the schedule's wall clock: a `09:00` handoff stays 09:00 local across DST. A handoff at a time
that does not exist that night (the clocks jump over it) happens at the jump; one at a time that exists twice
happens at the first occurrence. Hourly and custom-length rotations count elapsed real time instead.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from incident.durations import parse_duration

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HANDOFF = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)\s+)?([01]?\d|2[0-3]):([0-5]\d)$")
DEFAULT_START = date(2024, 1, 1)  # a Monday


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


class Layer(BaseModel):
    """An ordered list of people taking turns."""

    model_config = ConfigDict(extra="forbid")

    members: list[str] = Field(min_length=1)
    rotation: Literal["hourly", "daily", "weekly"] | str = "weekly"
    handoff: str = "mon 09:00"
    start: date = DEFAULT_START

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, v: str) -> str:
        if v not in ("hourly", "daily", "weekly"):
            length = parse_duration(v)
            if length < timedelta(minutes=1):
                raise ValueError("a custom rotation is at least 1m long")
        return v

    @field_validator("handoff")
    @classmethod
    def _handoff(cls, v: str) -> str:
        if not _HANDOFF.match(v.strip().lower()):
            raise ValueError(f"handoff {v!r} is not `HH:MM` or `mon 09:00`")
        return v.strip().lower()

    def _handoff_parts(self) -> tuple[int | None, time]:
        m = _HANDOFF.match(self.handoff)
        assert m is not None
        weekday = WEEKDAYS.index(m.group(1)) if m.group(1) else None
        return weekday, time(int(m.group(2)), int(m.group(3)))

    def shift_index(self, at: datetime, tz: ZoneInfo) -> int:
        """How many handoffs have happened since the first one (negative before it)."""
        weekday, hhmm = self._handoff_parts()
        local = at.astimezone(tz)
        if self.rotation in ("daily", "weekly"):
            step = 1 if self.rotation == "daily" else 7
            wd = 0 if weekday is None else weekday
            first = self.start + timedelta(days=((wd - self.start.weekday()) % 7) if step == 7 else 0)
            last = local.date()
            if step == 7:
                last -= timedelta(days=(last.weekday() - wd) % 7)
            if last == local.date() and local.replace(tzinfo=None).time() < hhmm:
                last -= timedelta(days=step)
            return (last - first).days // step
        anchor = datetime.combine(self.start, hhmm, tzinfo=tz)
        length = timedelta(hours=1) if self.rotation == "hourly" else parse_duration(self.rotation)
        return int((at - anchor) // length)

    def on_call(self, at: datetime, tz: ZoneInfo) -> str:
        return self.members[self.shift_index(at, tz) % len(self.members)]


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    layers: list[Layer] = Field(min_length=1)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    def on_call(self, at: datetime) -> str:
        """The person on call at `at` (aware datetime). Later layers override earlier ones."""
        tz = ZoneInfo(self.timezone)
        return self.layers[-1].on_call(at, tz)
