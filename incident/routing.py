"""Routing: which service an alert belongs to, the severity it proposes, and how alerts group into incidents.

Rules are tried in order and the first match wins; a rule matches when every key in `match` equals the alert's
label (or, for a value starting with `~`, the label fully matches that regular expression). What no rule places
goes by the labels named in `service_labels`, and then to `default_service`: an alert is never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from incident.fields import Strict
from incident.models import Severity

IncidentPer = Literal["group", "alert"]

DEFAULT_SEVERITY_MAP: dict[str, Severity] = {
    "critical": Severity.SEV1,
    "page": Severity.SEV1,
    "high": Severity.SEV2,
    "error": Severity.SEV2,
    "warning": Severity.SEV3,
    "warn": Severity.SEV3,
    "medium": Severity.SEV3,
    "low": Severity.SEV4,
    "info": Severity.SEV4,
    "p1": Severity.SEV1,
    "p2": Severity.SEV2,
    "p3": Severity.SEV3,
    "p4": Severity.SEV4,
    "p5": Severity.SEV4,
}


class Rule(Strict):
    match: dict[str, str] = Field(min_length=1, description="label: value, or label: ~regex")
    service: str | None = None
    severity: Severity | None = None
    incident_per: IncidentPer | None = Field(None, description="Alertmanager/Grafana: one incident per group or alert")

    @field_validator("match")
    @classmethod
    def _regexes(cls, v: dict[str, str]) -> dict[str, str]:
        for key, pattern in v.items():
            if pattern.startswith("~"):
                try:
                    re.compile(pattern[1:])
                except re.error as e:
                    raise ValueError(f"match.{key}: {pattern[1:]!r} is not a regular expression: {e}") from None
        return v

    def matches(self, labels: dict[str, str]) -> bool:
        for key, want in self.match.items():
            have = labels.get(key)
            if have is None:
                return False
            if want.startswith("~"):
                if not re.fullmatch(want[1:], have):
                    return False
            elif have != want:
                return False
        return True


class Routing(Strict):
    """`routing:` in the config."""

    default_service: str | None = Field(None, description="where alerts no rule matches go; never dropped")
    rules: list[Rule] = Field(default_factory=list)
    service_labels: list[str] = Field(
        default_factory=lambda: ["service"], description="labels (Datadog tags) whose value names a service"
    )
    severity_label: str = Field("severity", description="the label whose value proposes a severity")
    severity_map: dict[str, Severity] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY_MAP))
    incident_per: IncidentPer = "group"

    @field_validator("severity_map", mode="after")
    @classmethod
    def _merge_defaults(cls, v: dict[str, Severity]) -> dict[str, Severity]:
        """Values match case-insensitively, and a map in the config adds to (or overrides) the defaults."""
        return DEFAULT_SEVERITY_MAP | {k.lower(): sev for k, sev in v.items()}


@dataclass(frozen=True)
class Route:
    service: str
    severity: Severity | None
    incident_per: IncidentPer
    rule: int | None


def route(routing: Routing, services: Collection[str], default: str, labels: dict[str, str]) -> Route:
    """Place an alert by its labels. Pure; never fails."""
    for i, rule in enumerate(routing.rules):
        if rule.matches(labels):
            service = rule.service or service_by_label(routing, services, labels) or default
            severity = rule.severity or severity_from_labels(routing, labels)
            return Route(service, severity, rule.incident_per or routing.incident_per, i)
    service = service_by_label(routing, services, labels) or default
    return Route(service, severity_from_labels(routing, labels), routing.incident_per, None)


def service_by_label(routing: Routing, services: Collection[str], labels: dict[str, str]) -> str | None:
    for key in routing.service_labels:
        if labels.get(key) in services:
            return labels[key]
    return None


def severity_from_labels(routing: Routing, labels: dict[str, str]) -> Severity | None:
    value = labels.get(routing.severity_label)
    return map_severity(routing, value) if value else None


def map_severity(routing: Routing, value: str | None) -> Severity | None:
    if not value:
        return None
    v = value.strip()
    if v.upper() in Severity.__members__:
        return Severity(v.upper())
    return routing.severity_map.get(v.lower())
