"""Drill scenarios, the file format: alerts, steps and expectations on one virtual clock.

A scenario file says what happens (alerts from a source, people and agents acting) and what must be true at given
moments (who was paged, the severity, an approval's fate). The runner (`gateway/drill/`) plays it against a worker on
Temporal's time-skipping test server and `incident.judge` checks what it saw; this module only reads and validates
files, so it is pure: no Temporal, no clock, no I/O except reading the file in `load_scenario`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BeforeValidator,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from incident.approvals import ApprovalStatus
from incident.config import Config
from incident.durations import Duration, format_duration
from incident.fields import Strict, unknown
from incident.ladder import MAX_CLEAN, Autonomy
from incident.models import NAME, Actor, Severity, Status
from incident.yaml_file import FileProblems, Problem, line_for, read_text, validate_yaml

DEFAULT_START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
"""Where a scenario's clock starts unless it says `start:`. A Tuesday, 02:00 UTC: with baton.example.yaml alice is on
call for payments-primary (the week from Monday 23 November, 09:00 New York) and carol for platform-primary (the
night from Monday 09:00 Berlin)."""
CHECK_DELAY = timedelta(milliseconds=500)
"""Expectations look this long after their `at`, so what falls due at that instant has happened (a timer fires a
few milliseconds after its deadline) and nothing due a second later has."""
DEFAULT_KEY = "alert"

StepOutcome = Literal["done", "pending", "refused", "undefined", "error"]
OWN_UPDATES = ("acknowledge", "note", "resolve", "severity", "lead", "role", "update")
"""`do:` values that go to the incident's own update (`update`: send the stakeholder update, `text` or the draft;
`params: {audience: customers}` for customers); `approve`/`deny` decide an approval; anything else is an action
request the boundaries decide on."""
NOBODY = "nobody"
"""`lead: nobody`: the incident has no lead at that moment."""
_SEVERITY_LABEL = re.compile(r"^SEV[0-4]( \(proposed\))?$")


def _scalar_str(v: Any) -> Any:
    """YAML reads `v41` as a string but `41` as a number; a parameter is text either way."""
    if isinstance(v, dict):
        return {k: str(x) if isinstance(x, int | float) and not isinstance(x, bool) else x for k, x in v.items()}
    return v


Params = Annotated[dict[str, str], BeforeValidator(_scalar_str)]


class AlertEvent(Strict):
    """An event from a monitoring source: a trigger opens (or joins) the incident for its key."""

    at: Duration
    key: str = Field(DEFAULT_KEY, min_length=1, max_length=200, description="the dedup key: one incident per key")
    action: Literal["trigger", "acknowledge", "resolve"] = "trigger"
    service: str | None = Field(None, description="else the config's routing places it by its labels")
    summary: str | None = None
    severity: Severity | None = Field(None, description="else the routing's, else SEV3")
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _summary(self) -> AlertEvent:
        if self.action == "trigger" and not (self.summary or "").strip():
            raise ValueError("a trigger needs a summary")
        return self


class Step(Strict):
    """Someone acts on the incident, through the same façade the CLI and the agents use."""

    at: Duration
    actor: str = Field(description="`human:NAME` or `agent:NAME`")
    do: str = Field(
        description="acknowledge | note | resolve | severity | lead | role | approve | deny | an action name"
    )
    incident: str | None = Field(None, description="the alert key of the incident; default: the first alert's")
    params: Params = Field(default_factory=dict)
    rationale: str = ""
    text: str | None = Field(None, description="note: the note; customer_comms: the message; approve: an edit")
    reason: str = Field("", description="deny: why")
    summary: str = Field("", description="resolve: the summary")
    severity: Severity | None = Field(None, description="severity: the level to set or propose")
    approval: str = Field("last", description="approve/deny: an id such as A1, or `last`")
    role: str | None = Field(None, description="role: the role taken or handed over (lead, comms, …)")
    person: str | None = Field(None, description="lead/role: whom it is handed to (or proposed); unset: the actor")
    propose: bool = Field(False, description="lead/role: propose `person` (an agent's only way), with a rationale")
    expect: StepOutcome | None = None
    rule: str | None = Field(None, description="a substring of the rule that asked for approval or refused")
    via: Literal["slack", "totp", "token"] = Field(
        "slack",
        description="how a human proves who they are: from Slack (default) or with a one-time code, present as a "
        "judgment call needs them; or `token` alone, which a step-up action refuses",
    )

    @field_validator("actor")
    @classmethod
    def _actor(cls, v: str) -> str:
        kind, _, name = v.partition(":")
        if kind not in ("human", "agent") or not NAME.match(name):
            raise ValueError(f"{v!r} is not `human:NAME` or `agent:NAME` (lowercase letters, digits, . _ -)")
        return v

    @field_validator("do")
    @classmethod
    def _do(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(f"{v!r} is not an action name (lowercase letters, digits, . _ -)")
        return v

    @model_validator(mode="after")
    def _needs(self) -> Step:
        if self.do == "severity" and self.severity is None:
            raise ValueError("`do: severity` needs `severity: SEV0..SEV4`")
        if self.do == "note" and not (self.text or "").strip():
            raise ValueError("`do: note` needs `text`")
        if self.do == "role" and not self.role:
            raise ValueError("`do: role` needs `role:` (lead, or one of coordination.roles)")
        if self.propose and (self.do not in ("lead", "role") or not self.person):
            raise ValueError("`propose: true` goes with `do: lead` or `do: role` and a `person` to propose")
        if self.rule is not None and self.expect not in ("pending", "refused", "undefined"):
            raise ValueError("`rule` goes with `expect: pending`, `refused` or `undefined`")
        return self

    @property
    def who(self) -> Actor:
        return Actor.parse(self.actor)

    def describe(self, approval: str | None = None) -> str:
        """`agent:triage rollback (version=v41)`; `approval` names the approval `last` turned out to be."""
        what = self.do
        if self.do in ("approve", "deny"):
            what = f"{self.do} {approval or self.approval}"
        elif self.do == "severity" and self.severity:
            what = f"severity {self.severity.value}"
        elif self.do in ("lead", "role"):
            role = self.role or "lead"
            if self.propose:
                what = f"proposes {self.person} as {role}"
            else:
                what = f"takes {role}" if self.person is None else f"hands {role} to {self.person}"
        elif self.params:
            what += " (" + ", ".join(f"{k}={v}" for k, v in self.params.items()) + ")"
        return f"{self.actor} {what}"


class PagedCheck(Strict):
    """Who was paged (a page of the escalation, not an approval ask or a notice); all optional. `times: N` under
    `paged` means at least N such pages; under `not_paged`, fewer than N."""

    level: int | None = Field(None, ge=1)
    person: str | None = None
    times: int = Field(1, ge=1)

    def describe(self) -> str:
        who = self.person or ("someone" if self.level is None else f"level {self.level}")
        times = f" {self.times} times" if self.times > 1 else ""
        return f"{who} paged{times}" + (f" at level {self.level}" if self.person and self.level else "")


def _paged_short(v: Any) -> Any:
    """`paged: dave` and `paged: 2` are short for `{person: dave}` and `{level: 2}`."""
    if isinstance(v, str):
        return {"person": v}
    if isinstance(v, int) and not isinstance(v, bool):
        return {"level": v}
    return v


class AskedCheck(Strict):
    """Who was asked to approve or deny (an approval page)."""

    person: str | None = None
    approval: str | None = Field(None, description="A1, A2, …; default: any")

    def describe(self) -> str:
        return f"{self.person or 'someone'} asked to decide {self.approval or 'an approval'}"


class ApprovalCheck(Strict):
    id: str = Field("last", description="A1, A2, … or `last`")
    status: ApprovalStatus
    decided_by: str | None = Field(None, description="`human:alice`")

    def describe(self) -> str:
        by = f" by {self.decided_by}" if self.decided_by else ""
        name = "the last approval" if self.id == "last" else f"approval {self.id}"
        return f"{name} {self.status.value}{by}"


class ChannelCheck(Strict):
    """The incident's Slack channel: `created` (baton made one), `posting` (a static channel: nothing created) or
    `none`; `name`, a substring of its name. A drill never calls Slack: its worker plays Slack's Web API locally,
    so this checks what baton decided and did with the channel settings, not that Slack is reachable."""

    state: Literal["created", "posting", "none"] = "created"
    name: str | None = Field(None, min_length=1, description="a substring of the channel's name, e.g. inc-")

    def describe(self) -> str:
        named = f" #{self.name}…" if self.name else ""
        return {"created": f"channel{named} created", "posting": f"posting in{named or ' a'} static channel"}.get(
            self.state, "no channel"
        )


def _channel_short(v: Any) -> Any:
    """`channel: created` is short for `{state: created}`."""
    return {"state": v} if isinstance(v, str) else v


class UpdateCheck(Strict):
    """A stakeholder update fell due, was drafted, and `asked` was asked to send it (a person, or `lead`: whoever
    leads); with `reminded`, it was reminded too; with `sent_by`, that actor sent it."""

    number: int = Field(1, ge=1, description="which update: 1 is the first")
    asked: str | None = Field(None, description="a person asked to send it, or `lead`")
    reminded: bool = False
    sent_by: str | None = Field(None, description="`human:alice`, `agent:triage`: who sent it")

    def describe(self) -> str:
        what = f"stakeholder update {self.number} due and drafted"
        if self.asked:
            what += f", {'the lead' if self.asked == 'lead' else self.asked} asked to send it"
        if self.reminded:
            what += ", reminded"
        if self.sent_by:
            what += f", sent by {self.sent_by}"
        return what


class AutonomyCheck(Strict):
    """An agent's level on a severity's ladder: on its record (what an incident opening now fixes), or as the
    expectation's incident fixed it when it opened (`of: incident`)."""

    agent: str = Field(pattern=NAME.pattern)
    severity: Severity
    level: Autonomy
    of: Literal["record", "incident"] = "record"

    def describe(self) -> str:
        where = "fixed in the incident" if self.of == "incident" else "on its record"
        return f"agent:{self.agent} {self.level} at {self.severity.value} ({where})"


