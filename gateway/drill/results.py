"""What a drill found: each check's verdict and the incident's timeline in scenario time, as text or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from incident.judge import Check, ago


@dataclass(frozen=True)
class TimelineLine:
    at: timedelta
    clock: datetime
    incident: str
    actor: str
    kind: str
    text: str


@dataclass
class DrillResult:
    file: str
    name: str
    config: str
    start: datetime
    checks: list[Check] = field(default_factory=list)
    timeline: list[TimelineLine] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "name": self.name,
            "passed": self.passed,
            "config": self.config,
            "start": self.start.isoformat(),
            "error": self.error,
            "expectations": [
                {
                    "at": ago(c.at),
                    "incident": c.incident,
                    "expect": c.expect,
                    "passed": c.passed,
                    "got": c.got,
                    "line": c.line,
                }
                for c in self.checks
            ],
            "timeline": [
                {
                    "at": ago(t.at),
                    "clock": t.clock.isoformat(),
                    "incident": t.incident,
                    "actor": t.actor,
                    "kind": t.kind,
                    "text": t.text,
                }
                for t in self.timeline
            ],
        }
