"""Action runners: how an approved action (a rollback, customer comms, a team's own action) is carried out.

`actions:` at the top of the config (every service) and `services.X.actions` (that service, winning over the top
level) map an action name to exactly one runner: a `webhook` (a CI/CD or deploy API), a local `command` (run
without a shell) or `statuspage` (Atlassian Statuspage, for customer comms). Strings in a runner may hold
`{placeholders}` filled from the approved request; see `PLACEHOLDERS` and `Renderer`.

Request parameters come from whoever asked, an agent included, so each action declares the ones it takes
(`params: {version: {pattern: ...}}` or `{values: [...]}`): the workflow refuses any other parameter or value
before anything runs (`param_problems`), a parameter never becomes part of a webhook URL's scheme, host or port,
and a command gets parameters only after `--`, as `name=value`.

Pure: models and templating only. The activity that runs them is `activities/actions.py`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, field_validator, model_validator

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
"""Filled from the request itself; a parameter the action declares is a placeholder too (no parameter may take
one of these names, so a parameter cannot redirect an action to another service or incident)."""

FREE_TEXT = "text"
"""The built-in placeholder an agent writes freely (the customer message): never an argv item; a command reads it
from `BATON_TEXT`."""

_PLACEHOLDER = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_EMPTY_BUILTIN = {
    "text": "the request has no text (the message to post)",
    "approved_by": "nobody approved this request",
}
_DOT_SEGMENTS = (".", "..")


def placeholders(template: str) -> list[str]:
    """The `{name}` placeholders in `template`, in order (not the `{{literal}}` ones)."""
    return [m.group(2) for m in _PLACEHOLDER.finditer(template) if m.group(2) is not None]


def json_strings(value: Any) -> list[str]:
    """Every string in a JSON value (not the keys): the ones a body's placeholders are filled in."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in json_strings(v)]
    return []


class TemplateError(ValueError):
    """A placeholder has no value, or one a URL cannot take. The message names each one and says how to fix the
    request."""

    def __init__(self, missing: list[str], builtins: Collection[str] = PLACEHOLDERS, dots: Collection[str] = ()):
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
        for name in dots:
            parts.append(f"parameter {name!r} is '.' or '..' in a URL, which would move the URL's path")
        super().__init__("; ".join(parts))


class Renderer:
    """Fills `{name}` placeholders; `{{name}}` stays a literal `{name}`. Other braces are left alone.

    Missing values are collected rather than raised one by one, so `check()` names every one of them.
    """

    def __init__(self, values: Mapping[str, str | None]):
        self.values = values
        self.missing: list[str] = []
        self.dots: list[str] = []

    def text(self, template: str, *, url: bool = False) -> str:
        """`template` filled in; with `url=True` every value is percent-encoded (no `/`, `?`, `&`, `@`, `:`
        survive) and `.` or `..` is refused, so a value stays inside the path or query it was put in."""

        def sub(m: re.Match[str]) -> str:
            if m.group(1) is not None:
                return "{" + m.group(1) + "}"
            name = m.group(2)
            value = self.values.get(name)
            if value is None:
                if name not in self.missing:
                    self.missing.append(name)
                return m.group(0)
            if url and value in _DOT_SEGMENTS and name not in self.dots:
                self.dots.append(name)
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
        if self.missing or self.dots:
            raise TemplateError(self.missing, dots=self.dots)


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


PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
"""A request parameter's name: what a `{placeholder}` can name."""
SHOWN_VALUE = 60
"""Characters of a refused value a refusal quotes."""


def _values_as_text(v: Any) -> Any:
    """`values: [1, 2, 3]` in YAML are numbers; a parameter's value is always text."""
    if isinstance(v, list):
        return [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in v]
    return v


class ParamRule(Strict):
    """What one request parameter may be: a `pattern` its whole value must match, or the `values` it may take."""

    pattern: str | None = Field(None, description='a regular expression the whole value must match, e.g. "^v[0-9]+$"')
    values: Annotated[list[str] | None, BeforeValidator(_values_as_text)] = Field(
        None, min_length=1, description="the values allowed, e.g. [staging, production]"
    )

    @model_validator(mode="after")
    def _one_rule(self) -> ParamRule:
        if (self.pattern is None) == (self.values is None):
            raise ValueError('a parameter has exactly one of `pattern: "^...$"` or `values: [...]`')
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as e:
                raise ValueError(f"pattern {self.pattern!r} is not a regular expression: {e}") from None
        return self

    def allows(self, value: str) -> bool:
        if self.values is not None:
            return value in self.values
        assert self.pattern is not None
        return re.fullmatch(self.pattern, value) is not None

    def describe(self) -> str:
        """`must match ^v[0-9]+$ (the whole value)` or `must be one of staging, production`."""
        if self.values is not None:
            return "must be one of " + ", ".join(repr(v) for v in self.values)
        return f"must match {self.pattern} (the whole value)"


STATUSPAGE_PARAMS = {"title": ParamRule(pattern=r"[^\x00-\x1f\x7f]{1,200}")}
"""What a Statuspage runner takes without declaring it: the incident's name, one line of at most 200 characters."""


class ActionParams(BaseModel):
    """The parameters one action takes, and where the config declares them: what the workflow checks a request
    against (in the policy snapshot) before anything runs."""

    where: str = Field(description="the config path of the action's runner, e.g. `services.checkout.actions.rollback`")
    params: dict[str, ParamRule] = Field(default_factory=dict)


PARAMS_VERDICT = "params"
"""The verdict of a request refused for its parameters: the action may be allowed, these values are not."""


@dataclass(frozen=True)
class ParamProblem:
    """A request parameter the action does not take: the rule (config path) and what is wrong, for a refusal."""

    rule: str
    message: str


