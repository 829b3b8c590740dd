"""On-call schedule math: who is on call at an instant, and the rendered timeline of shifts.

A schedule stacks layers. Each layer is a rotation of members handing off at a wall-clock time in the schedule's
time zone, optionally limited to restriction windows (outside them the layer has nobody). Layers later in the list
are higher: at any instant the highest layer with someone decides; overrides replace all layers for their window
(the latest-listed override wins where two overlap). Where nothing has anyone, nobody is on call.

Clock changes. Handoffs and restriction windows follow the wall clock of the schedule's zone, so a 09:00 handoff
stays 09:00 local across DST and a weekly shift spanning a change lasts 167 or 169 hours. A local time is turned
into an instant by one rule, the first moment the wall clock reads that time or later:

- a time that does not exist that night (the clocks jump over it) happens at the jump, the first instant after the
  gap (02:30 on a night that goes 01:59 -> 03:00 happens at 03:00 new time);
- a time that exists twice (the clocks go back over it) happens at its first occurrence.

`daily` and `weekly` rotations count calendar days and weeks. `hourly` and custom lengths (`12h`, `3d`) count
elapsed real time from the first handoff, so a `3d` handoff moves by an hour of wall clock across a change.

The first handoff is at `handoff` on the first day on or after `start` that matches its weekday (any day when it
names none); rotations extend backwards from it too, so a layer is never empty for lack of history.
Every instant this module returns is in UTC: arithmetic on datetimes sharing a ZoneInfo ignores DST.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from incident.durations import parse_duration
from incident.fields import Strict

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HANDOFF = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun)\s+)?([01]?\d|2[0-3]):([0-5]\d)$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
DEFAULT_START = date(2024, 1, 1)  # a Monday
NEXT_HANDOFF_HORIZON = timedelta(days=732)  # how far next_handoffs looks before giving up


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None
    return name


@lru_cache(maxsize=8192)
def localize(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of naive wall-clock time `wall` in `tz`: the first moment the clock reads it or later."""
    wall = wall.replace(tzinfo=None, fold=0)
    candidates = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == wall:
            candidates.append(instant)
    if candidates:
        return min(candidates)
    # In a gap: fold=1 reads the wall with the offset after the jump (an instant before it), fold=0 with the offset
    # before (an instant after it). The jump lies between, on a whole second: find it.
    lo = int(wall.replace(tzinfo=tz, fold=1).timestamp())
    hi = int(wall.replace(tzinfo=tz, fold=0).timestamp()) + 1
    lo, hi = min(lo, hi), max(lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def aware(at: datetime, tz: ZoneInfo) -> datetime:
    """`at` as a UTC instant; a naive `at` is wall-clock time in `tz`."""
    return localize(at, tz) if at.tzinfo is None else at.astimezone(UTC)


def _require_aware(*instants: datetime) -> None:
    if any(t.tzinfo is None or t.utcoffset() is None for t in instants):
        raise ValueError("schedule instants must be timezone-aware datetimes")


@dataclass(frozen=True, slots=True)
class Shift:
    """One piece of a timeline: `person` holds [start, end) (UTC). `person=None` is a gap nobody covers."""

    start: datetime
    end: datetime
    person: str | None
    source: str

    @property
    def duration(self) -> timedelta:
        return self.end - self.start


def _sexagesimal(value: object) -> object:
    """YAML 1.1 reads an unquoted `17:00` as the number 1020 (base 60): read it back as the time it was."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 24 * 60:
        return f"{value // 60:02d}:{value % 60:02d}"
    return value


def _hhmm(value: object) -> str:
    value = _sexagesimal(value)
    v = str(value).strip()
    if not _HHMM.match(v):
        raise ValueError(f"{value!r} is not a time `HH:MM`")
    h, m = v.split(":")
    return f"{int(h):02d}:{m}"


def _parse_hhmm(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


class Restriction(Strict):
    """A weekly window in which a layer is active, e.g. weekdays 09:00-17:00 (an `end` at or before `start` runs
    past midnight into the next day)."""

    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    start: str
    end: str

    @field_validator("days", mode="before")
    @classmethod
    def _days(cls, v: object) -> object:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list):
            out = []
            for d in v:
                name = str(d).strip().lower()
                if name[:3] not in WEEKDAYS or not _DAY_NAMES[WEEKDAYS.index(name[:3])].startswith(name):
                    raise ValueError(f"{d!r} is not a weekday ({', '.join(WEEKDAYS)})")
                out.append(name[:3])
            return out
        return v

    _times = field_validator("start", "end", mode="before")(classmethod(lambda cls, v: _hhmm(v)))

    def windows(self, first: date, last: date, tz: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
        """The windows opening on local days first..last, as UTC instants."""
        begin, finish = _parse_hhmm(self.start), _parse_hhmm(self.end)
        overnight = finish <= begin
        day = first
        while day <= last:
            if WEEKDAYS[day.weekday()] in self.days:
                a = localize(datetime.combine(day, begin), tz)
                b = localize(datetime.combine(day + timedelta(days=1) if overnight else day, finish), tz)
                if b > a:
                    yield a, b
            day += timedelta(days=1)


class Layer(Strict):
    """An ordered list of people taking turns, optionally only within restriction windows."""

    members: list[str] = Field(min_length=1)
    rotation: str = "weekly"
    handoff: str = "mon 09:00"
    start: date = DEFAULT_START
    name: str | None = None
    restrictions: list[Restriction] = Field(default_factory=list)

    @field_validator("rotation")
    @classmethod
    def _rotation(cls, v: str) -> str:
        v = v.strip().lower()
        if v not in ("hourly", "daily", "weekly"):
            length = parse_duration(v)
            if length < timedelta(minutes=1):
                raise ValueError("a custom rotation is at least 1m long")
        return v

    @field_validator("handoff", mode="before")
    @classmethod
    def _handoff(cls, v: object) -> str:
        v = " ".join(str(_sexagesimal(v)).strip().lower().split())
        if not _HANDOFF.match(v):
            raise ValueError(f"handoff {v!r} is not `HH:MM` or `mon 09:00`")
        return v

    def _handoff_parts(self) -> tuple[int | None, time]:
        m = _HANDOFF.match(self.handoff)
        assert m is not None
        weekday = WEEKDAYS.index(m.group(1)) if m.group(1) else None
        return weekday, time(int(m.group(2)), int(m.group(3)))

    def _anchor_date(self) -> date:
        weekday, _ = self._handoff_parts()
        return self.start if weekday is None else self.start + timedelta(days=(weekday - self.start.weekday()) % 7)

    def _step_days(self) -> int | None:
        """Calendar days per turn for daily/weekly; None for rotations counted in real time."""
        return {"daily": 1, "weekly": 7}.get(self.rotation)

    def _length(self) -> timedelta:
        return timedelta(hours=1) if self.rotation == "hourly" else parse_duration(self.rotation)

    def handoff_at(self, k: int, tz: ZoneInfo) -> datetime:
        """The UTC instant of handoff number `k` (0 is the first on or after `start`; negative ones before it)."""
        _, hhmm = self._handoff_parts()
        first = localize(datetime.combine(self._anchor_date(), hhmm), tz)
        step = self._step_days()
        if step is None:
            return first + k * self._length()
        return localize(datetime.combine(self._anchor_date() + timedelta(days=k * step), hhmm), tz)

    def shift_index(self, at: datetime, tz: ZoneInfo) -> int:
        """How many handoffs have happened since the first one at `at` (negative before it)."""
        _require_aware(at)
        step = self._step_days()
        if step is None:
            return (at - self.handoff_at(0, tz)) // self._length()
        k = (at.astimezone(tz).date() - self._anchor_date()).days // step
        while self.handoff_at(k, tz) > at:
            k -= 1
        while self.handoff_at(k + 1, tz) <= at:
            k += 1
        return k

    def member(self, k: int) -> str:
        return self.members[k % len(self.members)]

    def _windows(self, start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
        """The restriction windows touching [start, end), merged and sorted (UTC)."""
        first = start.astimezone(tz).date() - timedelta(days=2)
        last = end.astimezone(tz).date() + timedelta(days=1)
        spans = sorted(w for r in self.restrictions for w in r.windows(first, last, tz) if w[1] > start and w[0] < end)
        merged: list[tuple[datetime, datetime]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return merged

    def active(self, at: datetime, tz: ZoneInfo) -> bool:
        """Whether `at` is inside the layer's restrictions (always, without any)."""
        if not self.restrictions:
            return True
        return any(a <= at < b for a, b in self._windows(at, at + timedelta(microseconds=1), tz))

    def on_call(self, at: datetime, tz: ZoneInfo) -> str | None:
        """Who this layer has at `at` (aware): None outside its restrictions."""
        _require_aware(at)
        at = at.astimezone(UTC)
        return self.member(self.shift_index(at, tz)) if self.active(at, tz) else None

    def turns(self, start: datetime, end: datetime, tz: ZoneInfo) -> Iterator[tuple[datetime, datetime, int]]:
        """The rotation's turns (start, end, index) overlapping [start, end), clipped to it, restrictions ignored."""
        k = self.shift_index(start, tz)
        while (a := self.handoff_at(k, tz)) < end:
            b = self.handoff_at(k + 1, tz)
            if b > start and b > a:
                yield max(a, start), min(b, end), k
            k += 1

    def shifts(self, start: datetime, end: datetime, tz: ZoneInfo, *, source: str | None = None) -> list[Shift]:
        """This layer's timeline over [start, end): one shift per turn, split by restrictions into pieces with
        the member and `person=None` pieces outside them. Contiguous, no overlaps, covering the window exactly."""
        _require_aware(start, end)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        label = source or self.name or "layer"
        if start >= end:
            return []
        turns = list(self.turns(start, end, tz))
        if not self.restrictions:
            return [Shift(a, b, self.member(k), label) for a, b, k in turns]
        windows = self._windows(start, end, tz)
        out: list[Shift] = []

        def add(a: datetime, b: datetime, person: str | None) -> None:
            if b <= a:
                return
            if person is None and out and out[-1].person is None:
                out[-1] = Shift(out[-1].start, b, None, label)
            else:
                out.append(Shift(a, b, person, label))

        wi = 0
        for a, b, k in turns:
            cursor = a
            while wi < len(windows) and windows[wi][1] <= cursor:
                wi += 1
            j = wi
            while j < len(windows) and windows[j][0] < b:
                wa, wb = max(windows[j][0], cursor), min(windows[j][1], b)
                add(cursor, wa, None)
                add(wa, wb, self.member(k))
                cursor = wb
                if windows[j][1] > b:
                    break
                j += 1
            add(cursor, b, None)
        return out


class Override(Strict):
    """`person` is on call for [start, end), whoever the layers say. Naive times are in the schedule's zone."""

    person: str
    start: datetime
    end: datetime


class Schedule(Strict):
    timezone: str = "UTC"
    layers: list[Layer] = Field(min_length=1)
    overrides: list[Override] = Field(default_factory=list)

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    @model_validator(mode="after")
    def _localize_overrides(self) -> Self:
        tz = self.zone
        for i, o in enumerate(self.overrides):
            o.start, o.end = aware(o.start, tz), aware(o.end, tz)
            if o.end <= o.start:
                raise ValueError(f"overrides[{i}]: end must be after start")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def layer_label(self, i: int) -> str:
        """How a layer is named in `Shift.source`: `layer 1` is the first (lowest) layer."""
        name = self.layers[i].name
        return f"layer {i + 1}" + (f" ({name})" if name else "")

    def on_call(self, at: datetime) -> str | None:
        """Who is on call at `at` (aware): the latest override covering it, else the highest layer with someone."""
        _require_aware(at)
        at = at.astimezone(UTC)
        for o in reversed(self.overrides):
            if o.start <= at < o.end:
                return o.person
        tz = self.zone
        for layer in reversed(self.layers):
            if (person := layer.on_call(at, tz)) is not None:
                return person
        return None

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """The rendered timeline over [start, end): contiguous pieces, adjacent ones with the same person merged
        (keeping the first piece's source); `person=None` pieces are gaps."""
        _require_aware(start, end)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if start >= end:
            return []
        tz = self.zone
        per_layer = [layer.shifts(start, end, tz, source=self.layer_label(i)) for i, layer in enumerate(self.layers)]
        overrides = [(max(o.start, start), min(o.end, end), o.person) for o in self.overrides]
        overrides = [o for o in overrides if o[0] < o[1]]
        cuts = {start, end}
        for pieces in per_layer:
            cuts.update(s.start for s in pieces)
        for a, b, _ in overrides:
            cuts.update((a, b))
        bounds = sorted(cuts)
        cursors = [0] * len(per_layer)
        out: list[Shift] = []
        for a, b in pairwise(bounds):
            person: str | None = None
            source = "nobody"
            for oa, ob, who in reversed(overrides):
                if oa <= a < ob:
                    person, source = who, "override"
                    break
            else:
                for i in reversed(range(len(per_layer))):
                    pieces = per_layer[i]
                    while pieces[cursors[i]].end <= a:
                        cursors[i] += 1
                    if (holder := pieces[cursors[i]].person) is not None:
                        person, source = holder, pieces[cursors[i]].source
                        break
            if out and out[-1].person == person:
                out[-1] = Shift(out[-1].start, b, person, out[-1].source)
            else:
                out.append(Shift(a, b, person, source))
        return out

    def next_handoffs(self, at: datetime, count: int = 3) -> list[Shift]:
        """The next `count` changes of who is on call after `at`, each as the shift that starts then. Fewer when
        nothing changes within two years (the last shift then ends at that horizon)."""
        _require_aware(at)
        at = at.astimezone(UTC)
        span = timedelta(days=8)
        while True:
            horizon = at + span
            changes = [s for s in self.shifts(at, horizon) if s.start > at]
            if len(changes) > count or span >= NEXT_HANDOFF_HORIZON:
                return changes[:count]
            span = min(span * 4, NEXT_HANDOFF_HORIZON)
