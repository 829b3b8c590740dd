"""Contact rules: per urgency, which methods reach a person and how long after the page each one goes.

`people.NAME.contact.high: [{method: slack, after: 0s}, {method: sms, after: 2m}, {method: voice, after: 5m}]` says
"Slack at once, SMS after two minutes, a call after five", each step going out unless someone acknowledged first.
The incident's severity picks the urgency (`urgency:` at the top of the config). A step with `working_hours: true`
goes at its time if that is within the person's working hours (in their `timezone`), else when they next begin:
low-urgency email waits for the morning instead of being dropped, and an acknowledgement meanwhile still stops it.

The lookup activity plans the steps (it has the config and the clock's zone data); the workflow only waits for each
step's instant, so nothing time-zone related runs in workflow code.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from incident.durations import Duration
from incident.fields import Strict
from incident.models import PlannedStep, Severity
from incident.schedule import localize

Urgency = Literal["high", "low"]
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_URGENCY: dict[Severity, Urgency] = {
    Severity.SEV0: "high",
    Severity.SEV1: "high",
    Severity.SEV2: "high",
    Severity.SEV3: "low",
    Severity.SEV4: "low",
}
MAX_STEPS = 10
"""Steps per urgency: each is a timer and a delivery of its own, so the list stays short."""


class ContactStep(Strict):
    method: Literal["slack", "email", "webhook", "pagerduty", "sms", "voice", "log"]
    after: Duration = Field(default=timedelta(0), description="how long after the page this step goes")
    working_hours: bool = Field(
        default=False, description="only within the person's working hours: outside them, it waits for the next start"
    )


class ContactRules(Strict):
    high: list[ContactStep] | None = Field(None, max_length=MAX_STEPS)
    low: list[ContactStep] | None = Field(None, max_length=MAX_STEPS)

    def steps(self, urgency: Urgency) -> list[ContactStep] | None:
        return self.high if urgency == "high" else self.low


class WorkingHours(Strict):
    """When a person works, on their own clock (`people.NAME.timezone`)."""

    days: list[Day] = Field(default_factory=lambda: list(DAYS[:5]), min_length=1)
    start: str = "09:00"
    end: str = "17:00"

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, v: str) -> str:
        try:
            time.fromisoformat(v)
        except ValueError:
            raise ValueError(f"{v!r} is not a time of day such as 09:00") from None
        return v

    @model_validator(mode="after")
    def _order(self) -> WorkingHours:
        if time.fromisoformat(self.end) <= time.fromisoformat(self.start):
            raise ValueError("working hours end after they start (on the same day)")
        return self

    def next_start(self, at: datetime, tz: str) -> datetime:
        """`at` if it is within working hours, else when they next begin."""
        zone = ZoneInfo(tz)
        local_day: date = at.astimezone(zone).date()
        start, end = time.fromisoformat(self.start), time.fromisoformat(self.end)
        for offset in range(8):
            day = local_day + timedelta(days=offset)
            if DAYS[day.weekday()] not in self.days:
                continue
            opens = localize(datetime.combine(day, start), zone)
            closes = localize(datetime.combine(day, end), zone)
            if at < closes:
                return max(at, opens)
        raise AssertionError("a week always has a working day")  # days has at least one entry


def plan(rules: ContactRules | None, hours: WorkingHours, tz: str, urgency: Urgency, at: datetime) -> list[PlannedStep]:
    """The instants a page sent at `at` reaches the person by each step; empty without rules for `urgency`."""
    steps = rules.steps(urgency) if rules is not None else None
    out = []
    for step in steps or []:
        when = at + step.after
        if step.working_hours:
            when = hours.next_start(when, tz)
        out.append(PlannedStep(method=step.method, after=step.after, at=when, working_hours=step.working_hours))
    return out
