"""On-call schedules: layers, restrictions, overrides and handoffs across the 2026 clock changes; `baton oncall`.

The property tests check the module against an oracle written from the definitions, not from the code: an instant
for a wall-clock time is the first moment the clock reads that time or later, found from the zone's offsets alone.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar
from pydantic import ValidationError

from incident.config import ConfigError, parse_config
from incident.schedule import WEEKDAYS, Layer, Schedule, Shift, localize

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "baton.example.yaml"
BATON = str(Path(sys.executable).parent / "baton")

NY, BERLIN, SYDNEY = ZoneInfo("America/New_York"), ZoneInfo("Europe/Berlin"), ZoneInfo("Australia/Sydney")
ZONES = ["America/New_York", "Europe/Berlin", "Australia/Sydney", "UTC", "Asia/Kolkata"]
# The 2026 clock changes: New York and Berlin spring forward and fall back; Sydney's DST ends, then starts.
CHANGES = {
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
    "Australia/Sydney": [date(2026, 4, 5), date(2026, 10, 4)],
}
DST_DAYS = [day for days in CHANGES.values() for day in days]
NAMES = ["ann", "ben", "cat", "dan", "eve"]
ROTATIONS = ["hourly", "daily", "weekly", "12h", "3d", "90m", "2w"]
H = timedelta(hours=1)
TICK = timedelta(microseconds=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------------------------
# The oracle


@cache
def oracle_instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """The first instant at which the wall clock in `tz` reads `wall` or later.

    Built from offsets only: the zones under test change offset on whole UTC hours, so scanning hours finds every
    change exactly; between changes the wall clock is the instant plus one offset.
    """
    base = wall.replace(tzinfo=UTC)
    lo = base.replace(minute=0, second=0, microsecond=0) - timedelta(hours=30)
    bounds = [lo]
    u = lo
    while u < base + timedelta(hours=30):
        if (u + H).astimezone(tz).utcoffset() != u.astimezone(tz).utcoffset():
            bounds.append(u + H)
        u += H
    bounds.append(u)
    best = None
    for a, b in pairwise(bounds):
        offset = a.astimezone(tz).utcoffset()
        assert offset is not None
        candidate = max(a, base - offset)
        if candidate < b and (best is None or candidate < best):
            best = candidate
    assert best is not None
    return best


def _handoff(layer: Layer) -> tuple[int | None, time]:
    *day, hhmm = layer.handoff.split()
    h, m = hhmm.split(":")
    return (WEEKDAYS.index(day[0]) if day else None), time(int(h), int(m))


def oracle_active(layer: Layer, t: datetime, tz: ZoneInfo) -> bool:
    if not layer.restrictions:
        return True
    today = t.astimezone(tz).date()
    for r in layer.restrictions:
        begin, finish = (time.fromisoformat(x) for x in (r.start, r.end))
        for d in (today - timedelta(days=2), today - timedelta(days=1), today):
            if WEEKDAYS[d.weekday()] not in r.days:
                continue
            a = oracle_instant(datetime.combine(d, begin), tz)
            b = oracle_instant(datetime.combine(d + timedelta(days=finish <= begin), finish), tz)
            if a <= t < b:
                return True
    return False


def oracle_member(layer: Layer, t: datetime, tz: ZoneInfo) -> str | None:
    """Who the layer has at `t`, from the definitions: calendar days for daily/weekly, real time otherwise."""
    if not oracle_active(layer, t, tz):
        return None
    weekday, hhmm = _handoff(layer)
    anchor = layer.start + timedelta(days=(weekday - layer.start.weekday()) % 7 if weekday is not None else 0)
    n = len(layer.members)
    if layer.rotation in ("daily", "weekly"):
        step = 1 if layer.rotation == "daily" else 7
        k = (t.astimezone(tz).date() - anchor).days // step + 1
        while oracle_instant(datetime.combine(anchor + timedelta(days=k * step), hhmm), tz) > t:
            k -= 1
        return layer.members[k % n]
    length = (
        H
        if layer.rotation == "hourly"
        else {"12h": 12 * H, "3d": 72 * H, "90m": 1.5 * H, "2w": 336 * H}[layer.rotation]
    )
    first = oracle_instant(datetime.combine(anchor, hhmm), tz)
    return layer.members[math.floor((t - first) / length) % n]


def oracle_on_call(schedule: Schedule, t: datetime) -> str | None:
    for o in reversed(schedule.overrides):
        if o.start <= t < o.end:
            return o.person
    for layer in reversed(schedule.layers):
        if (who := oracle_member(layer, t, schedule.zone)) is not None:
            return who
    return None


def assert_covers(shifts: list[Shift], start: datetime, end: datetime) -> None:
    assert shifts, "a non-empty window has at least one shift"
    assert shifts[0].start == start and shifts[-1].end == end
    for s in shifts:
        assert s.start < s.end
        assert s.start.utcoffset() == timedelta(0)
    for a, b in pairwise(shifts):
        assert a.end == b.start, f"gap or overlap between {a} and {b}"


# ---------------------------------------------------------------------------------------------------------------
# Strategies


@st.composite
def instants(draw: st.DrawFn, zone: str | None = None) -> datetime:
    """Mostly within three days of one of the zone's 2026 clock changes, sometimes anywhere in 2025-2027."""
    if draw(st.booleans()):
        day = draw(st.sampled_from(CHANGES.get(zone or "", DST_DAYS)))
        return datetime.combine(day, time(), UTC) + timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    return draw(st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)))


