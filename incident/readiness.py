"""Readiness: will a page reach someone who can act? The gaps a config leaves, found before an alert finds them.

`check` reads the config and its schedules over the next days, plus the few facts only Temporal knows (which
contact methods ever delivered a page, which heartbeats ever pinged), passed in as `Facts`; a fact that could not
be had is reported as not known, never guessed. Pure: no clock, no I/O; the gateway and the scheduled readiness
run (workflows.readiness) gather the facts and call it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, field_validator

from incident.fields import Strict, check_targets
from incident.schedule import Shift, check_timezone

if TYPE_CHECKING:
    from incident.config import Config

GapKind = Literal[
    "nobody_on_call",
    "no_contact_method",
    "contact_never_used",
    "level_reaches_nobody",
    "role_reaches_nobody",
    "cannot_approve",
    "no_runbook",
    "heartbeat_never_pinged",
]
WINDOWS_KEPT = 5
"""Uncovered windows listed per gap (the count says how many there are)."""
DEFAULT_DAYS = 14


class ReadinessSettings(Strict):
    """`readiness:` in the config: the daily check and drills, and who hears about a gap."""

    notify: list[str] = Field(
        default_factory=list,
        description="`user:NAME` or `schedule:NAME`: told (a notice, never a page) when a drill fails or a gap is new",
    )
    drills: list[str] = Field(
        default_factory=list,
        description="drill files (globs, relative to the config file) run against the live config daily and on change",
    )
    at: str = Field("06:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", description="when the daily run starts")
    timezone: str = "UTC"
    days: int = Field(DEFAULT_DAYS, ge=1, le=90, description="how far ahead the scheduled check looks")

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    _targets = field_validator("notify")(classmethod(lambda cls, v: check_targets(v)))


class Window(BaseModel):
    start: datetime
    end: datetime


class Gap(BaseModel):
    """One thing that would keep a page from reaching someone who can act."""

    kind: GapKind
    where: str = Field(description="the config path it is about, e.g. `schedules.payments-primary`")
    message: str
    windows: list[Window] = Field(default_factory=list, description="when it applies (the first few), if in time")
    count: int = Field(0, description="how many such windows in the days checked")

    @property
    def key(self) -> str:
        """What a gap is, whatever day it is found on: two runs' gaps with one key are the same gap."""
        return f"{self.kind} {self.where}"


class Facts(BaseModel):
    """What only Temporal knows. None: not known (and reported so)."""

    delivered: dict[str, list[str]] | None = Field(
        None, description="person -> contact methods that delivered a page, in the recent incidents read"
    )
    incidents_read: int = 0
    since: datetime | None = Field(None, description="the incidents read were opened after this")
    heartbeats: dict[str, datetime | None] | None = Field(None, description="monitor -> its last ping (None: never)")


class Readiness(BaseModel):
    at: datetime
    days: int
    gaps: list[Gap] = Field(default_factory=list)
    not_known: list[str] = Field(default_factory=list, description="what could not be checked, and why")

    @property
    def ok(self) -> bool:
        return not self.gaps


def _person_at(shifts: list[Shift], at: datetime) -> str | None:
    for s in shifts:
        if s.start <= at < s.end:
            return s.person
    return None


def _windows(pieces: list[tuple[datetime, datetime]]) -> tuple[list[Window], int]:
    merged: list[tuple[datetime, datetime]] = []
    for a, b in sorted(pieces):
        if merged and merged[-1][1] >= a:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return [Window(start=a, end=b) for a, b in merged[:WINDOWS_KEPT]], len(merged)


def _when(windows: list[Window], count: int) -> str:
    first = windows[0]
    more = f" and {count - 1} more" if count > 1 else ""
    return f"{first.start:%a %Y-%m-%d %H:%M} to {first.end:%a %Y-%m-%d %H:%M} UTC{more}"


def _reachable(config: Config, person: str) -> bool:
    """Whether the person has a contact method beyond the log (which reaches nobody)."""
    return person in config.people and config.contact_methods(person) != ["log"]


