"""What every file baton reads is written with: the strict model, secrets, URLs, positive durations, and the one
way to say a name is unknown.

The config, the action runners and the scenario files all build on these, so none of them imports another for its
field types.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationInfo

from incident.durations import Duration

_ENV_REF = re.compile(r"^env:([A-Za-z_][A-Za-z0-9_]*)$")
_HTTP_URL = re.compile(r"^https?://[^\s/]+")


class Strict(BaseModel):
    """A section of a file people write: a field nobody defined is a typo to report, not something to ignore."""

    model_config = ConfigDict(extra="forbid")


class Secret(BaseModel):
    """A secret written as `env:VAR` (read when used, never logged) or, discouraged, inline."""

    ref: str

    @property
    def env_var(self) -> str | None:
        m = _ENV_REF.match(self.ref)
        return m.group(1) if m else None

    def reveal(self) -> str | None:
        var = self.env_var
        return os.environ.get(var) or None if var else self.ref

    def __repr__(self) -> str:
        return f"Secret({(self.env_var and 'env:' + self.env_var) or '***'})"


def as_secret(v: Any) -> Secret:
    """`env:VAR` or a non-empty string as written; a Secret, or what one dumps to, as it is."""
    if isinstance(v, Secret):
        return v
    if isinstance(v, dict):
        return Secret.model_validate(v)
    if not isinstance(v, str) or not v:
        raise ValueError("a secret is `env:VARIABLE` (or a non-empty string)")
    return Secret(ref=v)


SecretRef = Annotated[Secret, BeforeValidator(as_secret)]
"""A field holding a Secret, written `env:VAR` in the file."""


def _http_url(v: str) -> str:
    if not _HTTP_URL.match(v):
        raise ValueError(f"{v!r} is not an http(s) URL")
    return v


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""An http(s) URL, kept as the string written (placeholders in it stay as they are)."""


def _positive(v: timedelta, info: ValidationInfo) -> timedelta:
    if v.total_seconds() <= 0:
        raise ValueError(f"{info.field_name} must be longer than 0s")
    return v


PositiveDuration = Annotated[Duration, AfterValidator(_positive)]
"""A Duration (`30s`, `5m`) that must be longer than zero: a timeout, a wait before the next step."""


def check_targets(v: list[str]) -> list[str]:
    """Who to reach, as escalation levels and readiness notices name them: `user:NAME` or `schedule:NAME`."""
    for target in v:
        kind, _, name = target.partition(":")
        if kind not in ("user", "schedule") or not name:
            raise ValueError(f"{target!r} is not `user:NAME` or `schedule:NAME`")
    return v


def unknown(what: str, name: str, known: Iterable[str], where: str = "") -> str:
    """`unknown person 'zed' (known: alice, bob)`: the message for a name that refers to nothing defined; `where`
    says where it was looked for (`in the config`) when that is not plain from the place it is reported."""
    names = ", ".join(sorted(known)) or "none defined"
    return f"unknown {what} {name!r}{' ' + where if where else ''} (known: {names})"


def secrets_in(value: Any) -> list[Secret]:
    """Every Secret in a model, dict or list, however deep: what a config holds that must never be recorded."""
    if isinstance(value, Secret):
        return [value]
    if isinstance(value, BaseModel):
        return [s for name in type(value).model_fields for s in secrets_in(getattr(value, name))]
    if isinstance(value, dict):
        return [s for v in value.values() for s in secrets_in(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in secrets_in(v)]
    return []