hours_of_day = (st.sampled_from([1, 2, 3]) | st.integers(0, 23)).map("{:02d}".format)  # often where clocks change


@st.composite
def restrictions(draw: st.DrawFn) -> dict[str, Any]:
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    start, end = (f"{draw(hours_of_day)}:{draw(st.sampled_from([0, 15, 30, 59])):02d}" for _ in range(2))
    return {"days": days, "start": start, "end": end}


@st.composite
def layers(draw: st.DrawFn, restricted: bool | None = None) -> dict[str, Any]:
    rotation = draw(st.sampled_from(ROTATIONS))
    hhmm = f"{draw(hours_of_day)}:{draw(st.integers(0, 59)):02d}"
    day = draw(st.none() | st.sampled_from(WEEKDAYS)) if rotation in ("weekly", "2w") else None
    layer: dict[str, Any] = {
        "members": draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True)),
        "rotation": rotation,
        "handoff": f"{day} {hhmm}" if day else hhmm,
        "start": draw(st.dates(date(2025, 6, 1), date(2026, 12, 31))).isoformat(),
    }
    if restricted or (restricted is None and draw(st.booleans())):
        layer["restrictions"] = draw(st.lists(restrictions(), min_size=1, max_size=2))
    return layer


@st.composite
def windows(draw: st.DrawFn, zone: str | None = None) -> tuple[datetime, datetime]:
    start = draw(instants(zone))
    return start, start + timedelta(minutes=draw(st.integers(1, 10 * 1440)))


@st.composite
def schedules(draw: st.DrawFn, zone: str) -> Schedule:
    overrides = []
    for _ in range(draw(st.integers(0, 2))):
        start = draw(instants(zone))
        end = start + timedelta(minutes=draw(st.integers(1, 3 * 1440)))
        if draw(st.booleans()):  # naive: wall-clock time in the schedule's zone
            start, end = (t.astimezone(ZoneInfo(zone)).replace(tzinfo=None) for t in (start, end))
            if end <= start:
                continue
        overrides.append({"person": draw(st.sampled_from(NAMES)), "start": start, "end": end})
    return Schedule.model_validate(
        {"timezone": zone, "layers": draw(st.lists(layers(), min_size=1, max_size=3)), "overrides": overrides}
    )


@st.composite
def layer_cases(draw: st.DrawFn) -> tuple[ZoneInfo, Layer, datetime, datetime]:
    zone = draw(st.sampled_from(ZONES))
    return ZoneInfo(zone), Layer.model_validate(draw(layers())), *draw(windows(zone))


