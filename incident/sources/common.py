"""What every normaliser shares: placing an alert by the config's routing, and stable delivery ids."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from incident.config import Config
from incident.models import Severity
from incident.routing import IncidentPer, map_severity


@dataclass(frozen=True)
class Placement:
    service: str
    severity: Severity
    incident_per: IncidentPer


def place(
    config: Config,
    labels: dict[str, str],
    service_hint: str | None = None,
    source_severity: str | None = None,
    fallback: Severity = Severity.SEV3,
) -> Placement:
    """A rule that matches decides; else a hint or label that names a service; else the default service.
    Severity: the rule's, else the source's own (through `routing.severity_map`), else the label's, else
    `fallback`."""
    r = config.route(labels)
    service = r.service
    if r.rule is None and service_hint in config.services:
        service = service_hint
    rule_severity = config.routing.rules[r.rule].severity if r.rule is not None else None
    severity = rule_severity or map_severity(config.routing, source_severity) or r.severity or fallback
    return Placement(service=service, severity=severity, incident_per=r.incident_per)


def _printable(v: str) -> str:
    """Refuse NUL, control characters and lone surrogates: they cannot be part of an id (or a workflow id)."""
    bad = next((c for c in v if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise ValueError(f"must not contain control characters (found U+{ord(bad):04X})")
    return v


IdText = Annotated[str, AfterValidator(_printable), Field(min_length=1, max_length=1000)]
"""Text that becomes part of an id: a routing key, a dedup key, a group key, a fingerprint, an org."""

INT64 = 2**63


def content_id(*parts: Any) -> str:
    """A stable id for a delivery: the same content gives the same id, so a retry is recognised."""
    body = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def flat_labels(values: dict[str, Any]) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}
