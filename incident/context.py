"""What a page carries besides the alert: recent changes and suspects, metric and log highlights, links.

Providers (activities/context/) fill these in; this module only holds the shapes and the pure logic that picks
suspects, so the workflow can decide deterministically.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from incident.links import Link


class Change(BaseModel):
    """A deploy or another change to a service: posted to /v1/changes, or read from GitHub deployments."""

    service: str
    version: str | None = None
    author: str | None = None
    description: str | None = None
    link: str | None = None
    at: datetime
    source: str = "baton"
    kind: str = Field("deploy", description="deploy, config, feature-flag, migration, …")

    @field_validator("at")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        """A time without a zone is read as UTC: compared with zoned times it would fail whoever sorts them."""
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v


CHANGES_ANSWERED = 100
"""At most this many changes answer one lookup (the most recent)."""
CHANGES_ANSWER_BYTES = 256_000
"""And at most this many bytes of them: an answer becomes an activity result in the incident's history, where
Temporal refuses payloads over 2 MB."""


CHANGE_FIELD_CHARS = 4000
"""What the intake lets a change field hold; a longer one (from elsewhere) is cut to this in an answer."""


def size_of(change: Change) -> int:
    return len(change.model_dump_json())


def shrunk(change: Change) -> Change:
    """The change with every text field cut to CHANGE_FIELD_CHARS."""
    long = {
        name: value[:CHANGE_FIELD_CHARS] + "…"
        for name, value in change.model_dump().items()
        if isinstance(value, str) and len(value) > CHANGE_FIELD_CHARS
    }
    return change.model_copy(update=long) if long else change


def most_recent(
    changes: list[Change], limit: int = CHANGES_ANSWERED, budget: int = CHANGES_ANSWER_BYTES
) -> list[Change]:
    """The newest changes that fit `limit` and `budget`, oldest first, each `shrunk`."""
    kept: list[Change] = []
    used = 0
    for c in sorted(changes, key=lambda c: c.at, reverse=True):
        if len(kept) >= limit:
            break
        c = shrunk(c)
        n = size_of(c)
        if used + n > budget:
            continue
        kept.append(c)
        used += n
    return kept[::-1]


class Suspect(BaseModel):
    change: Change
    before: timedelta = Field(description="how long before the alert the change happened")

    @property
    def text(self) -> str:
        c = self.change
        what = f"{c.service} {c.version}" if c.version else c.service
        verb = "deployed" if c.kind == "deploy" else f"changed ({c.kind})"
        who = f" by {c.author}" if c.author else ""
        minutes = max(0, int(self.before.total_seconds() // 60))
        return f"{what} {verb}{who} {minutes} min before the alert"


class MetricSummary(BaseModel):
    name: str
    query: str
    unit: str = ""
    current: float | None = None
    before: float | None = Field(None, description="the value just before the alert's window")
    trend: str = Field("", description="a compact sparkline, oldest to newest")
    link: str | None = None


class LogLine(BaseModel):
    text: str
    count: int


class LogSummary(BaseModel):
    query: str
    total: int
    top: list[LogLine] = Field(default_factory=list)
    link: str | None = None


class ContextPart(BaseModel):
    """What one provider found, or why it found nothing. A failure never blocks the page."""

    provider: Literal["changes", "github", "metrics", "logs"]
    ok: bool = True
    error: str | None = None
    changes: list[Change] = Field(default_factory=list)
    metrics: list[MetricSummary] = Field(default_factory=list)
    logs: LogSummary | None = None


class ContextRequest(BaseModel):
    """What a context provider activity is asked: for which service, around which alert, within how long."""

    service: str
    alert_at: datetime
    timeout_s: float = Field(2.0, gt=0, description="the provider's whole budget, network included")


class PageContext(BaseModel):
    suspects: list[Suspect] = Field(default_factory=list)
    metrics: list[MetricSummary] = Field(default_factory=list)
    logs: LogSummary | None = None
    links: list[Link] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="providers that failed or had not answered")


def suspects(changes: list[Change], alert_at: datetime, window: timedelta) -> list[Suspect]:
    """Changes within `window` before the alert (and up to a minute after, for clock skew), newest first."""
    found = [
        Suspect(change=c, before=alert_at - c.at)
        for c in changes
        if alert_at - window <= c.at <= alert_at + timedelta(minutes=1)
    ]
    return sorted(found, key=lambda s: s.change.at, reverse=True)


def assemble(parts: list[ContextPart], alert_at: datetime, window: timedelta, expected: list[str]) -> PageContext:
    """Merge what the providers found into what a page shows; name those that failed or did not answer."""
    answered = {p.provider for p in parts}
    missing = [f"{p.provider}: {p.error}" for p in parts if p.error]  # failures, and partial ones
    missing += [f"{name}: no answer within the deadline" for name in expected if name not in answered]
    return PageContext(
        suspects=suspects([c for p in parts if p.ok for c in p.changes], alert_at, window),
        metrics=[m for p in parts if p.ok for m in p.metrics],
        logs=next((p.logs for p in parts if p.ok and p.logs), None),
        missing=missing,
    )


def describe_context(ctx: PageContext) -> str:
    """One line for the timeline: what the page carries and what is missing."""
    bits = []
    if ctx.suspects:
        bits.append("suspects: " + "; ".join(s.text for s in ctx.suspects[:3]))
    else:
        bits.append("no recent changes")
    for m in ctx.metrics[:3]:
        now = "n/a" if m.current is None else f"{m.current:.4g}{m.unit}"
        before = "" if m.before is None else f" (before: {m.before:.4g}{m.unit})"
        bits.append(f"{m.name} {now}{before} {m.trend}".rstrip())
    if ctx.logs:
        bits.append(f"{ctx.logs.total} log lines matched")
    if ctx.missing:
        bits.append("missing: " + "; ".join(ctx.missing))
    return ", ".join(bits)