@st.composite
def schedule_cases(draw: st.DrawFn) -> tuple[Schedule, datetime, datetime]:
    zone = draw(st.sampled_from(ZONES))
    return draw(schedules(zone)), *draw(windows(zone))


PROPERTY = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------------------------
# Properties


@PROPERTY
@given(
    zone=st.sampled_from(ZONES),
    day=st.sampled_from(DST_DAYS) | st.dates(date(2025, 1, 1), date(2027, 12, 31)),
    minute=st.integers(0, 4 * 60) | st.integers(0, 1439),  # often the small hours, where the clocks change
)
def test_a_wall_time_is_the_first_instant_the_clock_reads_it_or_later(zone: str, day: date, minute: int) -> None:
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    assert localize(wall, ZoneInfo(zone)) == oracle_instant(wall, ZoneInfo(zone))


@PROPERTY
@given(case=layer_cases())
def test_a_layer_covers_any_window_with_its_rotation(case: tuple[ZoneInfo, Layer, datetime, datetime]) -> None:
    tz, lay, start, end = case
    shifts = lay.shifts(start, end, tz)
    assert_covers(shifts, start, end)
    for s in shifts:
        assert s.person in lay.members or (s.person is None and lay.restrictions)
        for t in (s.start, s.start + (s.end - s.start) / 2, s.end - TICK):
            assert oracle_member(lay, t, tz) == s.person, f"at {t} in {s}"
            assert lay.on_call(t, tz) == s.person


@PROPERTY
@given(case=schedule_cases(), points=st.lists(st.floats(0, 1), max_size=8))
def test_a_schedule_renders_one_timeline(case: tuple[Schedule, datetime, datetime], points: list[float]) -> None:
    schedule, start, end = case
    shifts = schedule.shifts(start, end)
    assert_covers(shifts, start, end)
    for a, b in pairwise(shifts):
        assert a.person != b.person, "adjacent pieces with the same person are merged"
    for s in shifts:
        assert (s.person is None) == (s.source == "nobody")
        for t in (s.start, s.end - TICK):
            assert schedule.on_call(t) == s.person == oracle_on_call(schedule, t), f"at {t} in {s}"
    for p in points:
        t = min(start + (end - start) * p, end - TICK)
        piece = next(s for s in shifts if s.start <= t < s.end)
        assert schedule.on_call(t) == piece.person == oracle_on_call(schedule, t)


@pytest.mark.integration
@settings(max_examples=30, deadline=None)
@given(case=schedule_cases())
def test_next_handoffs_are_the_changes_after_the_instant(case: tuple[Schedule, datetime, datetime]) -> None:
    schedule, at, _ = case
    nxt = schedule.next_handoffs(at, 3)
    previous = schedule.on_call(at)
    for s in nxt:
        assert s.start > at and schedule.on_call(s.start) == s.person != previous
        assert schedule.on_call(s.start - TICK) == previous
        previous = s.person
    for a, b in pairwise(nxt):
        assert a.end == b.start


# ---------------------------------------------------------------------------------------------------------------
# The 2026 clock changes


def hours(shifts: list[Shift]) -> list[float]:
    return [s.duration / H for s in shifts]


def test_new_york_daily_handoff_stays_at_nine_local_across_both_changes() -> None:
    layer = Layer(members=["ann", "ben"], rotation="daily", handoff="09:00", start=date(2026, 3, 1))
    spring = layer.shifts(utc(2026, 3, 7, 14), utc(2026, 3, 9, 13), NY)
    assert [s.start for s in spring] == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13)]  # 09:00 EST, then 09:00 EDT
    assert hours(spring) == [23, 24]
    fall = layer.shifts(utc(2026, 10, 31, 13), utc(2026, 11, 2, 14), NY)
    assert [s.start for s in fall] == [utc(2026, 10, 31, 13), utc(2026, 11, 1, 14)]
    assert hours(fall) == [25, 24]


