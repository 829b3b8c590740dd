"""The delegation policy: what an agent may do alone, what needs a human's yes, what it may never do.

Decisions are made here, in pure code, and enforced by the workflow from the snapshot it was started with.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from incident.durations import Duration
from incident.models import Actor, ActorKind, Severity

MACHINE_WORK = (
    "acknowledge",
    "lookup_oncall",
    "gather_context",
    "page",
    "note",
    "escalate",
    "triage_severity",
)
JUDGMENT = ("rollback", "customer_comms", "resolve", "postmortem_conclusions")
"""Decisions that need a human. An agent may at most request them; config that lets it do them alone is refused."""
KNOWN_ACTIONS = MACHINE_WORK + JUDGMENT


class Verdict(StrEnum):
    AUTO = "auto"
    APPROVAL = "approval"
    NEVER = "never"
    UNDEFINED = "undefined"


class Decision(BaseModel):
    verdict: Verdict
    rule: str = Field(description="the config rule that decided, e.g. `boundaries.agent.approval`")

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.AUTO


class AgentRules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto: list[str] = Field(default_factory=lambda: list(MACHINE_WORK))
    approval: list[str] = Field(default_factory=lambda: ["rollback", "customer_comms", "resolve"])
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


Autonomy = Literal["full", "approval", "read_only"]


class Boundaries(BaseModel):
    """`boundaries:` in the config."""

    model_config = ConfigDict(extra="forbid")

    agent: AgentRules = Field(default_factory=AgentRules)
    autonomy: dict[Severity, Autonomy] = Field(
        default_factory=lambda: {
            Severity.SEV4: "full",
            Severity.SEV3: "full",
            Severity.SEV2: "full",
            Severity.SEV1: "approval",
            Severity.SEV0: "read_only",
        }
    )
    confirm_severity: Literal["always", "customer_facing", "never"] = "customer_facing"
    approval_timeout: Duration = Field(default="15m", validate_default=True)

    def decide(self, action: str, actor: Actor, severity: Severity) -> Decision:
        """Who may do `action` at `severity`. Humans decide; the system does machine work; agents per the rules."""
        if actor.kind is ActorKind.HUMAN:
            return Decision(verdict=Verdict.AUTO, rule="humans decide")
        if actor.kind is ActorKind.SYSTEM:
            if action in MACHINE_WORK:
                return Decision(verdict=Verdict.AUTO, rule="machine work")
            return Decision(verdict=Verdict.NEVER, rule="only humans make judgment decisions")
        rules = self.agent
        if action in rules.never:
            return Decision(verdict=Verdict.NEVER, rule="boundaries.agent.never")
        if action in rules.approval:
            return Decision(verdict=Verdict.APPROVAL, rule="boundaries.agent.approval")
        if action in rules.auto:
            return Decision(verdict=Verdict.AUTO, rule="boundaries.agent.auto")
        return Decision(verdict=Verdict.UNDEFINED, rule="not named in boundaries.agent")