def check(config: Config, at: datetime, days: int = DEFAULT_DAYS, facts: Facts | None = None) -> Readiness:
    """Every gap from `at` (aware) over the next `days`."""
    facts = facts or Facts()
    end = at + timedelta(days=days)
    gaps: list[Gap] = []
    not_known: list[str] = []
    shifts = {name: sched.shifts(at, end) for name, sched in config.schedules.items()}

    for name, pieces in shifts.items():
        empty = [(s.start, s.end) for s in pieces if s.person is None]
        if empty:
            windows, count = _windows(empty)
            gaps.append(
                Gap(
                    kind="nobody_on_call",
                    where=f"schedules.{name}",
                    message=f"nobody is on call {_when(windows, count)}",
                    windows=windows,
                    count=count,
                )
            )

    on_call: list[str] = []
    for pol in config.escalation_policies.values():
        for level in pol.levels:
            for target in level.notify:
                kind, _, name = target.partition(":")
                found = [name] if kind == "user" else [s.person for s in shifts.get(name, []) if s.person]
                on_call += [p for p in dict.fromkeys(found) if p not in on_call]
    for person in on_call:
        if person in config.people and not _reachable(config, person):
            gaps.append(
                Gap(
                    kind="no_contact_method",
                    where=f"people.{person}",
                    message=f"{person} is on call but has no way to be reached: no slack (with integrations.slack), "
                    "email (with integrations.smtp), webhook or pagerduty; a page to them only goes to the log",
                )
            )
    if facts.delivered is None:
        not_known.append("whether on-call people's contact methods work: the incidents could not be read")
    elif facts.incidents_read == 0:
        not_known.append("whether on-call people's contact methods work: no recent incident paged anyone")
    else:
        for person in on_call:
            if not _reachable(config, person) or facts.delivered.get(person):
                continue
            methods = ", ".join(m for m in config.contact_methods(person) if m != "log")
            gaps.append(
                Gap(
                    kind="contact_never_used",
                    where=f"people.{person}",
                    message=f"{person} is on call, but no page to them ({methods}) was delivered in the last "
                    f"{facts.incidents_read} incident(s): a method that never worked may not work now",
                )
            )

    for pname, pol in config.escalation_policies.items():
        for li, level in enumerate(pol.levels):
            gaps += _level_gaps(config, shifts, at, end, f"escalation_policies.{pname}.levels.{li}", level.notify)

    for path, why in config.commanders_missing():
        gaps.append(Gap(kind="role_reaches_nobody", where=".".join(str(p) for p in path), message=why))

    for person, actions in config.cannot_step_up().items():
        gaps.append(
            Gap(kind="cannot_approve", where=f"people.{person}", message=config.step_up_problem(person, actions))
        )

    for sname, svc in config.services.items():
        if not svc.runbook:
            gaps.append(
                Gap(
                    kind="no_runbook",
                    where=f"services.{sname}.runbook",
                    message=f"{sname} has no runbook: a page for it links none",
                )
            )

    if config.heartbeats:
        if facts.heartbeats is None:
            not_known.append("whether the heartbeats ever pinged: their monitors could not be read")
        else:
            for hname in config.heartbeats:
                if facts.heartbeats.get(hname) is None:
                    gaps.append(
                        Gap(
                            kind="heartbeat_never_pinged",
                            where=f"heartbeats.{hname}",
                            message=f"{hname} never pinged: its monitor is not armed, so a job that never runs is "
                            "not noticed",
                        )
                    )
    return Readiness(at=at, days=days, gaps=gaps, not_known=not_known)


def _level_gaps(
    config: Config, shifts: dict[str, list[Shift]], start: datetime, end: datetime, where: str, targets: list[str]
) -> list[Gap]:
    """When every target of a level resolves to nobody (a schedule with nobody on), or only to people with no way
    to be reached."""
    cuts = {start, end}
    for target in targets:
        kind, _, name = target.partition(":")
        if kind == "schedule":
            cuts.update(s.start for s in shifts.get(name, []))
    nobody: list[tuple[datetime, datetime]] = []
    unreachable: list[tuple[datetime, datetime]] = []
    bounds = sorted(c for c in cuts if start <= c <= end)
    for a, b in pairwise(bounds):
        people: set[str] = set()
        for target in targets:
            kind, _, name = target.partition(":")
            person = name if kind == "user" else _person_at(shifts.get(name, []), a)
            if person:
                people.add(person)
        if not people:
            nobody.append((a, b))
        elif not any(_reachable(config, p) for p in people):
            unreachable.append((a, b))
    out = []
    if nobody:
        windows, count = _windows(nobody)
        message = f"{', '.join(targets)} resolves to nobody {_when(windows, count)}: this level pages no one"
        out.append(Gap(kind="level_reaches_nobody", where=where, message=message, windows=windows, count=count))
    if unreachable:
        windows, count = _windows(unreachable)
        message = (
            f"{', '.join(targets)} resolves only to people with no contact method {_when(windows, count)}: this "
            "level reaches no one"
        )
        out.append(Gap(kind="level_reaches_nobody", where=where, message=message, windows=windows, count=count))
    return out