def test_berlin_handoff_at_0230_on_the_night_that_skips_it_and_the_night_that_repeats_it() -> None:
    layer = Layer(members=["ann", "ben"], rotation="daily", handoff="02:30", start=date(2026, 3, 1))
    # 2026-03-29: 02:00 CET jumps to 03:00 CEST, so 02:30 never happens: the handoff is at the jump, 01:00 UTC.
    skip = layer.shifts(utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30), BERLIN)
    assert [s.start for s in skip] == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1)]
    assert skip[1].start.astimezone(BERLIN).strftime("%H:%M %Z") == "03:00 CEST"
    assert hours(skip) == [23.5, 23.5]
    # 2026-10-25: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice: the handoff is at the first, 00:30 UTC.
    repeat = layer.shifts(utc(2026, 10, 24, 0, 30), utc(2026, 10, 26, 1, 30), BERLIN)
    assert [s.start for s in repeat] == [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30)]
    assert repeat[1].start.astimezone(BERLIN).strftime("%H:%M %Z") == "02:30 CEST"
    assert hours(repeat) == [24, 25]
    assert layer.on_call(utc(2026, 10, 25, 1, 29), BERLIN) == layer.on_call(utc(2026, 10, 25, 0, 30), BERLIN)


def test_new_york_handoff_in_the_skipped_hour_happens_at_the_jump() -> None:
    layer = Layer(members=["ann", "ben"], rotation="daily", handoff="02:30", start=date(2026, 3, 1))
    assert layer.handoff_at(7, NY) == utc(2026, 3, 8, 7)  # 03:00 EDT, the first instant after the gap
    assert layer.on_call(utc(2026, 3, 8, 6, 59), NY) != layer.on_call(utc(2026, 3, 8, 7), NY)
    layer = Layer(members=["ann", "ben"], rotation="daily", handoff="01:30", start=date(2026, 10, 1))
    assert layer.handoff_at(31, NY) == utc(2026, 11, 1, 5, 30)  # the first 01:30, EDT


def test_sydney_weekly_sunday_0230_handoff_across_the_southern_changes() -> None:
    layer = Layer(members=["ann", "ben"], rotation="weekly", handoff="sun 02:30", start=date(2026, 3, 1))
    # 2026-04-05: DST ends, 03:00 AEDT goes back to 02:00 AEST; 02:30 happens twice, the first (AEDT) counts.
    autumn = layer.shifts(utc(2026, 3, 28, 15, 30), utc(2026, 4, 11, 16, 30), SYDNEY)
    assert [s.start for s in autumn] == [utc(2026, 3, 28, 15, 30), utc(2026, 4, 4, 15, 30)]
    assert hours(autumn) == [168, 169]
    # 2026-10-04: DST starts, 02:00 AEST jumps to 03:00 AEDT; 02:30 does not happen, the handoff is at the jump.
    spring = layer.shifts(utc(2026, 9, 26, 16, 30), utc(2026, 10, 10, 15, 30), SYDNEY)
    assert [s.start for s in spring] == [utc(2026, 9, 26, 16, 30), utc(2026, 10, 3, 16)]
    assert hours(spring) == [167.5, 167.5]
    assert [s.person for s in autumn + spring] == ["ann", "ben", "ann", "ben"]


@pytest.mark.parametrize(
    ("zone", "week", "expected_hours"),
    [
        (NY, date(2026, 3, 2), 167),  # spring forward inside the week
        (NY, date(2026, 10, 26), 169),  # fall back
        (BERLIN, date(2026, 3, 23), 167),
        (BERLIN, date(2026, 10, 19), 169),
        (SYDNEY, date(2026, 3, 30), 169),  # southern autumn: DST ends
        (SYDNEY, date(2026, 9, 28), 167),  # southern spring: DST starts
    ],
)
def test_weekly_monday_nine_oclock_shift_spanning_a_change(zone: ZoneInfo, week: date, expected_hours: int) -> None:
    layer = Layer(members=["ann", "ben"], rotation="weekly", handoff="mon 09:00", start=date(2026, 1, 5))
    monday_nine = localize(datetime.combine(week, time(9)), zone)
    shift = layer.shifts(monday_nine, monday_nine + timedelta(days=8), zone)[0]
    assert shift.duration / H == expected_hours
    assert shift.start.astimezone(zone).strftime("%a %H:%M") == shift.end.astimezone(zone).strftime("%a %H:%M")
    assert shift.end.astimezone(zone).strftime("%a %H:%M") == "Mon 09:00"