class Standing(Strict):
    """Where an agent stands on one severity's ladder when the drill starts: its level, and the clean incidents
    already counted toward the next step."""

    level: Autonomy
    clean: int = Field(0, ge=0, le=MAX_CLEAN)


def _standing_short(v: Any) -> Any:
    """`SEV1: approval` is `SEV1: {level: approval}`."""
    return {"level": v} if isinstance(v, str) else v


CHECKS = (
    "paged",
    "not_paged",
    "asked",
    "severity",
    "status",
    "approval",
    "timeline",
    "not_timeline",
    "refusals",
    "lead",
    "commanders_paged",
    "channel",
    "update",
    "autonomy",
)


class Expectation(Strict):
    """One fact that must hold at `at` (checked CHECK_DELAY after it). Exactly one check per item."""

    at: Duration
    incident: str | None = Field(None, description="the alert key of the incident; default: the first alert's")
    paged: Annotated[PagedCheck | None, BeforeValidator(_paged_short)] = None
    not_paged: Annotated[PagedCheck | None, BeforeValidator(_paged_short)] = None
    asked: AskedCheck | None = None
    severity: str | None = Field(None, description="as shown: `SEV1`, or `SEV1 (proposed)` until a human confirms")
    status: Status | None = None
    approval: ApprovalCheck | None = None
    timeline: str | None = Field(None, min_length=1, description="some entry's text contains it (any case)")
    not_timeline: str | None = Field(None, min_length=1, description="no entry's text contains it (any case)")
    refusals: int | None = Field(None, ge=0, description="refused requests so far (never and undefined)")
    lead: str | None = Field(None, description="who leads now (a person), or `nobody`")
    commanders_paged: bool | None = Field(
        None, description="whether the incident commanders were paged because nobody led in time (`lead_within`)"
    )
    channel: Annotated[ChannelCheck | None, BeforeValidator(_channel_short)] = None
    update: UpdateCheck | None = None
    autonomy: AutonomyCheck | None = None

    @field_validator("severity")
    @classmethod
    def _label(cls, v: str | None) -> str | None:
        if v is not None and not _SEVERITY_LABEL.match(v.strip()):
            raise ValueError(f"{v!r} is not a severity as shown: SEV0..SEV4, optionally followed by ' (proposed)'")
        return v.strip() if v else v

    @model_validator(mode="after")
    def _one(self) -> Expectation:
        given = [c for c in CHECKS if getattr(self, c) is not None]
        if len(given) != 1:
            found = ", ".join(given) or "none"
            raise ValueError(f"an expectation checks exactly one of {', '.join(CHECKS)} (found: {found})")
        return self

    @property
    def kind(self) -> str:
        return next(c for c in CHECKS if getattr(self, c) is not None)

    def describe(self) -> str:
        match self.kind:
            case "paged":
                return self.paged.describe()  # type: ignore[union-attr]
            case "not_paged":
                return self.not_paged.describe().replace(" paged", " not paged")  # type: ignore[union-attr]
            case "asked":
                return self.asked.describe()  # type: ignore[union-attr]
            case "severity":
                return f"severity {self.severity}"
            case "status":
                return f"status {self.status.value}"  # type: ignore[union-attr]
            case "approval":
                return self.approval.describe()  # type: ignore[union-attr]
            case "timeline":
                return f'a timeline entry containing "{self.timeline}"'
            case "not_timeline":
                return f'no timeline entry containing "{self.not_timeline}"'
            case "lead":
                return "nobody leads" if self.lead == NOBODY else f"lead taken by {self.lead}"
            case "commanders_paged":
                no = "" if self.commanders_paged else " not"
                return f"incident commanders{no} paged for a missing lead"
            case "channel":
                return self.channel.describe()  # type: ignore[union-attr]
            case "update":
                return self.update.describe()  # type: ignore[union-attr]
            case "autonomy":
                return self.autonomy.describe()  # type: ignore[union-attr]
        return f"{self.refusals} refused request(s)"


