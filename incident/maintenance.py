"""Maintenance windows: a time when a service (or the alerts a label matcher picks) is being worked on on purpose.

While a window is open, a matching alert is recorded by the window (counted, kept on a bounded suppressed list)
and pages no one; open incidents of the window's service hold their escalation and their queued notices. When the
window ends, each suppressed alert still firing opens its incident through the normal path, as if it had just
come. A human opens a window; an agent's request is decided by the boundaries (`maintenance`, default approval).

Pure: the window's workflow (`workflows.maintenance`) keeps a `Window` and asks this module what it means.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from incident.models import Alert, AlertAction

ACTION = "maintenance"
"""The boundary action an agent's request for a window is decided as."""
MAX_DURATION = timedelta(days=7)
MAX_AHEAD = timedelta(days=30)
"""How far in the future a window may start."""
MAX_MESSAGE = 500
MAX_LABELS = 10
MAX_SUPPRESSED = 100
"""Suppressed alerts kept on the window's list (the most recent); the total counts them all."""
MAX_FIRING = 200
"""Distinct alert keys the window remembers as still firing, to open at its end; past it they are counted."""
MAX_KEPT_BYTES = 4_000
"""An alert kept to open at the end, encoded, at most: a larger one keeps its summary and labels, not its details
(so the window's state, carried across continue-as-new, stays well under Temporal's 2 MB)."""
MAX_TOUCHED = 200
"""Open incidents a window holds (and tells at its end)."""
WINDOW_ID = re.compile(r"^MW-[0-9A-Z]{6}$")
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")

Status = Literal["scheduled", "open", "ended"]


class Matcher(BaseModel):
    """Which alerts a window takes: those of `service` (any when None) whose labels include every one of `labels`."""

    service: str | None = Field(None, max_length=100)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        if len(v) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels")
        for k, val in v.items():
            if not _LABEL.match(k):
                raise ValueError(f"label name {k[:100]!r} is not letters, digits, _ . - (starting with a letter)")
            if not val or len(val) > 200:
                raise ValueError(f"label {k} needs a value of 1 to 200 characters")
        return v

    @model_validator(mode="after")
    def _something(self) -> Matcher:
        if self.service is None and not self.labels:
            raise ValueError("a window needs a service or at least one label to match")
        return self

    def matches(self, alert: Alert) -> bool:
        if self.service is not None and alert.service != self.service:
            return False
        return all(alert.labels.get(k) == v for k, v in self.labels.items())

    @property
    def whole_service(self) -> bool:
        """A window for a whole service holds that service's open incidents; a label matcher only new alerts."""
        return self.service is not None and not self.labels

    def describe(self) -> str:
        parts = [self.service] if self.service else []
        parts += [f"{k}={v}" for k, v in sorted(self.labels.items())]
        return " ".join(p for p in parts if p)


def parse_matcher(target: str) -> Matcher:
    """`checkout`, `team=db`, or `checkout team=db,env=prod`: a service, labels, or both. ValueError in words."""
    service: str | None = None
    labels: dict[str, str] = {}
    for word in target.replace(",", " ").split():
        if "=" in word:
            k, _, v = word.partition("=")
            labels[k.strip()] = v.strip()
        elif service is None:
            service = word
        else:
            raise ValueError(f"{target[:100]!r} names two services; give one service and labels as NAME=VALUE")
    try:
        return Matcher(service=service, labels=labels)
    except ValidationError as e:
        first = e.errors()[0]
        raise ValueError(str(first["msg"]).removeprefix("Value error, ")) from None


class Spec(BaseModel):
    """A window as asked for: fixed once it starts (an early end is the only change). Its times are the
    workflow's own: `starts_at` when given, else `starts_in` after the workflow started; it lasts `duration`."""

    id: str
    matcher: Matcher
    duration: timedelta
    starts_at: datetime | None = None
    starts_in: timedelta = timedelta(0)
    message: str = Field("", max_length=MAX_MESSAGE)
    opened_by: str = Field(max_length=200)


def check_times(duration: timedelta, starts_in: timedelta) -> str | None:
    """What is wrong with a window's times, in words; None when they are fine."""
    if duration <= timedelta(0):
        return "`for` must be a positive duration, e.g. 2h"
    if duration > MAX_DURATION:
        return f"`for` is at most {MAX_DURATION.days}d"
    if starts_in > MAX_AHEAD:
        return f"a window starts at most {MAX_AHEAD.days}d ahead"
    return None


class Suppressed(BaseModel):
    """One alert the window took instead of an incident."""

    at: datetime
    key: str
    workflow_id: str
    service: str
    summary: str
    action: AlertAction
    source: str