def test_hourly_and_custom_rotations_count_real_time() -> None:
    hourly = Layer(members=["ann", "ben", "cat"], rotation="hourly", handoff="00:00", start=date(2026, 3, 7))
    night = hourly.shifts(utc(2026, 3, 8, 5), utc(2026, 3, 8, 9), NY)
    assert hours(night) == [1, 1, 1, 1]  # 00:00, 01:00, 03:00, 04:00 local: the skipped hour is no turn
    assert [s.start.astimezone(NY).hour for s in night] == [0, 1, 3, 4]
    twelve = Layer(members=["ann", "ben"], rotation="12h", handoff="09:00", start=date(2026, 3, 1))
    after = twelve.shifts(utc(2026, 3, 9, 12), utc(2026, 3, 10, 12), NY)
    assert [s.start.astimezone(NY).strftime("%H:%M") for s in after[1:]] == ["10:00", "22:00"]  # drifted an hour


def test_utc_and_kolkata_have_no_surprises() -> None:
    for zone in (ZoneInfo("UTC"), ZoneInfo("Asia/Kolkata")):
        layer = Layer(members=["ann", "ben"], rotation="daily", handoff="09:00", start=date(2026, 1, 1))
        assert set(hours(layer.shifts(utc(2026, 3, 1), utc(2026, 12, 1), zone)[1:-1])) == {24}


# ---------------------------------------------------------------------------------------------------------------
# Layers, restrictions, overrides, nobody


def office_hours_schedule(**extra: Any) -> Schedule:
    return Schedule.model_validate(
        {
            "timezone": "Europe/Berlin",
            "layers": [
                {"members": ["ann", "ben"], "rotation": "daily", "handoff": "09:00", "start": "2026-03-02"},
                {
                    "name": "office",
                    "members": ["cat"],
                    "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00"}],
                },
            ],
            **extra,
        }
    )


def test_a_weekday_office_hours_layer_wins_over_the_round_the_clock_layer_across_dst() -> None:
    s = office_hours_schedule()
    timeline = s.shifts(utc(2026, 3, 27, 7), utc(2026, 3, 31, 7))  # Fri 08:00 CET .. Tue 09:00 CEST
    assert [(x.start, x.person, x.source) for x in timeline] == [
        (utc(2026, 3, 27, 7), "ann", "layer 1"),  # Thursday's daily turn until 09:00 Friday
        (utc(2026, 3, 27, 8), "cat", "layer 2 (office)"),  # Fri 09:00-17:00 CET
        (utc(2026, 3, 27, 16), "ben", "layer 1"),  # Friday's turn resumes at 17:00
        (utc(2026, 3, 28, 8), "ann", "layer 1"),  # Sat 09:00 CET
        (utc(2026, 3, 29, 7), "ben", "layer 1"),  # Sun 09:00 CEST: clocks changed overnight
        (utc(2026, 3, 30, 7), "cat", "layer 2 (office)"),  # Mon 09:00-17:00 CEST
        (utc(2026, 3, 30, 15), "ann", "layer 1"),
    ]
    assert s.on_call(utc(2026, 3, 28, 12)) == "ann"  # Saturday
    assert s.on_call(utc(2026, 3, 30, 14, 59)) == "cat" and s.on_call(utc(2026, 3, 30, 15)) == "ann"


