"""Heartbeat monitors: a job that should ping every so often, and what a missed ping means.

`heartbeats: {nightly-backup: {service: billing, every: 24h, grace: 1h}}` in the config. A job pings
`POST /v1/heartbeats/NAME`; a monitor is armed by its first ping, and when no ping comes within `every + grace` of
the last one, an incident opens for the service, as an alert would open it. The next ping resolves that alert (the
service's `on_recovery` decides what happens to the incident). The alerts a monitor sends share one dedup key, so
a second miss while the incident is open joins it.

Pure: the workflow (`workflows.heartbeat`) keeps a `Beat` and asks this module what it means.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from incident.durations import Duration, format_duration
from incident.fields import PositiveDuration, Strict
from incident.models import Alert, AlertAction, Severity

SOURCE = "heartbeat"
"""The alerts' source: their incidents' workflow ids are `incident:heartbeat:NAME`."""


class Heartbeat(Strict):
    """One monitor: the service whose incident a missed ping opens, and how often a ping must come."""

    service: str
    every: PositiveDuration = Field(description="how often the job pings, e.g. 24h")
    grace: Duration = Field(
        default="5m", validate_default=True, description="how late a ping may be before it counts as missed"
    )
    severity: Severity = Field(Severity.SEV3, description="the severity the incident for a missed ping opens at")
    summary: str | None = Field(None, max_length=300, description="the incident's title (default: NAME missed…)")


class Spec(BaseModel):
    """What a monitor's workflow needs of its config entry; every ping carries it, so a config change applies at
    the next ping."""

    name: str
    service: str
    every: Duration
    grace: Duration
    severity: Severity = Severity.SEV3
    summary: str | None = None

    @classmethod
    def of(cls, name: str, hb: Heartbeat) -> Spec:
        return cls(
            name=name, service=hb.service, every=hb.every, grace=hb.grace, severity=hb.severity, summary=hb.summary
        )

    @property
    def allowance(self) -> timedelta:
        return self.every + self.grace


class Beat(BaseModel):
    """A monitor's state: small and fixed in size, carried across continue-as-new."""

    spec: Spec
    last_ping: datetime | None = None
    armed_at: datetime | None = Field(None, description="when the clock last started: a ping, or a resume")
    pings: int = 0
    paused: bool = False
    paused_by: str | None = None
    pause_reason: str | None = None
    missed: bool = Field(False, description="a miss opened an incident that no ping has recovered yet")
    misses: int = 0
    missed_at: datetime | None = None
    recovering: bool = Field(False, description="a ping came after a miss: its resolve is still to be sent")

    @property
    def deadline(self) -> datetime | None:
        """When a ping is due at the latest; None while paused, missed (waiting for the next ping) or unarmed."""
        if self.paused or self.missed or self.armed_at is None:
            return None
        return self.armed_at + self.spec.allowance

    @property
    def status(self) -> str:
        if self.paused:
            return "paused"
        if self.missed:
            return "missed"
        return "ok" if self.armed_at is not None else "waiting"


class HeartbeatView(BaseModel):
    """One monitor as `baton heartbeats` and `GET /v1/heartbeats` show it."""

    name: str
    service: str
    every: Duration
    grace: Duration
    status: str = Field(description="ok, missed, paused, or never (no ping yet: the monitor is not armed)")
    last_ping: datetime | None = None
    next_deadline: datetime | None = None
    pings: int = 0
    misses: int = 0
    paused_by: str | None = None
    pause_reason: str | None = None

    @classmethod
    def of(cls, spec: Spec, beat: Beat | None) -> HeartbeatView:
        """`spec` from the config as it is now; `beat` what the monitor's workflow knows (None: never started)."""
        if beat is None:
            return cls(name=spec.name, service=spec.service, every=spec.every, grace=spec.grace, status="never")
        status = "never" if beat.status == "waiting" else beat.status
        return cls(
            name=spec.name,
            service=spec.service,
            every=spec.every,
            grace=spec.grace,
            status=status,
            last_ping=beat.last_ping,
            next_deadline=beat.deadline,
            pings=beat.pings,
            misses=beat.misses,
            paused_by=beat.paused_by,
            pause_reason=beat.pause_reason,
        )


def missed_alert(beat: Beat, now: datetime) -> Alert:
    """The alert a missed ping opens (or joins) the service's incident with. Its delivery id names the miss, so a
    retried delivery is counted once."""
    spec = beat.spec
    last = f"last ping {beat.last_ping:%Y-%m-%d %H:%M:%S} UTC" if beat.last_ping else "no ping since it was resumed"
    summary = spec.summary or f"heartbeat {spec.name} missed: no ping for {format_duration(spec.allowance)} ({last})"
    return Alert(
        source=SOURCE,
        dedup_key=spec.name,
        event_id=f"{spec.name}:miss:{beat.misses}",
        action=AlertAction.TRIGGER,
        summary=summary[:1024],
        service=spec.service,
        severity=spec.severity,
        origin=spec.name,
        details={
            "heartbeat": spec.name,
            "every": format_duration(spec.every),
            "grace": format_duration(spec.grace),
            "last_ping": beat.last_ping.isoformat() if beat.last_ping else None,
            "deadline": (now if beat.armed_at is None else beat.armed_at + spec.allowance).isoformat(),
        },
        labels={"heartbeat": spec.name},
        received_at=now,
    )


def recovered_alert(beat: Beat, now: datetime) -> Alert:
    """The resolve event the first ping after a miss sends: the same key, so it recovers the alert that opened."""
    spec = beat.spec
    return Alert(
        source=SOURCE,
        dedup_key=spec.name,
        event_id=f"{spec.name}:recovered:{beat.misses}",
        action=AlertAction.RESOLVE,
        summary=f"heartbeat {spec.name} pinged again at {now:%Y-%m-%d %H:%M:%S} UTC",
        service=spec.service,
        severity=spec.severity,
        origin=spec.name,
        details={"heartbeat": spec.name, "ping": now.isoformat()},
        labels={"heartbeat": spec.name},
        received_at=now,
    )