class Scenario(Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    config: str | None = Field(None, description="the config to drill, relative to this file")
    start: AwareDatetime = Field(DEFAULT_START, description="the virtual instant the drill starts at")
    alerts: list[AlertEvent] = Field(min_length=1)
    steps: list[Step] = Field(default_factory=list)
    expect: list[Expectation] = Field(default_factory=list)
    earned: dict[str, dict[Severity, Annotated[Standing, BeforeValidator(_standing_short)]]] = Field(
        default_factory=dict,
        description="per agent, where it stands on each severity's autonomy ladder when the drill starts (its "
        "record says so), e.g. `{triage: {SEV1: approval, SEV2: {level: approval, clean: 19}}}`",
    )

    _source: str = PrivateAttr("<scenario>")
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _coherent(self) -> Scenario:
        opened: dict[str, timedelta] = {}
        for i, a in enumerate(self.alerts):
            if a.action == "trigger":
                opened.setdefault(a.key, a.at)
            elif a.key not in opened or opened[a.key] > a.at:
                raise ValueError(f"alerts[{i}]: a {a.action} for key {a.key!r} before any trigger for it")
        first = self.alerts[0].key
        items: list[tuple[str, Step | Expectation]] = [(f"steps[{i}]", s) for i, s in enumerate(self.steps)]
        items += [(f"expect[{i}]", e) for i, e in enumerate(self.expect)]
        for where, item in items:
            key = item.incident or first
            if key not in opened:
                known = ", ".join(sorted(opened))
                raise ValueError(f"{where}.incident: no alert triggers key {key!r} (keys: {known})")
            if item.at < opened[key]:
                raise ValueError(
                    f"{where}: at {format_duration(item.at)}, before the incident opens "
                    f"(its first trigger is at {format_duration(opened[key])})"
                )
        if not self.expect and not any(s.expect for s in self.steps):
            raise ValueError("a drill needs something to check: `expect:` items or a step's `expect:`")
        return self

    @property
    def source(self) -> str:
        return self._source

    @property
    def keys(self) -> list[str]:
        """Alert keys in the order their incidents open."""
        return list(dict.fromkeys(a.key for a in sorted(self.alerts, key=lambda a: a.at) if a.action == "trigger"))

    def incident_of(self, item: Step | Expectation) -> str:
        return item.incident or self.alerts[0].key

    def events(self) -> list[tuple[timedelta, AlertEvent | Step | Expectation, str]]:
        """Everything on one clock: (when, item, where in the file). At the same instant alerts come first, then
        steps, then expectations, each in file order; expectations are looked at CHECK_DELAY after their `at`."""
        out: list[tuple[timedelta, int, int, AlertEvent | Step | Expectation, str]] = []
        for i, a in enumerate(self.alerts):
            out.append((a.at, 0, i, a, f"alerts[{i}]"))
        for i, s in enumerate(self.steps):
            out.append((s.at, 1, i, s, f"steps[{i}]"))
        for i, e in enumerate(self.expect):
            out.append((e.at + CHECK_DELAY, 2, i, e, f"expect[{i}]"))
        out.sort(key=lambda t: (t[0], t[1], t[2]))
        return [(when, item, where) for when, _, _, item, where in out]

    def line(self, where: str) -> int | None:
        """The line of `steps[2]`, `expect[0].paged`… in the file."""
        return line_for(self._lines, _parse_path(where))

    def problems_with(self, config: Config) -> list[Problem]:
        """What in this scenario the config cannot mean: a service or person it does not have."""
        found: list[tuple[str, str]] = []
        for i, a in enumerate(self.alerts):
            if a.service is not None and a.service not in config.services:
                found.append((f"alerts[{i}].service", unknown("service", a.service, config.services, "in the config")))
        for i, e in enumerate(self.expect):
            for name in ("paged", "not_paged", "asked"):
                check = getattr(e, name)
                if check is not None and check.person is not None and check.person not in config.people:
                    found.append(
                        (f"expect[{i}].{name}.person", unknown("person", check.person, config.people, "in the config"))
                    )
            asked = e.update.asked if e.update else None
            if asked is not None and asked != "lead" and asked not in config.people:
                found.append((f"expect[{i}].update.asked", unknown("person", asked, config.people, "in the config")))
            if e.lead is not None and e.lead != NOBODY and e.lead not in config.people:
                found.append((f"expect[{i}].lead", unknown("person", e.lead, config.people, "in the config")))
        ladders = config.boundaries.ladders()
        for agent, rungs in self.earned.items():
            if agent not in config.agents:
                found.append((f"earned.{agent}", unknown("agent", agent, config.agents, "in the config")))
            for sev, standing in rungs.items():
                ladder = ladders.get(sev)
                if ladder is None:
                    found.append((f"earned.{agent}.{sev.value}", f"boundaries.autonomy.{sev.value} is not a ladder"))
                elif standing.level not in ladder.levels():
                    levels = ", ".join(ladder.levels())
                    found.append((f"earned.{agent}.{sev.value}", f"not a level of its ladder ({levels})"))
        for i, e in enumerate(self.expect):
            if e.autonomy is not None and e.autonomy.agent not in config.agents:
                name = e.autonomy.agent
                found.append((f"expect[{i}].autonomy.agent", unknown("agent", name, config.agents, "in the config")))
        for i, s in enumerate(self.steps):
            if s.person is not None and s.person not in config.people:
                found.append((f"steps[{i}].person", unknown("person", s.person, config.people, "in the config")))
        return [Problem(path=p, line=self.line(p), message=m) for p, m in found]


def _parse_path(where: str) -> tuple[str | int, ...]:
    out: list[str | int] = []
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", where):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


class ScenarioError(FileProblems):
    """A scenario file cannot be used. `problems` lists every one found, with path and line."""


def _relocate(loc: tuple[str | int, ...], msg: str) -> tuple[tuple[str | int, ...], str]:
    """A whole-scenario problem names its own place (`steps[1]: ...`): report it there."""
    inner = re.match(r"^((?:alerts|steps|expect)\[\d+\](?:\.\w+)?): ", msg) if not loc else None
    return (_parse_path(inner.group(1)), msg[inner.end() :]) if inner else (loc, msg)


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate YAML text into a Scenario, or raise ScenarioError with every problem, path and line."""
    scenario, lines = validate_yaml(
        text,
        source,
        Scenario,
        ScenarioError,
        "a scenario",
        skip=lambda part: "[" in part or "-" in part,  # pydantic's union tags, e.g. `function-after[...]`
        relocate=_relocate,
    )
    scenario._source, scenario._lines = source, lines
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    return parse_scenario(read_text(p, ScenarioError), str(p))


def config_for(scenario: Scenario) -> Path | None:
    """The config the scenario names, relative to its file (None when it names none)."""
    if scenario.config is None:
        return None
    return (Path(scenario.source).parent / scenario.config).resolve()
