"""The delegation policy: what an agent may do alone, what needs a human's yes, what it may never do.

Decisions are made here, in pure code, and enforced by the workflow from the snapshot it was started with. The
layers only ever tighten: `boundaries.agent` puts each action in `auto`, `approval` or `never`; per-severity
`autonomy` can then turn `auto` into `approval` (SEV1: anything beyond machine work) or anything into `never`
(SEV0: read only). Nothing below can widen a `never`, and judgment calls are never `auto` for an agent.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator

from incident.durations import Duration
from incident.fields import Strict, check_targets
from incident.ladder import Autonomy, Ladder, Level
from incident.models import NAME, Actor, ActorKind, Severity

MACHINE_WORK = (
    "acknowledge",
    "lookup_oncall",
    "gather_context",
    "page",
    "note",
    "escalate",
    "triage_severity",
    "internal_update",
)
INTERNAL_UPDATE = "internal_update"
"""Posting a stakeholder update to the internal audiences (a support channel, an email list): machine work an
agent may do alone where its autonomy allows; customer-facing text is `customer_comms`, a human decision."""
JUDGMENT = ("rollback", "customer_comms", "resolve", "postmortem_conclusions")
"""Decisions that need a human. An agent may at most request them; config that lets it do them alone is refused."""
READ_ONLY = ("lookup_oncall", "gather_context", "note")
"""What an agent may still do where its autonomy is `read_only`."""
WINDOWS = ("maintenance",)
"""Opening a maintenance window (`incident.maintenance`): it silences pages for a service, so an agent's request
needs approval by default (a person starts the window)."""
KNOWN_ACTIONS = MACHINE_WORK + JUDGMENT + WINDOWS
OPEN_RULE = "opening an incident pages on-call"
"""Why opening is decided as `page`: an incident an agent opens pages the service's on-call at once."""

_LOOKALIKES = str.maketrans(
    "\u0430\u0432\u0435\u043a\u043c\u043d\u043e\u0440\u0441\u0442\u0443\u0445\u0456\u0458\u0455"
    "\u0501\u04cf\u0261\u0131\u03b1\u03b2\u03b5\u03b9\u03ba\u03bd\u03bf\u03c1\u03c4\u03c5\u03c7"
    "01|",
    "abekmhopctyxijsdlgiabeikvoptuxoll",
    "-._ \t",
)
"""Letters that look like Latin ones (Cyrillic, Greek) mapped to them, and separators dropped: `resembles` only."""