def test_a_window_whose_end_is_before_its_start_runs_past_midnight() -> None:
    layer = Layer(members=["ann"], rotation="daily", restrictions=[{"days": ["fri"], "start": "22:00", "end": "06:00"}])
    pieces = layer.shifts(utc(2026, 3, 6), utc(2026, 3, 8), ZoneInfo("UTC"))
    assert [(p.start, p.person) for p in pieces if p.person] == [(utc(2026, 3, 6, 22), "ann")]
    assert next(p for p in pieces if p.person).end == utc(2026, 3, 7, 6)
    always = Layer(members=["ann"], restrictions=[{"start": "09:00", "end": "09:00"}])
    assert {p.person for p in always.shifts(utc(2026, 3, 6), utc(2026, 3, 20), NY)} == {"ann"}


def test_overrides_replace_the_layers_and_the_latest_listed_wins() -> None:
    s = office_hours_schedule(
        overrides=[
            {"person": "dan", "start": "2026-03-28T12:00:00", "end": "2026-03-29T12:00:00"},  # naive: Berlin time
            {"person": "eve", "start": datetime(2026, 3, 28, 20, tzinfo=UTC), "end": datetime(2026, 3, 28, 22)},
        ]
    )
    assert s.overrides[0].start == utc(2026, 3, 28, 11) and s.overrides[0].end == utc(2026, 3, 29, 10)
    assert s.overrides[1].end == utc(2026, 3, 28, 21)  # 22:00 Berlin
    timeline = [(x.start, x.end, x.person, x.source) for x in s.shifts(utc(2026, 3, 28, 8), utc(2026, 3, 29, 12))]
    assert timeline == [
        (utc(2026, 3, 28, 8), utc(2026, 3, 28, 11), "ann", "layer 1"),
        (utc(2026, 3, 28, 11), utc(2026, 3, 28, 20), "dan", "override"),
        (utc(2026, 3, 28, 20), utc(2026, 3, 28, 21), "eve", "override"),
        (utc(2026, 3, 28, 21), utc(2026, 3, 29, 10), "dan", "override"),
        (utc(2026, 3, 29, 10), utc(2026, 3, 29, 12), "ben", "layer 1"),
    ]
    assert [(x.start, x.person) for x in s.next_handoffs(utc(2026, 3, 28, 9))] == [
        (utc(2026, 3, 28, 11), "dan"),
        (utc(2026, 3, 28, 20), "eve"),
        (utc(2026, 3, 28, 21), "dan"),
    ]


def test_nobody_is_on_call_where_no_layer_has_anyone() -> None:
    s = Schedule.model_validate(
        {
            "timezone": "America/New_York",
            "layers": [{"members": ["ann"], "restrictions": [{"days": ["mon"], "start": "09:00", "end": "17:00"}]}],
        }
    )
    assert s.on_call(utc(2026, 3, 9, 12, 59)) is None
    assert s.on_call(utc(2026, 3, 9, 13)) == "ann"  # Monday 09:00 EDT
    timeline = s.shifts(utc(2026, 3, 9), utc(2026, 3, 10))
    assert [(x.start, x.person, x.source) for x in timeline] == [
        (utc(2026, 3, 9), None, "nobody"),
        (utc(2026, 3, 9, 13), "ann", "layer 1"),
        (utc(2026, 3, 9, 21), None, "nobody"),
    ]
    assert [(x.start, x.person) for x in s.next_handoffs(utc(2026, 3, 9, 14), 2)] == [
        (utc(2026, 3, 9, 21), None),
        (utc(2026, 3, 16, 13), "ann"),
    ]


def test_a_schedule_that_never_changes_has_no_next_handoff() -> None:
    s = Schedule(layers=[Layer(members=["ann"])])
    assert s.next_handoffs(utc(2026, 1, 1)) == []
    assert s.shifts(utc(2026, 1, 1), utc(2026, 2, 1)) == [Shift(utc(2026, 1, 1), utc(2026, 2, 1), "ann", "layer 1")]