def param_problems(params: Mapping[str, str], declared: ActionParams) -> list[ParamProblem]:
    """Every parameter of a request that `declared` does not take, or takes with other values; empty when all fit.

    The same check runs in the workflow (a refusal on the timeline) and in the activity (nothing runs), so a config
    or policy that changed between the two cannot let a value through."""
    out = []
    rules = declared.params
    for name, value in params.items():
        rule = rules.get(name)
        if rule is None:
            known = ", ".join(sorted(rules)) or "none"
            out.append(
                ParamProblem(
                    f"{declared.where}.params",
                    f"parameter {name!r} is not one this action takes (it takes: {known}); "
                    f"a team declares it under {declared.where}.params",
                )
            )
        elif not rule.allows(value):
            shown = value if len(value) <= SHOWN_VALUE else value[: SHOWN_VALUE - 1] + "…"
            out.append(
                ParamProblem(f"{declared.where}.params.{name}", f"parameter {name!r} {rule.describe()}; got {shown!r}")
            )
    return out


SUGGESTED_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
"""The pattern a config error suggests: a name that cannot start with `-`."""


def _declaration(name: str) -> str:
    return f'params: {{{name}: {{pattern: "{SUGGESTED_PATTERN}"}}}}'


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class HeaderSecret(Strict):
    """A header whose value is a secret: `{secret: env:GITHUB_TOKEN, prefix: "Bearer "}`."""

    secret: SecretRef
    prefix: str = Field("", description='written before the secret, e.g. "Bearer "')


class WebhookRunner(Strict):
    """An HTTP request to a CI/CD or deploy API. 2xx is success, 4xx a failure, 5xx and timeouts are retried."""

    url: HttpUrl = Field(description="http(s); placeholders only in the path or query, percent-encoded")
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

    @field_validator("url")
    @classmethod
    def _fixed_authority(cls, v: str) -> str:
        origin = v.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
        if "{" in origin or "}" in origin:
            raise ValueError(
                f"{v!r} has a placeholder in its host or port: the request must never choose where it is sent; "
                "put placeholders in the path or the query only"
            )
        return v

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    def origin(self) -> tuple[str, str]:
        """(scheme, host and port) of `url`: where every call goes, whatever the request's parameters."""
        parts = urlsplit(self.url)
        return parts.scheme.lower(), parts.netloc.lower()

    def templates(self) -> list[tuple[str, str]]:
        """(field, template) for every string placeholders are filled in."""
        return [("url", self.url), *(("body", t) for t in json_strings(self.body))]


class CommandRunner(Strict):
    """A local program, run without a shell: every argv item is filled in on its own and stays one argument.

    Request parameters are not argv placeholders: the runner appends `--` and then `name=value` per parameter, so
    no value (`--all`, `--kubeconfig=/x`) can be read as an option. The program's environment is a short default
    list plus the variables `env` names, never the rest of the worker's."""

    argv: list[str] = Field(min_length=1, description='e.g. ["./scripts/rollback.sh", "{service}"]')
    timeout: ActionTimeout = Field(default="5m", validate_default=True, description="then its process group is killed")
    cwd: str | None = Field(None, description="working directory; default: the worker's")
    env: list[str] = Field(
        default_factory=list, description="variables of the worker's environment the program also gets, e.g. KUBECONFIG"
    )

    @field_validator("argv")
    @classmethod
    def _program(cls, v: list[str]) -> list[str]:
        if not v[0].strip():
            raise ValueError("argv[0] (the program) must not be empty")
        for i, item in enumerate(v):
            for name in placeholders(item):
                if name == FREE_TEXT:
                    raise ValueError(
                        f"argv[{i}] {item!r}: {{text}} is free text from the request and cannot be an argument; "
                        "the program reads it from BATON_TEXT"
                    )
                if name not in PLACEHOLDERS:
                    raise ValueError(
                        f"argv[{i}] {item!r}: {{{name}}} is a request parameter, and parameters are not placed in "
                        f"argv: the program gets them after `--` as {name}=VALUE (and in BATON_PARAMS); declare "
                        f"it, e.g. {_declaration(name)}, and drop it from argv"
                    )
        return v

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: list[str]) -> list[str]:
        for name in v:
            if not ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
            if name.upper().startswith("BATON_"):
                raise ValueError(
                    f"{name} is baton's own: the program gets the request as BATON_* variables, never the worker's"
                )
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

    params: dict[str, ParamRule] = Field(
        default_factory=dict,
        description="the request parameters the action takes, each with a `pattern` or `values`; any other is refused",
    )
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

    @model_validator(mode="after")
    def _params_declared(self) -> ActionRunner:
        for name in self.params:
            if not PARAM_NAME.match(name):
                raise ValueError(f"params.{name}: a parameter name is letters, digits and _ (what {{name}} can name)")
            if name in PLACEHOLDERS:
                raise ValueError(f"params.{name}: {{{name}}} is filled from the request itself, never a parameter")
        if self.webhook is not None:
            for field, template in self.webhook.templates():
                for name in placeholders(template):
                    if name not in PLACEHOLDERS and name not in self.params:
                        raise ValueError(
                            f"webhook.{field} uses {{{name}}}, a request parameter this action does not declare: add "
                            f"{_declaration(name)} (or {{values: [...]}}) saying which values it takes"
                        )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in RUNNER_KINDS if getattr(self, k) is not None)

    def param_rules(self) -> dict[str, ParamRule]:
        """The parameters a request for this action may pass: `params`, and for Statuspage a `title` unless
        declared otherwise."""
        return {**STATUSPAGE_PARAMS, **self.params} if self.statuspage is not None else dict(self.params)

    def declared(self, where: str) -> ActionParams:
        return ActionParams(where=where, params=self.param_rules())

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
