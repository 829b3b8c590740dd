"""Action runners: how an approved action (a rollback, customer comms, a team's own action) is carried out.

`actions:` at the top of the config (every service) and `services.X.actions` (that service, winning over the top
level) map an action name to exactly one runner: a `webhook` (a CI/CD or deploy API), a local `command` (run
without a shell) or `statuspage` (Atlassian Statuspage, for customer comms). Strings in a runner may hold
`{placeholders}` filled from the approved request; see `PLACEHOLDERS` and `Renderer`.

Pure: models and templating only. The activity that runs them is `activities/actions.py`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AfterValidator, Field, field_validator, model_validator

from incident.durations import format_duration
from incident.fields import HttpUrl, PositiveDuration, Secret, SecretRef, Strict

ACTION_ATTEMPT_TIMEOUT = timedelta(minutes=10)
"""How long the workflow lets one attempt at running an action take (the activity's start-to-close timeout); an
attempt cut off there is retried, so it would start the action again."""
RUNNER_TIMEOUT_MAX = timedelta(minutes=9)
"""The longest `timeout` a runner may have: its own timeout, the kill and the answer fit in one attempt."""


def _fits_one_attempt(v: timedelta) -> timedelta:
    if v > RUNNER_TIMEOUT_MAX:
        raise ValueError(
            f"timeout {format_duration(v)} is too long: at most {format_duration(RUNNER_TIMEOUT_MAX)} (one attempt at "
            f"an action is stopped after {format_duration(ACTION_ATTEMPT_TIMEOUT)} and retried, which would start "
            "it again)"
        )
    return v


ActionTimeout = Annotated[PositiveDuration, AfterValidator(_fits_one_attempt)]
"""A runner's `timeout`: positive, and short enough for one attempt."""


PLACEHOLDERS = (
    "incident_id",
    "workflow_id",
    "service",
    "action",
    "approval_id",
    "requested_by",
    "approved_by",
    "text",
)
"""Filled from the request itself; every request parameter is a placeholder too (these win over a parameter of
the same name, so a parameter cannot redirect an action to another service or incident)."""

_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EMPTY_BUILTIN = {
    "text": "the request has no text (the message to post)",
    "approved_by": "nobody approved this request",
}


class TemplateError(ValueError):
    """A placeholder has no value. The message names each one and says how to fix the request."""

    def __init__(self, missing: list[str], builtins: Collection[str] = PLACEHOLDERS):
        self.missing = missing
        params = [m for m in missing if m not in builtins]
        parts = []
        if params:
            names = ", ".join(repr(p) for p in params)
            wanted = ", ".join(f"{p}: ..." for p in params)
            verb = "is" if len(params) == 1 else "are"
            parts.append(
                f"parameter{'s' if len(params) > 1 else ''} {names} {verb} missing: "
                f"the request must pass params {{{wanted}}}"
            )
        for name in (m for m in missing if m in builtins):
            parts.append(f"placeholder {{{name}}} is empty: {_EMPTY_BUILTIN.get(name, 'no value in this request')}")
        super().__init__("; ".join(parts))


class Renderer:
    """Fills `{name}` placeholders; `{{name}}` stays a literal `{name}`. Other braces are left alone.

    Missing values are collected rather than raised one by one, so `check()` names every one of them.
    """

    def __init__(self, values: Mapping[str, str | None]):
        self.values = values
        self.missing: list[str] = []

    def text(self, template: str, *, url: bool = False) -> str:
        """`template` filled in; with `url=True` every value is percent-encoded (no `/`, `?`, `&` survive)."""

        def sub(m: re.Match[str]) -> str:
            if m.group(1) is not None:
                return "{" + m.group(1) + "}"
            name = m.group(2)
            value = self.values.get(name)
            if value is None:
                if name not in self.missing:
                    self.missing.append(name)
                return m.group(0)
            return quote(value, safe="") if url else value

        return _PLACEHOLDER.sub(sub, template)

    def json(self, value: Any) -> Any:
        """A JSON value with every string in it (not the keys) filled in."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        return value

    def check(self) -> None:
        if self.missing:
            raise TemplateError(self.missing)


def placeholder_values(
    *,
    incident_id: str,
    workflow_id: str,
    service: str,
    action: str,
    approval_id: str,
    requested_by: str,
    approved_by: str | None,
    text: str | None,
    params: Mapping[str, str],
) -> dict[str, str | None]:
    """Every request parameter, then the built-in placeholders over them."""
    return {
        **params,
        "incident_id": incident_id,
        "workflow_id": workflow_id,
        "service": service,
        "action": action,
        "approval_id": approval_id,
        "requested_by": requested_by,
        "approved_by": approved_by,
        "text": text,
    }


def idempotency_key(workflow_id: str, approval_id: str) -> str:
    """The same for every attempt at running one approval: receivers can drop repeats."""
    return f"{workflow_id}/{approval_id}"


class HeaderSecret(Strict):
    """A header whose value is a secret: `{secret: env:GITHUB_TOKEN, prefix: "Bearer "}`."""

    secret: SecretRef
    prefix: str = Field("", description='written before the secret, e.g. "Bearer "')


class WebhookRunner(Strict):
    """An HTTP request to a CI/CD or deploy API. 2xx is success, 4xx a failure, 5xx and timeouts are retried."""

    url: HttpUrl = Field(description="http(s); placeholders are percent-encoded")
    method: Literal["POST", "PUT", "PATCH", "GET", "DELETE"] = "POST"
    headers: dict[str, str | HeaderSecret] = Field(
        default_factory=dict, description="plain values as written; secrets as `{secret: env:VAR, prefix: ...}`"
    )
    body: Any = Field(None, description="JSON sent as the body; placeholders in its strings are filled")
    timeout: ActionTimeout = Field(default="30s", validate_default=True)

    @field_validator("headers")
    @classmethod
    def _no_inline_env(cls, v: dict[str, str | HeaderSecret]) -> dict[str, str | HeaderSecret]:
        for name, value in v.items():
            if isinstance(value, str) and (m := re.search(r"env:[A-Za-z_]\w*", value)):
                prefix = value[: m.start()]
                raise ValueError(
                    f"header {name!r} is sent as written; for a secret write "
                    f'{{secret: {m.group(0)}, prefix: "{prefix}"}}'
                )
        return v

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class CommandRunner(Strict):
    """A local program, run without a shell: every argv item is filled in on its own and stays one argument."""

    argv: list[str] = Field(min_length=1, description='e.g. ["./scripts/rollback.sh", "{service}", "{version}"]')
    timeout: ActionTimeout = Field(default="5m", validate_default=True, description="then its process group is killed")
    cwd: str | None = Field(None, description="working directory; default: the worker's")

    @field_validator("argv")
    @classmethod
    def _program(cls, v: list[str]) -> list[str]:
        if not v[0].strip():
            raise ValueError("argv[0] (the program) must not be empty")
        return v


StatuspageStatus = Literal["investigating", "identified", "monitoring", "resolved"]


class StatuspageRunner(Strict):
    """Opens an incident on an Atlassian Statuspage page with the approved message as its first update."""

    page_id: str = Field(min_length=1)
    api_key: SecretRef = Field(description="`env:VAR` holding a Statuspage API key (sent as `Authorization: OAuth`)")
    url: HttpUrl = "https://api.statuspage.io/v1"
    status: StatuspageStatus = "investigating"
    component_ids: list[str] = Field(default_factory=list, description="components the incident is about")
    timeout: ActionTimeout = Field(default="30s", validate_default=True)

    def incidents_url(self) -> str:
        return f"{self.url.rstrip('/')}/pages/{quote(self.page_id, safe='')}/incidents"

    def incident(self, service: str, text: str, title: str | None) -> dict[str, Any]:
        """The documented create-incident body."""
        return {
            "incident": {
                "name": title or f"{service}: service disruption",
                "status": self.status,
                "body": text,
                "component_ids": list(self.component_ids),
            }
        }


RUNNER_KINDS = ("webhook", "command", "statuspage")


class ActionRunner(Strict):
    """How one action is carried out: exactly one of `webhook`, `command`, `statuspage`."""

    webhook: WebhookRunner | None = None
    command: CommandRunner | None = None
    statuspage: StatuspageRunner | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionRunner:
        kinds = [k for k in RUNNER_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            given = f"got {', '.join(kinds)}" if kinds else "got none"
            raise ValueError(f"an action runner is exactly one of webhook, command, statuspage ({given})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in RUNNER_KINDS if getattr(self, k) is not None)

    def describe(self) -> str:
        """`webhook POST https://…`, `command ./rollback.sh`, `statuspage abc123`: what runs, without secrets."""
        if self.webhook is not None:
            return f"webhook {self.webhook.method} {self.webhook.url}"
        if self.command is not None:
            return f"command {self.command.argv[0]}"
        assert self.statuspage is not None
        return f"statuspage {self.statuspage.page_id}"

    def secrets(self) -> list[tuple[tuple[str, ...], Secret]]:
        """(path below this runner, secret) for every secret it uses."""
        out: list[tuple[tuple[str, ...], Secret]] = []
        if self.webhook is not None:
            for name, value in self.webhook.headers.items():
                if isinstance(value, HeaderSecret):
                    out.append((("webhook", "headers", name, "secret"), value.secret))
        if self.statuspage is not None:
            out.append((("statuspage", "api_key"), self.statuspage.api_key))
        return out