def test_naive_instants_are_refused() -> None:
    s = Schedule(layers=[Layer(members=["ann"])])
    with pytest.raises(ValueError, match="timezone-aware"):
        s.on_call(datetime(2026, 1, 1))


def test_schedule_fields_are_validated() -> None:
    bad = [
        ({"timezone": "Mars/Olympus", "layers": [{"members": ["a"]}]}, "unknown time zone"),
        ({"layers": []}, "at least 1"),
        ({"layers": [{"members": ["a"], "rotation": "30s"}]}, "at least 1m"),
        ({"layers": [{"members": ["a"], "handoff": "25:00"}]}, "handoff"),
        (
            {"layers": [{"members": ["a"], "restrictions": [{"days": ["funday"], "start": "09:00", "end": "17:00"}]}]},
            "not a weekday",
        ),
        ({"layers": [{"members": ["a"], "restrictions": [{"start": "9am", "end": "17:00"}]}]}, "HH:MM"),
        (
            {
                "layers": [{"members": ["a"]}],
                "overrides": [{"person": "a", "start": "2026-01-02", "end": "2026-01-01"}],
            },
            "end must be after start",
        ),
        ({"layers": [{"members": ["a"], "colour": "red"}]}, "Extra inputs"),
    ]
    for data, message in bad:
        with pytest.raises(ValidationError, match=message):
            Schedule.model_validate(data)


def test_unquoted_yaml_times_and_day_names_are_read_as_written() -> None:
    text = """
    timezone: Europe/Berlin
    layers:
      - members: [ann]
        handoff: 17:30        # YAML 1.1 reads this as 1050 (base 60)
        restrictions: [{days: [Monday, tues, FRI], start: 9:00, end: 17:00}]
    overrides: [{person: ann, start: 2026-12-24, end: 2026-12-24 18:00}]
    """
    s = Schedule.model_validate(yaml.safe_load(text))
    assert s.layers[0].handoff == "17:30"
    assert s.layers[0].restrictions[0].model_dump() == {"days": ["mon", "tue", "fri"], "start": "09:00", "end": "17:00"}
    assert (s.overrides[0].start, s.overrides[0].end) == (utc(2026, 12, 23, 23), utc(2026, 12, 24, 17))


def test_the_config_checks_override_people() -> None:
    text = EXAMPLE.read_text().replace("person: dave", "person: davd")
    with pytest.raises(ConfigError) as e:
        parse_config(text)
    [problem] = e.value.problems
    assert problem.path == "schedules.payments-primary.overrides[0].person"
    assert "unknown person 'davd'" in problem.message and problem.line is not None


async def test_paging_reports_a_schedule_with_nobody_on_call() -> None:
    import httpx

    from activities.paging import PagingActivities, TargetsRequest

    config = parse_config(
        EXAMPLE.read_text().replace(
            '- {members: [alice, bob], rotation: weekly, handoff: "mon 09:00", start: 2026-01-05}',
            '- {members: [alice, bob], restrictions: [{days: [mon], start: "09:00", end: "10:00"}]}',
        )
    )
    async with httpx.AsyncClient() as http:
        acts = PagingActivities(config, http)
        result = await acts.lookup_targets(
            TargetsRequest(targets=["schedule:payments-primary", "user:dave"], at=utc(2026, 3, 10, 12))
        )
    assert [r.person for r in result.recipients] == ["dave"]
    assert result.problems == ["schedule:payments-primary: nobody is on call"]


# ---------------------------------------------------------------------------------------------------------------
# `baton oncall` on the shipped example