class Window(BaseModel):
    """Everything a window is; carried across continue-as-new, bounded."""

    spec: Spec
    status: Status = "scheduled"
    starts_at: datetime | None = Field(None, description="set when the workflow first runs")
    ends_at: datetime | None = None
    opened_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: str | None = None
    suppressed: list[Suppressed] = Field(default_factory=list)
    suppressed_total: int = 0
    firing: dict[str, list[Alert]] = Field(
        default_factory=dict, description="workflow id -> the last trigger per alert key still firing"
    )
    firing_dropped: int = Field(0, description="firing alert keys past `MAX_FIRING`: not opened at the end")
    held: list[str] = Field(default_factory=list, description="open incidents (workflow ids) the window holds")
    released: bool = Field(False, description="the incidents held were told of the end")
    reopened: list[str] = Field(default_factory=list, description="incidents opened at the end for what still fired")

    def take(self, wid: str, alert: Alert, now: datetime) -> None:
        """Record one alert: on the list, counted, and its key added to (or, a resolve, removed from) what fires."""
        self.suppressed_total += 1
        self.suppressed.append(
            Suppressed(
                at=now,
                key=alert.key[:200],
                workflow_id=wid[:300],
                service=alert.service,
                summary=alert.summary[:200],
                action=alert.action,
                source=alert.source,
            )
        )
        del self.suppressed[:-MAX_SUPPRESSED]
        batch = self.firing.get(wid, [])
        rest = [a for a in batch if a.key != alert.key]
        if alert.action is AlertAction.TRIGGER:
            if len(rest) == len(batch) and self.firing_keys >= MAX_FIRING:
                self.firing_dropped += 1
                return
            rest.append(kept(alert))
        if alert.action is AlertAction.ACKNOWLEDGE:
            return  # an acknowledgement from the source does not stop it firing
        if rest:
            self.firing[wid] = rest
        else:
            self.firing.pop(wid, None)

    @property
    def firing_keys(self) -> int:
        return sum(len(b) for b in self.firing.values())


def kept(alert: Alert) -> Alert:
    """`alert` as the window keeps it to open at its end: bounded in size."""
    if len(alert.model_dump_json()) <= MAX_KEPT_BYTES:
        return alert
    slim = alert.model_copy(
        update={"details": {"trimmed": "details too large to keep through the maintenance window"}, "links": []}
    )
    if len(slim.model_dump_json()) <= MAX_KEPT_BYTES:
        return slim
    return slim.model_copy(update={"labels": {}, "summary": alert.summary[:500]})


class WindowView(BaseModel):
    """What `baton maintenance list/show` and the API show of a window."""

    id: str
    target: str
    service: str | None
    labels: dict[str, str]
    status: Status
    starts_at: datetime | None
    ends_at: datetime | None
    message: str
    opened_by: str
    ended_by: str | None
    ended_at: datetime | None
    suppressed_total: int
    still_firing: int
    held: list[str]
    reopened: list[str]
    suppressed: list[Suppressed]

    @classmethod
    def of(cls, w: Window) -> WindowView:
        s = w.spec
        return cls(
            id=s.id,
            target=s.matcher.describe(),
            service=s.matcher.service,
            labels=s.matcher.labels,
            status=w.status,
            starts_at=w.starts_at,
            ends_at=w.ended_at or w.ends_at,
            message=s.message,
            opened_by=s.opened_by,
            ended_by=w.ended_by,
            ended_at=w.ended_at,
            suppressed_total=w.suppressed_total,
            still_firing=w.firing_keys,
            held=w.held,
            reopened=w.reopened,
            suppressed=w.suppressed,
        )


class Notice(BaseModel):
    """What an incident is told when a window holding it starts (`start`) or ends."""

    window_id: str
    start: bool
    target: str = ""
    message: str = Field("", max_length=MAX_MESSAGE)
    by: str = ""
    until: datetime | None = None
    reopened: bool = Field(False, description="alerts the window held opened or joined the incident at its end")


class Hold(BaseModel):
    """On an incident: the window holding its escalation and queued notices, until its end is told."""

    window_id: str
    since: datetime
    until: datetime | None = None
    message: str = ""


class HoldRequest(BaseModel):
    """The `maintenance_hold` activity: tell the open incidents of `service` that the window holds them."""

    service: str
    notice: Notice


class ReleaseRequest(BaseModel):
    """The `maintenance_release` activity: tell the incidents a window held that it ended."""

    workflow_ids: list[str]
    notice: Notice


class ReopenRequest(BaseModel):
    """The `maintenance_reopen` activity: what still fires of one incident's alerts, through the normal opening."""

    workflow_id: str
    alerts: list[Alert]
    notice: Notice | None = None
    """Told to the incident once the alerts are in it: the window is on its timeline."""
