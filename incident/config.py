"""The one config file: people, schedules, escalation, services, boundaries, integrations.

Loading never half-succeeds: every problem is collected with its YAML path and line, and a bad file raises
`ConfigError` listing them all.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from incident.actions import ActionParams, ActionRunner
from incident.budget import AgentBudget
from incident.contact import DEFAULT_URGENCY, ContactRules, Urgency, WorkingHours, plan
from incident.coordination import COMMANDERS, ChannelSettings, Coordination
from incident.durations import Duration
from incident.fields import HttpUrl, PositiveDuration, Secret, SecretRef, Strict, check_targets, unknown
from incident.heartbeats import Heartbeat
from incident.models import NAME, PlannedStep, Severity
from incident.policy import Boundaries
from incident.readiness import ReadinessSettings
from incident.routing import Route, Routing, route
from incident.schedule import Schedule, check_timezone
from incident.yaml_file import FileProblems, Problem, dotted, line_for, read_text, validate_yaml

ContactMethod = Literal["slack", "email", "webhook", "pagerduty", "sms", "voice", "log"]
CONTACT_ORDER: tuple[str, ...] = ("slack", "email", "webhook", "pagerduty", "sms", "voice")
DETAIL = {"sms": "phone", "voice": "phone"}
"""The person's field a method needs, where it is not named as the method."""
INTEGRATION = {
    "slack": "integrations.slack",
    "email": "integrations.smtp",
    "sms": "integrations.twilio",
    "voice": "integrations.twilio",
}
_PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SHIPPED_EXAMPLE = Path(__file__).resolve().parent.parent / "baton.example.yaml"


class Person(Strict):
    name: str | None = None
    email: str | None = None
    slack: str | None = None
    webhook: HttpUrl | None = None
    pagerduty: SecretRef | None = Field(None, description="a PagerDuty Events v2 routing key: pages forwarded there")
    phone: str | None = Field(None, description="E.164 (`+4917...`): `sms` and `voice` through integrations.twilio")
    timezone: str = "UTC"
    token: SecretRef | None = Field(
        None, description="the person's own token for the gateway's API (`baton` sends it from $BATON_TOKEN)"
    )
    totp: SecretRef | None = Field(
        None,
        description="`env:VAR` holding the base32 secret of this person's authenticator app: one-time codes for "
        "step-up (`baton people enrol NAME` makes one)",
    )
    notify: list[ContactMethod] | None = Field(
        None, description="contact methods in the order to try; default: every configured one, then `log`"
    )
    contact: ContactRules | None = Field(
        None, description="per urgency, which method goes how long after the page (docs/paging.md); else `notify`"
    )
    working_hours: WorkingHours = Field(
        default_factory=WorkingHours, description="for contact steps with `working_hours: true`, in `timezone`"
    )

    _tz = field_validator("timezone")(classmethod(lambda cls, v: check_timezone(v)))

    @field_validator("email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v is not None and not _EMAIL.match(v):
            raise ValueError(f"{v!r} is not an email address")
        return v

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str | None) -> str | None:
        if v is not None and not _PHONE.match(v):
            raise ValueError(f"{v!r} is not a phone number in E.164 form, such as +4917612345678")
        return v

    @model_validator(mode="after")
    def _methods_configured(self) -> Person:
        for method in self.notify or []:
            if not self.has(method):
                need = DETAIL.get(method, method)
                raise ValueError(f"notify lists {method!r} but no {need} is set for this person")
        for urgency in ("high", "low"):
            for step in (self.contact.steps(urgency) if self.contact else None) or []:
                if not self.has(step.method):
                    need = DETAIL.get(step.method, step.method)
                    raise ValueError(f"contact.{urgency} uses {step.method!r} but no {need} is set for this person")
        return self

    def has(self, method: str) -> bool:
        """Whether this person has the detail `method` needs (`log` needs none)."""
        return method == "log" or getattr(self, DETAIL.get(method, method), None) is not None

    def contact_methods(self, usable: Collection[str] = CONTACT_ORDER) -> list[str]:
        """`notify` as written, else every method this person has that is `usable`, in CONTACT_ORDER; else log."""
        if self.notify:
            return list(self.notify)
        return [m for m in CONTACT_ORDER if self.has(m) and m in usable] or ["log"]