def skeleton(name: str) -> str:
    """What a name looks like: compatibility forms folded, case folded, invisible characters dropped, look-alike
    letters mapped to Latin ones. Two names with one skeleton read the same to a person."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    shown = "".join(c for c in folded if unicodedata.category(c) not in ("Cf", "Cc", "Mn", "Zl", "Zp"))
    return shown.translate(_LOOKALIKES)


def resembles(name: str, actions: Iterable[str]) -> str | None:
    """The action `name` reads as but is not (`Rollback`, ` rollback`, `r\u043ellback` with a Cyrillic o, a zero-width
    space inside): such a request is refused as undefined, and counted as an attempt at that action."""
    if name in actions:
        return None
    want = skeleton(name)
    return next((a for a in actions if skeleton(a) == want), None)


CONFIRM_SEVERITY = "confirm_severity"
"""A human setting a severity that `confirm_severity` says a human must confirm (a customer-facing one): a name for
`step_up`, beside the actions."""
STEP_UP = (*JUDGMENT, CONFIRM_SEVERITY)
"""What needs a person present (a Slack interaction, a one-time code) by default: the judgment calls."""


class Verdict(StrEnum):
    AUTO = "auto"
    APPROVAL = "approval"
    NEVER = "never"
    UNDEFINED = "undefined"


STRICTNESS = {Verdict.AUTO: 0, Verdict.APPROVAL: 1, Verdict.NEVER: 2}


class Decision(BaseModel):
    verdict: Verdict
    rule: str = Field(description="the config rule that decided, e.g. `boundaries.agent.approval`")

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.AUTO


@dataclass(frozen=True)
class BoundaryRow:
    """One action of the boundary table: its decision at each severity asked about, and, where any of them needs
    approval, who may give it (`oncall`, `user:NAME`, `role:NAME`); else `approvers` is empty."""

    action: str
    by_severity: dict[Severity, Decision]
    approvers: list[str]


class AgentRules(Strict):
    auto: list[str] = Field(default_factory=lambda: list(MACHINE_WORK))
    approval: list[str] = Field(default_factory=lambda: ["rollback", "customer_comms", "resolve", "maintenance"])
    never: list[str] = Field(default_factory=lambda: ["postmortem_conclusions"])

    @model_validator(mode="after")
    def _consistent(self) -> AgentRules:
        seen: dict[str, str] = {}
        for bucket in ("auto", "approval", "never"):
            for action in getattr(self, bucket):
                if action in seen:
                    raise ValueError(f"{action!r} is listed under both {seen[action]} and {bucket}")
                seen[action] = bucket
        judged = [a for a in self.auto if a in JUDGMENT]
        if judged:
            raise ValueError(
                f"{', '.join(judged)} {'is a' if len(judged) == 1 else 'are'} human decision(s); "
                "an agent may only request it (approval) or never do it"
            )
        return self

    def bucket(self, action: str) -> str | None:
        return next((b for b in ("never", "approval", "auto") if action in getattr(self, b)), None)


DEFAULT_AUTONOMY: dict[Severity, Autonomy] = {
    Severity.SEV4: "full",
    Severity.SEV3: "full",
    Severity.SEV2: "full",
    Severity.SEV1: "approval",
    Severity.SEV0: "read_only",
}


def read_shadow(path: str, base_dir: str | None) -> object:
    """The mapping a shadow policy file holds: its `boundaries:` if it has one, else the whole file."""
    p = Path(path)
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"cannot read the shadow policy {str(p)!r}: {e}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the shadow policy {str(p)!r} must be a YAML mapping")
    return data.get("boundaries", data)


class Boundaries(Strict):
    """`boundaries:` in the config."""

    agent: AgentRules = Field(default_factory=AgentRules)
    custom_actions: list[str] = Field(
        default_factory=list, description="actions a team adds (e.g. restart_pods); they need a bucket in `agent`"
    )
    autonomy: dict[Severity, Level] = Field(
        default_factory=lambda: dict[Severity, Level](DEFAULT_AUTONOMY),
        description="per severity, a level (`full`, `approval`, `read_only`) or a ladder an agent climbs with clean "
        "incidents (docs/autonomy.md)",
    )
    owners: list[str] = Field(
        default_factory=list,
        description="`user:NAME` or `schedule:NAME`: told (a notice, never a page) of every promotion and demotion; "
        "empty: `readiness.notify`",
    )
    earned: dict[str, dict[Severity, Autonomy]] | None = Field(
        None,
        description="not written in the config: per agent, the level its record gave it on each laddered severity, "
        "fixed in an incident's snapshot once read (None: not read, every ladder at its start)",
    )
    approvers: dict[str, list[str]] = Field(
        default_factory=lambda: {"default": ["oncall"]},
        description="per action (or `default`): who may approve: `oncall`, `user:NAME`, `role:NAME`",
    )
    roles: dict[str, list[str]] = Field(default_factory=dict, description="role name -> people")
    two_person: list[str] = Field(
        default_factory=list,
        description="actions a human may only do with a second human's approval (e.g. customer_comms)",
    )
    self_approval: bool = Field(False, description="whether whoever asked for an approval may also give it")
    confirm_severity: Literal["always", "customer_facing", "never"] = "customer_facing"
    approval_timeout: Duration = Field(default="15m", validate_default=True)
    step_up: list[str] = Field(
        default_factory=lambda: list(STEP_UP),
        description="what a human decides only when present (Slack, or a one-time code), not with a token alone: "
        "approving, denying or doing these actions, and `confirm_severity`",
    )
    shadow: Boundaries | None = Field(
        None,
        description="a second policy decided beside this one for every request, with no effect: where the two "
        "disagree the incident records it (`baton boundaries report --shadow`). Inline, or a YAML file's path "
        "(relative to the config file)",
    )

    @field_validator("shadow", mode="before")
    @classmethod
    def _shadow_file(cls, value: object, info: ValidationInfo) -> object:
        """A path names a YAML file holding the shadow policy (the `boundaries:` mapping, or one that has it)."""
        if not isinstance(value, str):
            return value
        return read_shadow(value, (info.context or {}).get("base_dir"))

    _owners = field_validator("owners")(classmethod(lambda cls, v: check_targets(v)))

    @model_validator(mode="after")
    def _names(self) -> Boundaries:
        if self.shadow is not None and self.shadow.shadow is not None:
            raise ValueError("a shadow policy has no shadow of its own")
        for action in self.custom_actions:
            if action in WINDOWS:
                continue  # a config (or an incident's saved policy) from before it was built in: the same action
            if not NAME.match(action) or action in KNOWN_ACTIONS:
                raise ValueError(f"custom action {action!r} must be a new name of lowercase letters, digits, _ . -")
        known = set(self.actions())
        for bucket in ("auto", "approval", "never"):
            for action in getattr(self.agent, bucket):
                if action not in known:
                    raise ValueError(
                        f"agent.{bucket} names {action!r}, which is neither a built-in action nor in custom_actions"
                    )
        for action in self.two_person:
            if action not in known:
                raise ValueError(f"two_person names {action!r}, which is not an action")
        for action in self.step_up:
            if action not in known and action != CONFIRM_SEVERITY:
                raise ValueError(f"step_up names {action!r}, which is neither an action nor {CONFIRM_SEVERITY}")
        for action, refs in self.approvers.items():
            if action != "default" and action not in known:
                raise ValueError(f"approvers names {action!r}, which is not an action")
            for ref in refs:
                kind, _, name = ref.partition(":")
                if ref != "oncall" and (kind not in ("user", "role") or not name):
                    raise ValueError(f"approver {ref!r} is not `oncall`, `user:NAME` or `role:NAME`")
                if kind == "role" and name not in self.roles:
                    raise ValueError(f"approver {ref!r} names a role not in boundaries.roles")
        return self

    def actions(self) -> list[str]:
        return [*KNOWN_ACTIONS, *(a for a in self.custom_actions if a not in KNOWN_ACTIONS)]

    def ladders(self) -> dict[Severity, Ladder]:
        """The severities whose autonomy an agent earns."""
        return {sev: a for sev, a in self.autonomy.items() if isinstance(a, Ladder)}

    def level(self, severity: Severity, agent: str | None = None) -> Autonomy:
        """The autonomy in force at `severity` for `agent`: the constant, or the level its record earned on the
        ladder as this snapshot fixed it (the ladder's start when not read, for no agent, or for an unknown one)."""
        found = self.autonomy.get(severity, "full")
        if not isinstance(found, Ladder):
            return found
        earned = (self.earned or {}).get(agent or "", {})
        return found.in_force(earned.get(severity))

    def with_earned(self, earned: dict[str, dict[Severity, Autonomy]]) -> Boundaries:
        """This policy with the agents' earned levels fixed (what an incident decides by from then on)."""
        return self.model_copy(update={"earned": earned})

    def needs_step_up(self, action: str) -> bool:
        """Whether a human decides `action` (or `confirm_severity`) only when present, not with a token alone."""
        return action in self.step_up

    def decide(self, action: str, actor: Actor, severity: Severity) -> Decision:
        """Who may do `action` at `severity`: exactly one verdict, with the rule that gave it."""
        if action not in self.actions():
            return Decision(
                verdict=Verdict.UNDEFINED, rule="not a built-in action and not in boundaries.custom_actions"
            )
        if actor.kind is ActorKind.HUMAN:
            if action in self.two_person:
                return Decision(verdict=Verdict.APPROVAL, rule="boundaries.two_person")
            return Decision(verdict=Verdict.AUTO, rule="humans decide")
        if actor.kind is ActorKind.SYSTEM:
            if action in MACHINE_WORK:
                return Decision(verdict=Verdict.AUTO, rule="machine work")
            return Decision(verdict=Verdict.NEVER, rule="only humans make judgment decisions")
        bucket = self.agent.bucket(action)
        if bucket is None:
            return Decision(verdict=Verdict.UNDEFINED, rule="not in boundaries.agent.auto, approval or never")
        verdict = Verdict(bucket)
        rule = f"boundaries.agent.{bucket}"
        autonomy = self.level(severity, actor.name)
        laddered = " (its ladder's level)" if isinstance(self.autonomy.get(severity), Ladder) else ""
        at = f"boundaries.autonomy.{severity.value}"
        if verdict is not Verdict.NEVER and autonomy == "read_only" and action not in READ_ONLY:
            return Decision(verdict=Verdict.NEVER, rule=f"{at}: read_only{laddered}")
        if verdict is Verdict.AUTO and autonomy == "approval" and action not in MACHINE_WORK:
            return Decision(verdict=Verdict.APPROVAL, rule=f"{at}: approval{laddered}")
        return Decision(verdict=verdict, rule=rule)

    def decide_open(self, actor: Actor, severity: Severity) -> Decision:
        """Whether `actor` may open an incident at `severity`: opening pages the service's on-call at once, so it
        is decided as `page` at that severity, and only `auto` opens (an approval cannot hold back the page)."""
        d = self.decide("page", actor, severity)
        if d.allowed:
            return d
        why = f"{OPEN_RULE}: `page` is {d.verdict.value} at {severity}"
        return Decision(verdict=Verdict.NEVER, rule=f"{d.rule} ({why})")

    def table(self, actor: Actor, severities: Iterable[Severity] = tuple(Severity)) -> list[BoundaryRow]:
        """What `actor` may do: one row per action (built-in, then custom), with a decision per severity. Every
        surface that shows the boundaries (the CLI's table and JSON, the agents' get_boundaries) reads this."""
        sevs = list(severities)
        rows = []
        for action in self.actions():
            by_severity = {sev: self.decide(action, actor, sev) for sev in sevs}
            asks = any(d.verdict is Verdict.APPROVAL for d in by_severity.values())
            rows.append(BoundaryRow(action, by_severity, self.approvers_for(action) if asks else []))
        return rows

    def approver_people(self, action: str, oncall: Collection[str]) -> list[str]:
        """Everyone who may approve `action` now, in the order the config names them."""
        out: list[str] = []
        for ref in self.approvers_for(action):
            kind, _, name = ref.partition(":")
            found = list(oncall) if ref == "oncall" else [name] if kind == "user" else self.roles.get(name, [])
            out += [p for p in found if p not in out]
        return out

    def approvers_for(self, action: str) -> list[str]:
        return self.approvers.get(action) or self.approvers.get("default") or ["oncall"]

    def may_approve(self, action: str, person: str, oncall: Collection[str]) -> bool:
        """Whether `person` may approve `action`; `oncall` is who is responding to the incident."""
        for ref in self.approvers_for(action):
            kind, _, name = ref.partition(":")
            if (
                (ref == "oncall" and person in oncall)
                or (kind == "user" and name == person)
                or (kind == "role" and person in self.roles.get(name, []))
            ):
                return True
        return False