def baton(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"BATON_CONFIG": str(EXAMPLE), "TEMPORAL_ADDRESS": "127.0.0.1:9", "COLUMNS": "120"}
    return subprocess.run([BATON, "oncall", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.integration
def test_oncall_text_shows_every_schedule_with_local_and_utc_times() -> None:
    run = baton("--at", "2026-03-06T12:00-05:00")
    assert run.returncode == 0, run.stderr
    assert "payments-primary" in run.stdout and "platform-primary" in run.stdout
    assert "on call at Fri 2026-03-06 12:00 EST (2026-03-06 17:00 UTC): alice" in run.stdout
    assert "Mon 2026-03-09 09:00 EDT  2026-03-09 13:00 UTC  bob" in run.stdout  # after spring forward


@pytest.mark.integration
def test_oncall_json_shape_and_an_instant_in_the_past() -> None:
    run = baton("--json", "--at", "2026-01-06T16:00")  # naive: each schedule's own zone
    assert run.returncode == 0, run.stderr
    views = json.loads(run.stdout)
    assert [v["schedule"] for v in views] == ["payments-primary", "platform-primary"]
    for v in views:
        assert set(v) == {"schedule", "timezone", "at", "on_call", "next"}
        assert len(v["next"]) == 3 and all(set(n) == {"start", "end", "person"} for n in v["next"])
        times = [datetime.fromisoformat(v["at"])] + [datetime.fromisoformat(n["start"]) for n in v["next"]]
        assert all(t.tzinfo is not None for t in times) and times == sorted(times)
    payments, platform = views
    assert payments["at"] == "2026-01-06T16:00:00-05:00" and payments["on_call"] == "alice"
    assert payments["next"][0] == {
        "start": "2026-01-12T09:00:00-05:00",
        "end": "2026-01-19T09:00:00-05:00",
        "person": "bob",
    }
    assert platform["at"] == "2026-01-06T16:00:00+01:00" and platform["on_call"] == "erin"  # office hours
    assert platform["next"][0] == {
        "start": "2026-01-07T17:00:00+01:00",
        "end": "2026-01-08T09:00:00+01:00",
        "person": "carol",
    }


@pytest.mark.integration
def test_oncall_shows_the_override() -> None:
    run = baton("payments-primary", "--json", "--at", "2026-12-25T12:00")
    assert run.returncode == 0, run.stderr
    [v] = json.loads(run.stdout)
    assert v["on_call"] == "dave" and v["next"][0]["start"] == "2026-12-27T09:00:00-05:00"


@pytest.mark.integration
def test_oncall_refuses_an_unknown_schedule_and_an_unreadable_time() -> None:
    run = baton("no-such-schedule")
    assert run.returncode == 2 and "unknown schedule 'no-such-schedule'" in run.stderr and not run.stdout
    run = baton("--at", "next tuesday")
    assert run.returncode == 2 and "cannot read the time" in run.stderr
    run = baton("--ical")
    assert run.returncode == 2 and "needs a SCHEDULE" in run.stderr


@pytest.mark.integration
def test_oncall_ical_is_a_contiguous_feed_with_stable_uids() -> None:
    first = baton("--ical", "platform-primary", "--days", "14", "--at", "2026-03-25T10:00Z")
    later = baton("--ical", "platform-primary", "--days", "14", "--at", "2026-03-25T11:00Z")
    assert first.returncode == 0 and later.returncode == 0, first.stderr + later.stderr
    events = [Calendar.from_ical(r.stdout).walk("VEVENT") for r in (first, later)]
    for evs in events:
        starts = [e.decoded("dtstart") for e in evs]
        ends = [e.decoded("dtend") for e in evs]
        assert all(t.utcoffset() == timedelta(0) for t in starts + ends)
        assert starts[0] <= utc(2026, 3, 25, 10) and ends[-1] >= utc(2026, 4, 8, 10)
        assert ends[:-1] == starts[1:], "events follow each other without gaps or overlaps"
        assert all(str(e["summary"]).startswith("On call: ") and "(platform-primary)" in str(e["summary"]) for e in evs)
        assert len({str(e["uid"]) for e in evs}) == len(evs)
    assert [str(e["uid"]) for e in events[0]] == [str(e["uid"]) for e in events[1]]
    wednesday = events[0][0]
    assert wednesday["summary"] == "On call: erin (platform-primary)"  # office hours: Wed 09:00-17:00 CET
    assert wednesday.decoded("dtstart") == utc(2026, 3, 25, 8)