class EscalationLevel(Strict):
    notify: list[str] = Field(min_length=1, description="`user:NAME` or `schedule:NAME`")
    after: PositiveDuration = Field(description="how long this level has to acknowledge before the next is paged")

    _targets = field_validator("notify")(classmethod(lambda cls, v: check_targets(v)))


class EscalationPolicy(Strict):
    levels: list[EscalationLevel] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=20, description="how many more times to run the levels after the first pass")
    ack_timeout: Duration | None = Field(
        None, description="an acknowledged incident not resolved by then returns to triggered"
    )


class Deploys(Strict):
    github: str | None = Field(None, description="owner/repo whose GitHub deployments are changes to this service")
    environment: str | None = Field(None, description="only deployments to this GitHub environment")


class MetricQuery(Strict):
    name: str
    query: str = Field(description="PromQL, e.g. sum(rate(http_requests_total{code=~'5..'}[5m]))")
    unit: str = ""


class Logs(Strict):
    query: str = Field(description='LogQL, e.g. {app="checkout"} |= "error"')


class ServiceContext(Strict):
    """What to gather for a page: recent changes, metrics, logs."""

    deploys: Deploys = Field(default_factory=Deploys)
    metrics: list[MetricQuery] = Field(default_factory=list)
    logs: Logs | None = None
    window: Duration = Field(default="60m", validate_default=True, description="changes this recent are suspects")
    deadline: Duration = Field(
        default="2s", validate_default=True, description="how long the first page waits for context at most"
    )


class Service(Strict):
    escalation: str
    description: str | None = None
    team: str | None = None
    customer_facing: bool = False
    runbook: str | None = None
    on_recovery: Literal["ask", "resolve", "ignore"] = Field(
        "ask",
        description="when every alert has recovered: ask a human to confirm (default), resolve, or do nothing",
    )
    context: ServiceContext = Field(default_factory=ServiceContext)
    actions: dict[str, ActionRunner] = Field(
        default_factory=dict, description="how approved actions run for this service; wins over top-level `actions`"
    )
    coordination: Coordination | None = Field(
        None, description="roles, channel and updates for this service: each section set here wins over the defaults"
    )


class Integration(Strict):
    """An alert source posting to the intake, with its bearer token."""

    token: SecretRef


class SlackIntegration(Strict):
    bot_token: SecretRef
    signing_secret: SecretRef | None = None
    api_url: str = "https://slack.com/api"


class SmtpIntegration(Strict):
    host: str
    port: int = 587
    sender: str = Field(description="the From: address")
    username: str | None = None
    password: SecretRef | None = None
    starttls: bool = True
    ssl: bool = False


class WebhookIntegration(Strict):
    secret: SecretRef = Field(
        description='signs every webhook page: X-Baton-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>'
    )


class PagerDutyIntegration(Strict):
    url: str = "https://events.pagerduty.com/v2/enqueue"


