"""`coordination:` in the config: who leads, which channel, what we tell support.

Defaults at the top level, `services.NAME.coordination` overriding them per service field by field (a field the
service sets wins; one it leaves out comes from the defaults). The merged result is part of the incident's policy
snapshot, so a running incident keeps the coordination it opened with.
"""

from __future__ import annotations

import re
import string

from pydantic import Field, field_validator

from incident.durations import Duration
from incident.fields import PositiveDuration, Strict
from incident.models import NAME, Severity

LEAD = "lead"
"""The role every incident has."""
COMMANDERS = "incident-commander"
"""The `boundaries.roles` entry paged when an incident has no lead in time (`lead_within`)."""
CHANNEL_FIELDS = ("id", "service", "severity", "title")
"""What a channel name template may use: `inc-{id}-{service}`."""
_AUDIENCE = re.compile(r"^(slack:#?[a-z0-9][a-z0-9._-]{0,79}|email:[^@\s]+@[^@\s]+\.[^@\s]+)$")


class ChannelSettings(Strict):
    """The incident's Slack channel: created on open from `name` (`create: true`), or a fixed channel per service
    that baton posts to and creates nothing (`static`)."""

    create: bool = Field(True, description="create a channel per incident (false: post to `static` only)")
    name: str = Field("inc-{id}-{service}", description="the channel name template: {id}, {service}, {severity}")
    static: str | None = Field(None, description="a channel to post in instead of creating one, e.g. #checkout-ops")
    announce: str | None = Field(None, description="where each new incident is announced with a link, e.g. #incidents")
    archive_after: Duration | None = Field(
        None, description="archive a created channel this long after the incident resolves (none: keep it)"
    )

    @field_validator("name")
    @classmethod
    def _template(cls, v: str) -> str:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(v) if f is not None]
        except ValueError as e:
            raise ValueError(f"not a name template: {e}") from e
        if bad := [f for f in fields if f not in CHANNEL_FIELDS]:
            raise ValueError(f"unknown field {{{bad[0]}}} (known: {', '.join(CHANNEL_FIELDS)})")
        return v


class SlackCoordination(Strict):
    channel: ChannelSettings | None = Field(None, description="the incident's channel; none: no channel work")


class UpdateSettings(Strict):
    """Stakeholder updates: due at a cadence per severity, drafted by baton, sent by the lead (or `comms`)."""

    every: dict[Severity, PositiveDuration] = Field(
        default_factory=dict, description="per severity, how often an update is due while the incident is open"
    )
    internal: list[str] = Field(
        default_factory=list, description='internal audiences: "slack:#support", "email:support@example.com"'
    )
    remind_after: PositiveDuration | None = Field(
        None,
        description="a due update not sent this long is reminded, and escalated after as long again "
        "(default: a third of its cadence)",
    )

    @field_validator("internal")
    @classmethod
    def _audiences(cls, v: list[str]) -> list[str]:
        for a in v:
            if not _AUDIENCE.match(a):
                raise ValueError(f"{a!r} is not an audience: slack:#channel or email:address")
        return v


class Coordination(Strict):
    roles: list[str] = Field(default_factory=list, description="roles an incident may have besides lead")
    lead_within: dict[Severity, PositiveDuration] = Field(
        default_factory=dict,
        description="per severity: an incident without a lead this long after opening pages `role:incident-commander`",
    )
    slack: SlackCoordination = Field(default_factory=SlackCoordination)
    updates: UpdateSettings = Field(default_factory=UpdateSettings)

    @field_validator("roles")
    @classmethod
    def _roles(cls, v: list[str]) -> list[str]:
        for r in v:
            if not NAME.match(r):
                raise ValueError(f"{r!r} is not a role name: lowercase letters, digits, . _ and -")
            if r == LEAD:
                raise ValueError("lead is always a role: list only the others")
        if len(set(v)) != len(v):
            raise ValueError("a role is listed twice")
        return v

    @property
    def all_roles(self) -> list[str]:
        return [LEAD, *self.roles]

    def over(self, defaults: Coordination) -> Coordination:
        """This (a service's) coordination with what it leaves out taken from `defaults`, section by section."""
        merged = defaults.model_dump()
        for field in self.model_fields_set:
            value = getattr(self, field)
            if isinstance(value, Strict) and field in merged:
                section = getattr(defaults, field).model_dump()
                section.update(value.model_dump(include=value.model_fields_set))
                merged[field] = section
            else:
                merged[field] = value.model_dump() if isinstance(value, Strict) else value
        return Coordination.model_validate(merged)