def new_gaps(now: Readiness, before: Readiness | None) -> list[Gap]:
    """The gaps `now` has that `before` did not (all of them when there was no run before)."""
    seen = {g.key for g in before.gaps} if before is not None else set()
    return [g for g in now.gaps if g.key not in seen]


# ---- the scheduled run: drills and readiness against the live config ------------------------------------------

GAPS_KEPT = 100
"""Gaps one run keeps (the count says how many there were): what the readiness log carries stays bounded."""
TEXT_KEPT = 500


class DrillOutcome(BaseModel):
    file: str
    name: str
    passed: bool
    problem: str | None = Field(None, description="the first check that failed, or why the drill could not run")


class ReadinessRun(BaseModel):
    """One scheduled (or triggered) run: the drills' verdicts and the readiness gaps, for one config."""

    at: datetime
    config_digest: str = ""
    config_file: str = ""
    readiness: Readiness | None = Field(None, description="None: the config did not load")
    gaps_total: int = 0
    drills: list[DrillOutcome] = Field(default_factory=list)
    problem: str | None = Field(None, description="why the drills or the config could not be used at all")
    notify: list[str] = Field(default_factory=list, description="`readiness.notify` of the config checked")

    @property
    def passed(self) -> bool:
        """Every drill passed on a config that loads (gaps are reported beside, not held against it)."""
        return self.problem is None and all(d.passed for d in self.drills)

    def bounded(self) -> ReadinessRun:
        if self.readiness is None or len(self.readiness.gaps) <= GAPS_KEPT:
            return self
        kept = self.readiness.model_copy(update={"gaps": self.readiness.gaps[:GAPS_KEPT]})
        return self.model_copy(update={"readiness": kept})


class ReadinessLog(BaseModel):
    """What `baton readiness --history` shows: the recent runs, newest last, and the last that passed."""

    runs: list[ReadinessRun] = Field(default_factory=list)
    last_passed: datetime | None = None
    last_passed_digest: str | None = None


def notice_text(run: ReadinessRun, previous: ReadinessRun | None) -> str | None:
    """What the owners are told after a run: every failure, and gaps the run before did not have; None: nothing
    worth a notice."""
    lines: list[str] = []
    if run.problem:
        lines.append(f"the readiness run could not check the config: {run.problem[:TEXT_KEPT]}")
    failed = [d for d in run.drills if not d.passed]
    for d in failed[:10]:
        lines.append(f"drill failed: {d.name} ({d.file}): {(d.problem or 'failed')[:TEXT_KEPT]}")
    if len(failed) > 10:
        lines.append(f"… and {len(failed) - 10} more failed drills")
    before = previous.readiness if previous is not None else None
    fresh = new_gaps(run.readiness, before) if run.readiness is not None else []
    for g in fresh[:10]:
        lines.append(f"new gap: {g.where}: {g.message}")
    if len(fresh) > 10:
        lines.append(f"… and {len(fresh) - 10} more new gaps")
    if not lines:
        return None
    last = "" if previous is None or not previous.passed else f" (it last passed at {previous.at:%Y-%m-%d %H:%M} UTC)"
    head = f"baton readiness: {len(failed)} drill(s) failed, {len(fresh)} new gap(s) in {run.config_file}{last}"
    return "\n".join([head, *(f"- {line}" for line in lines), "See `baton readiness --history`."])


def drill_files(config_file: Path, settings: ReadinessSettings) -> list[Path]:
    """The drill files `readiness.drills` names (globs relative to the config file's folder), sorted, each once."""
    base = config_file.parent
    found: dict[Path, None] = {}
    for pattern in settings.drills:
        matches = sorted(base.glob(pattern)) if not Path(pattern).is_absolute() else sorted(Path("/").glob(pattern[1:]))
        found.update(dict.fromkeys(p for p in matches if p.is_file()))
    return list(found)


def config_digest(config_file: Path, drills: list[Path]) -> str:
    """The digest of the config file and its drill files: a run is due when it changes."""
    h = hashlib.sha256()
    for path in [config_file, *drills]:
        h.update(str(path).encode() + b"\0")
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"(unreadable)")
        h.update(b"\0")
    return "sha256:" + h.hexdigest()[:16]
