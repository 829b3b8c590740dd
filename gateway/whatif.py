"""What a new policy would have done with the requests past incidents recorded (`baton boundaries what-if`).

Each recorded request is decided again under the new `Boundaries`, with the actor and severity it was decided at,
and compared with what the policy the incident ran with gives (the snapshot, or what a human reloaded). Rows count
requests per (action, severity, actor kind, verdict then, verdict now). A change is *looser* when the new verdict is
less strict (never or undefined → approval → auto); a *widening* is a looser change that lets an agent do alone, at
one of the most severe levels, what it could not do alone before: what a CI gate refuses without `--allow-widening`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gateway.decisions import Recorded
from incident.config import ConfigError, parse_config
from incident.fields import Strict
from incident.models import Actor, ActorKind, Severity
from incident.policy import Boundaries, Verdict
from incident.yaml_file import read_text, validate_yaml

MOST_SEVERE = (Severity.SEV0, Severity.SEV1)
"""Where a widening gates: the two most severe levels."""
_STRICT = {Verdict.AUTO: 0, Verdict.APPROVAL: 1, Verdict.NEVER: 2, Verdict.UNDEFINED: 2}


@dataclass
class WhatIfRow:
    action: str
    severity: Severity
    actor_kind: str
    was: Verdict
    now: Verdict
    rule: str
    """The new policy's rule."""
    count: int = 0
    incidents: list[str] = field(default_factory=list)

    @property
    def looser(self) -> bool:
        return _STRICT[self.now] < _STRICT[self.was]

    @property
    def stricter(self) -> bool:
        return _STRICT[self.now] > _STRICT[self.was]

    @property
    def widening(self) -> bool:
        return (
            self.actor_kind == ActorKind.AGENT.value
            and self.severity in MOST_SEVERE
            and self.now is Verdict.AUTO
            and self.was is not Verdict.AUTO
        )


@dataclass
class WhatIf:
    rows: list[WhatIfRow]
    incidents: int

    @property
    def requests(self) -> int:
        return sum(r.count for r in self.rows)

    def now(self, *verdicts: Verdict) -> int:
        """Requests the new policy gives one of `verdicts`."""
        return sum(r.count for r in self.rows if r.now in verdicts)

    @property
    def changed(self) -> list[WhatIfRow]:
        return [r for r in self.rows if r.was is not r.now]

    @property
    def widenings(self) -> list[WhatIfRow]:
        return [r for r in self.rows if r.widening]


def what_if(new: Boundaries, recorded: Iterable[Recorded]) -> WhatIf:
    """Every recorded request decided under `new` and under the policy it ran with, counted per kind; rows with a
    change first (widenings first of all), then by action and severity."""
    rows: dict[tuple[str, Severity, str, Verdict, Verdict, str], WhatIfRow] = {}
    incidents: set[str] = set()
    for rec in recorded:
        incidents.add(rec.incident_id)
        for a in rec.asked:
            actor = Actor.parse(a.actor)
            was = rec.boundaries(a).decide(a.action, actor, a.severity).verdict
            d = new.decide(a.action, actor, a.severity)
            key = (a.action, a.severity, actor.kind.value, was, d.verdict, d.rule)
            row = rows.setdefault(key, WhatIfRow(*key))
            row.count += 1
            if rec.incident_id not in row.incidents:
                row.incidents.append(rec.incident_id)
    order = list(Severity)
    return WhatIf(
        rows=sorted(
            rows.values(),
            key=lambda r: (not r.widening, r.was is r.now, r.action, order.index(r.severity), r.actor_kind),
        ),
        incidents=len(incidents),
    )


class PolicyFile(Strict):
    """A file that holds only the policy: `boundaries:` as in the config."""

    boundaries: Boundaries


def load_policy(path: str) -> Boundaries:
    """The boundaries NEW.yaml holds: a whole config (validated as the config is), or a file with only
    `boundaries:`. Raises ConfigError naming every problem with its path and line."""
    p = Path(path)
    text = read_text(p, ConfigError)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = None  # validate_yaml says where
    if isinstance(data, dict) and set(data) == {"boundaries"}:
        policy, _ = validate_yaml(
            text, str(p), PolicyFile, ConfigError, "the policy", context={"base_dir": str(p.parent)}
        )
        return policy.boundaries
    return parse_config(text, str(p), str(p.parent)).boundaries