class TwilioIntegration(Strict):
    """SMS and voice calls through Twilio's REST API, from one of the account's numbers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    account_sid: str = Field(description="AC..., the account the messages and calls are billed to")
    auth_token: SecretRef
    from_: str = Field(alias="from", description="the Twilio number (E.164) messages and calls come from")
    api_url: str = "https://api.twilio.com"

    @field_validator("from_")
    @classmethod
    def _from(cls, v: str) -> str:
        if not _PHONE.match(v):
            raise ValueError(f"{v!r} is not a phone number in E.164 form, such as +15005550006")
        return v


class GitHubIntegration(Strict):
    token: SecretRef | None = None
    api_url: str = "https://api.github.com"


class PrometheusIntegration(Strict):
    url: str = Field(description="the Prometheus base URL, e.g. http://prometheus:9090")


class LokiIntegration(Strict):
    url: str = Field(description="the Loki base URL, e.g. http://loki:3100")
    explore_url: str | None = Field(None, description="a Grafana base URL for links into Explore")


class Integrations(Strict):
    """Alert sources posting in (a token each) and the tools baton talks to."""

    events: Integration | None = None
    alertmanager: Integration | None = None
    grafana: Integration | None = None
    datadog: Integration | None = None
    changes: Integration | None = None
    heartbeats: Integration | None = Field(None, description="the token jobs ping `/v1/heartbeats/NAME` with")
    slack: SlackIntegration | None = None
    smtp: SmtpIntegration | None = None
    webhook: WebhookIntegration | None = None
    pagerduty: PagerDutyIntegration | None = None
    twilio: TwilioIntegration | None = None
    github: GitHubIntegration | None = None
    prometheus: PrometheusIntegration | None = None
    loki: LokiIntegration | None = None

    def intake(self) -> dict[str, Integration]:
        """The alert sources that are configured, by endpoint name."""
        return {
            name: integ
            for name in ("events", "alertmanager", "grafana", "datadog", "changes", "heartbeats")
            if (integ := getattr(self, name)) is not None
        }

    def secrets(self) -> list[tuple[str, str, Secret]]:
        """(integration, field, secret) for every secret configured."""
        out = []
        for name in type(self).model_fields:
            integ = getattr(self, name)
            for field_name in type(integ).model_fields if integ is not None else ():
                value = getattr(integ, field_name)
                if isinstance(value, Secret):
                    out.append((name, field_name, value))
        return out


class AgentIdentity(Strict):
    """An agent that may act through `baton mcp`: it proves who it is with its token."""

    token: SecretRef
    description: str | None = None
    budget: AgentBudget = Field(
        default_factory=AgentBudget, description="per window: requests, pages, notes per incident; incidents opened"
    )


class Identity(Strict):
    """`identity:` in the config: whose proofs a worker accepts (see docs/security.md)."""

    trusted_keys: list[str] = Field(
        default_factory=list,
        description="the gateway's public keys (`ed25519:...`); two while rotating; `baton up` needs none here",
    )

    @field_validator("trusted_keys")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        from incident.keys import TrustedKeys

        TrustedKeys(v)  # a key that is not one is refused when the config loads
        return v


class Config(Strict):
    people: dict[str, Person] = Field(default_factory=dict)
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    escalation_policies: dict[str, EscalationPolicy] = Field(default_factory=dict)
    services: dict[str, Service] = Field(min_length=1)
    routing: Routing = Field(default_factory=Routing)
    boundaries: Boundaries = Field(default_factory=Boundaries)
    actions: dict[str, ActionRunner] = Field(
        default_factory=dict, description="how approved actions run (webhook, command, statuspage); see docs/actions.md"
    )
    integrations: Integrations = Field(default_factory=Integrations)
    coordination: Coordination = Field(
        default_factory=Coordination,
        description="who leads, which channel, what we tell support; see docs/coordination.md",
    )
    agents: dict[str, AgentIdentity] = Field(
        default_factory=dict, description="agent identities for `baton mcp`, each with its token; see docs/mcp.md"
    )
    identity: Identity = Field(default_factory=Identity)
    heartbeats: dict[str, Heartbeat] = Field(
        default_factory=dict, description="jobs that ping baton; a missed ping opens an incident (docs/heartbeats.md)"
    )
    readiness: ReadinessSettings = Field(
        default_factory=ReadinessSettings,
        description="the daily readiness check and drills, and who hears about a gap (docs/readiness.md)",
    )
    urgency: dict[Severity, Urgency] = Field(
        default_factory=lambda: dict(DEFAULT_URGENCY),
        description="which contact rule (`people.NAME.contact.high` or `.low`) each severity pages with",
    )

    @property
    def default_service(self) -> str:
        return self.routing.default_service or next(iter(self.services))

    def runner_for(self, service: str, action: str) -> tuple[ActionRunner | None, str]:
        """The runner for `action` on `service` and the config path it came from: the service's own, else the
        top-level one; (None, "") when neither is configured."""
        svc = self.services.get(service)
        if svc is not None and (runner := svc.actions.get(action)) is not None:
            return runner, f"services.{service}.actions.{action}"
        if (runner := self.actions.get(action)) is not None:
            return runner, f"actions.{action}"
        return None, ""

    def coordination_for(self, service: str) -> Coordination:
        """The coordination `service` runs by: its own sections over the top-level defaults."""
        own = self.services[service].coordination
        return own.over(self.coordination) if own else self.coordination

    def action_params(self, service: str) -> dict[str, ActionParams]:
        """Per action with a runner for `service`: the parameters it takes (what the policy snapshot carries)."""
        names = [*self.actions, *(a for a in self.services[service].actions if a not in self.actions)]
        out = {}
        for action in names:
            runner, where = self.runner_for(service, action)
            if runner is not None:
                out[action] = runner.declared(where)
        return out

    def usable_methods(self) -> set[str]:
        """Contact methods whose integration is configured (webhook and PagerDuty need none of their own)."""
        i = self.integrations
        usable = {"webhook", "pagerduty", "log"} | ({"slack"} if i.slack else set()) | ({"email"} if i.smtp else set())
        return usable | ({"sms", "voice"} if i.twilio else set())

    def contact_methods(self, person: str) -> list[str]:
        return self.people[person].contact_methods(self.usable_methods())

    def contact_steps(self, person: str, severity: Severity, at: datetime) -> list[PlannedStep]:
        """The person's contact rule for `severity`'s urgency, planned from a page at `at`; empty without one."""
        who = self.people[person]
        urgency = self.urgency.get(severity, DEFAULT_URGENCY[severity])
        return plan(who.contact, who.working_hours, who.timezone, urgency, at)

    def route(self, labels: dict[str, str]) -> Route:
        """Which service, proposed severity and grouping an alert with these labels gets."""
        return route(self.routing, self.services, self.default_service, labels)

    def references(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-references that pydantic cannot check alone: (path, problem)."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for section in ("people", "schedules", "escalation_policies", "services", "agents", "heartbeats"):
            for name in getattr(self, section):
                if not NAME.match(name):
                    problems.append(((section, name), "names are lowercase letters, digits, . _ - (max 63)"))
        for name in self.agents:
            if name in self.people:
                problems.append((("agents", name), f"{name!r} is also a person: an agent and a human need two names"))
            if name == "baton":
                problems.append((("agents", name), "'baton' is the built-in agent's name; pick another"))
        for sname, sched in self.schedules.items():
            for li, layer in enumerate(sched.layers):
                for mi, member in enumerate(layer.members):
                    if member not in self.people:
                        problems.append(
                            (("schedules", sname, "layers", li, "members", mi), unknown("person", member, self.people))
                        )
            for oi, override in enumerate(sched.overrides):
                if override.person not in self.people:
                    where = ("schedules", sname, "overrides", oi, "person")
                    problems.append((where, unknown("person", override.person, self.people)))
        for pname, pol in self.escalation_policies.items():
            for li, level in enumerate(pol.levels):
                for ti, target in enumerate(level.notify):
                    kind, _, name = target.partition(":")
                    known = self.people if kind == "user" else self.schedules
                    if name not in known:
                        what = "person" if kind == "user" else "schedule"
                        problems.append(
                            (("escalation_policies", pname, "levels", li, "notify", ti), unknown(what, name, known))
                        )
        for role, members in self.boundaries.roles.items():
            for mi, member in enumerate(members):
                if member not in self.people:
                    problems.append((("boundaries", "roles", role, mi), unknown("person", member, self.people)))
        for action, refs in self.boundaries.approvers.items():
            for ri, ref in enumerate(refs):
                kind, _, name = ref.partition(":")
                if kind == "user" and name not in self.people:
                    problems.append((("boundaries", "approvers", action, ri), unknown("person", name, self.people)))
        actions = dict.fromkeys(self.boundaries.actions())
        runners: list[tuple[tuple[str, ...], dict[str, ActionRunner]]] = [(("actions",), self.actions)]
        runners += [(("services", sname, "actions"), svc.actions) for sname, svc in self.services.items()]
        for runners_at, by_action in runners:
            for action in by_action:
                if action not in actions:
                    problem = unknown("action", action, actions) + "; list a team's own in boundaries.custom_actions"
                    problems.append(((*runners_at, action), problem))
        usable = self.usable_methods()
        for pname, person in self.people.items():
            for mi, method in enumerate(person.notify or []):
                if method not in usable:
                    need = INTEGRATION[method]
                    problems.append((("people", pname, "notify", mi), f"{method} needs {need} to be configured"))
            for urgency in ("high", "low"):
                for si, step in enumerate((person.contact.steps(urgency) if person.contact else None) or []):
                    if step.method not in usable:
                        at = ("people", pname, "contact", urgency, si, "method")
                        problems.append((at, f"{step.method} needs {INTEGRATION[step.method]} to be configured"))
        for sname, svc in self.services.items():
            if svc.escalation not in self.escalation_policies:
                problems.append(
                    (
                        ("services", sname, "escalation"),
                        unknown("escalation policy", svc.escalation, self.escalation_policies),
                    )
                )
        for hname, hb in self.heartbeats.items():
            if hb.service not in self.services:
                problems.append((("heartbeats", hname, "service"), unknown("service", hb.service, self.services)))
        if self.heartbeats and self.integrations.heartbeats is None:
            problems.append(
                (
                    ("integrations", "heartbeats"),
                    "heartbeats need a token jobs ping with: integrations.heartbeats.token",
                )
            )
        for ti, target in enumerate(self.boundaries.owners):
            kind, _, name = target.partition(":")
            known = self.people if kind == "user" else self.schedules
            if name not in known:
                what = "person" if kind == "user" else "schedule"
                problems.append((("boundaries", "owners", ti), unknown(what, name, known)))
        for part, b in ("boundaries", self.boundaries), ("shadow", self.boundaries.shadow):
            if b is not None and b.earned is not None:
                path = ("boundaries", "earned") if part == "boundaries" else ("boundaries", "shadow", "earned")
                problems.append((path, "is set by baton in each incident's snapshot, not in the config"))
        for ti, target in enumerate(self.readiness.notify):
            kind, _, name = target.partition(":")
            known = self.people if kind == "user" else self.schedules
            if name not in known:
                what = "person" if kind == "user" else "schedule"
                problems.append((("readiness", "notify", ti), unknown(what, name, known)))
        for i, rule in enumerate(self.routing.rules):
            if rule.service and rule.service not in self.services:
                problems.append((("routing", "rules", i, "service"), unknown("service", rule.service, self.services)))
        if self.routing.default_service and self.routing.default_service not in self.services:
            problems.append(
                (("routing", "default_service"), unknown("service", self.routing.default_service, self.services))
            )
        elif not self.routing.default_service and len(self.services) > 1:
            problems.append(
                (
                    ("routing", "default_service"),
                    "required when there is more than one service: name the service that alerts no rule matches go to",
                )
            )
        return problems

    def warnings(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Things that load but will not work in this environment, such as unset secrets, or that leave someone
        unable to do what the config asks of them."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        for name, field_name, secret in self.integrations.secrets():
            var = secret.env_var
            if var and not os.environ.get(var):
                out.append((("integrations", name, field_name), f"environment variable {var} is not set"))
        for person, actions in self.cannot_step_up().items():
            out.append((("people", person), self.step_up_problem(person, actions)))
        out += self.commanders_missing()
        out += self.channel_warnings()
        out += self.audience_warnings()
        return out

    def audience_warnings(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Internal audiences of stakeholder updates that cannot be reached: Slack ones without integrations.slack,
        email ones without integrations.smtp (an update sent is still recorded, and posted nowhere)."""
        places: list[tuple[tuple[str | int, ...], list[str]]] = [
            (("coordination", "updates", "internal"), self.coordination.updates.internal)
        ]
        for name, svc in self.services.items():
            if svc.coordination is not None:
                places.append(
                    (("services", name, "coordination", "updates", "internal"), svc.coordination.updates.internal)
                )
        out: list[tuple[tuple[str | int, ...], str]] = []
        needs = {"slack": self.integrations.slack, "email": self.integrations.smtp}
        for path, audiences in places:
            for kind, integration in needs.items():
                lost = [a for a in audiences if a.startswith(f"{kind}:")]
                if lost and integration is None:
                    what = "integrations.slack" if kind == "slack" else "integrations.smtp"
                    out.append((path, f"{', '.join(lost)}: {what} is not configured, so updates are not posted there"))
        return out

    def channel_warnings(self) -> list[tuple[tuple[str | int, ...], str]]:
        """A channel configured where it cannot work: no integrations.slack, or `create: false` without `static`;
        and people a channel would invite who have no `slack:` member id."""
        places: list[tuple[tuple[str | int, ...], ChannelSettings]] = []
        if self.coordination.slack.channel is not None:
            places.append((("coordination", "slack", "channel"), self.coordination.slack.channel))
        for name, svc in self.services.items():
            if svc.coordination is not None and svc.coordination.slack.channel is not None:
                places.append((("services", name, "coordination", "slack", "channel"), svc.coordination.slack.channel))
        out: list[tuple[tuple[str | int, ...], str]] = []
        for path, settings in places:
            if self.integrations.slack is None:
                out.append((path, "a channel is configured but integrations.slack is not: incidents get no channel"))
            if not settings.create and not settings.static:
                out.append((path, "`create: false` needs `static:` (the channel to post in), else there is none"))
        unreachable = [p for p in self.on_call_people() if p in self.people and not self.people[p].slack]
        if places and self.integrations.slack is not None and unreachable:
            says = "can be paged but have no `slack:` member id: they are not invited to incident channels"
            out.append((("people",), f"{', '.join(unreachable)} {says}"))
        return out

    @staticmethod
    def step_up_problem(person: str, actions: list[str]) -> str:
        """What `cannot_step_up` means for one person, in words (`config check` and `baton readiness` say it)."""
        return (
            f"may decide {', '.join(actions)} (boundaries.step_up) but has no way to show they are there: "
            f"give them a totp (`baton people enrol {person}`) or a slack id with integrations.slack"
        )

    def commanders_missing(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Where `lead_within` would page the incident commanders but `boundaries.roles` names none."""
        if self.boundaries.roles.get(COMMANDERS):
            return []
        places: list[tuple[str | int, ...]] = [("coordination", "lead_within")] if self.coordination.lead_within else []
        for name, svc in self.services.items():
            if svc.coordination is not None and svc.coordination.lead_within:
                places.append(("services", name, "coordination", "lead_within"))
        why = (
            f"an incident nobody leads in time pages `role:{COMMANDERS}`, but boundaries.roles has no "
            f"{COMMANDERS} people: nobody would be paged"
        )
        return [(place, why) for place in places]

    def on_call_people(self) -> list[str]:
        """Everyone an escalation policy can page: named, or on one of its schedules (layers and overrides)."""
        out: list[str] = []
        for pol in self.escalation_policies.values():
            for level in pol.levels:
                for target in level.notify:
                    kind, _, name = target.partition(":")
                    sched = self.schedules.get(name) if kind == "schedule" else None
                    found = [name] if kind == "user" else []
                    if sched is not None:
                        found = [m for layer in sched.layers for m in layer.members]
                        found += [o.person for o in sched.overrides]
                    out += [p for p in dict.fromkeys(found) if p not in out]
        return out

    def cannot_step_up(self) -> dict[str, list[str]]:
        """Per person who may decide a step-up action (`oncall`: anyone an escalation policy can page), the ones
        they could not decide: they have no `totp`, and no `slack` id with Slack configured."""
        bounds, oncall = self.boundaries, self.on_call_people()
        out: dict[str, list[str]] = {}
        for action in bounds.step_up:
            for person in bounds.approver_people(action, oncall):
                found = self.people.get(person)
                if found is None or found.totp or (found.slack and self.integrations.slack):
                    continue
                out.setdefault(person, []).append(action)
        return {p: out[p] for p in self.people if p in out}


class ConfigError(FileProblems):
    """The config cannot be used. `problems` lists every one found, with path and line."""


def parse_config(text: str, source: str = "<config>", base_dir: str | None = None) -> Config:
    """Validate YAML text into a Config, or raise ConfigError with every problem. `base_dir`: where files the
    config names (a shadow policy) are found; else the current directory."""
    context: dict[str, object] | None = {"base_dir": base_dir} if base_dir is not None else None
    config, lines = validate_yaml(text, source, Config, ConfigError, "the config", context=context)
    refs = config.references()
    if refs:
        raise ConfigError(source, [Problem(path=dotted(p), line=line_for(lines, p), message=m) for p, m in refs])
    return config


def config_warnings(config: Config) -> list[str]:
    return [f"{dotted(p)}: {m}" for p, m in config.warnings()]


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`explicit`, else $BATON_CONFIG, else ./baton.yaml, else the shipped example."""
    if explicit:
        return Path(explicit)
    if env := os.environ.get("BATON_CONFIG"):
        return Path(env)
    local = Path("baton.yaml")
    return local if local.exists() else SHIPPED_EXAMPLE


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    p = config_path(path)
    return parse_config(read_text(p, ConfigError), str(p), str(p.parent))
