"""The state an incident workflow keeps, and the policy snapshot it is started with.

What the state keeps is bounded as it is recorded (a few hundred alerts with their labels and details clipped, the
last delivery ids), and what a run carries into the next one is bounded again (`IncidentState.carried`): the
history of every run keeps the full record, so a timeline that only grows is carried as the entries that tell the
incident's story plus the most recent ones, and counts what it left behind.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from incident.actions import ActionParams
from incident.approvals import Approval, ApprovalStatus, Refusal
from incident.budget import AgentBudgets, Usage
from incident.channel import ChannelState
from incident.config import Config, EscalationPolicy, ServiceContext
from incident.context import PageContext
from incident.coordination import LEAD, Coordination
from incident.escalation import EscalationCursor
from incident.links import Link
from incident.maintenance import Hold
from incident.models import Actor, ActorKind, Alert, AlertRecord, Severity, Status, TimelineEntry
from incident.policy import Boundaries
from incident.record import Tally
from incident.shadow import Disagreement
from incident.timeline import STORY
from incident.updates import UpdatesState

TIMELINE_ALERT_ENTRIES = 20
"""Alert events written to the timeline one by one; past this the count goes on and one entry sums them up."""
MAX_ALERT_RECORDS = 200
"""Distinct alerts an incident tracks individually; further ones are counted only."""
RECENT_EVENTS = 1_000
"""Delivery ids remembered to recognise a source's retry; older ones are forgotten first."""
EVENT_ID_KEPT = 128
"""Characters of a delivery id kept as is; a longer one is remembered by its digest."""
SUMMARY_KEPT = 500
"""Characters of an alert's summary (and the incident's title) the state keeps."""
LABELS_KEPT = 1_000
DETAILS_KEPT = 1_000
"""Bytes of one alert's labels and details the state keeps; the full alert stays in the history it arrived in."""
LINKS_KEPT = 5
HREF_KEPT = 2_000
MAX_PENDING = 20
"""Approvals waiting for a decision, and accepted actions waiting to run: a request past this is refused."""
ACTIONS_KEPT = 50
"""Accepted actions remembered once done, so a retried request runs nothing new."""


def event_id_kept(event_id: str) -> str:
    """A delivery id as the state remembers it: bounded, and the same for the same id."""
    if len(event_id) <= EVENT_ID_KEPT:
        return event_id
    return "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def labels_kept(labels: dict[str, str]) -> dict[str, str]:
    """An alert's labels as the state keeps them: in order, each clipped, until LABELS_KEPT bytes."""
    out: dict[str, str] = {}
    size = 0
    for k, v in labels.items():
        k, v = clip(k, 100), clip(v, 200)
        size += len(k.encode()) + len(v.encode()) + 6
        if size > LABELS_KEPT:
            break
        out[k] = v
    return out


def links_kept(links: list[Link]) -> list[Link]:
    return [Link(href=clip(ln.href, HREF_KEPT), text=clip(ln.text, 200)) for ln in links[:LINKS_KEPT]]


class CarryLimits(BaseModel):
    """How much of the state one run carries into the next; the workflow tries each in turn until it fits."""

    story_first: int
    story_last: int
    recent: int
    text: int
    alerts: int
    decided_approvals: int
    recent_events: int
    context_items: int | None = None
    """Suspects, metrics and links of the page's context carried; None: all of it (logs go with any limit)."""


CARRY = [
    CarryLimits(
        story_first=50, story_last=150, recent=100, text=1_000, alerts=200, decided_approvals=20, recent_events=1_000
    ),
    CarryLimits(story_first=20, story_last=30, recent=30, text=300, alerts=50, decided_approvals=5, recent_events=200),
    CarryLimits(
        story_first=5,
        story_last=5,
        recent=10,
        text=200,
        alerts=0,
        decided_approvals=0,
        recent_events=50,
        context_items=3,
    ),
]


HISTORY_BYTES = 10_000_000
"""A run continues as new once its history has this many bytes (Temporal terminates one at 50 MB)."""


class ServiceInfo(BaseModel):
    name: str
    escalation: str
    customer_facing: bool = False
    runbook: str | None = None
    team: str | None = None
    on_recovery: Literal["ask", "resolve", "ignore"] = "ask"


class IncidentPolicy(BaseModel):
    """What the incident was started with. A config change applies to new incidents, not to running ones."""

    service: ServiceInfo
    escalation: EscalationPolicy
    boundaries: Boundaries
    context: ServiceContext = Field(default_factory=ServiceContext)
    providers: list[str] = Field(
        default_factory=lambda: ["changes"], description="context providers to wait for before the first page"
    )
    action_params: dict[str, ActionParams] = Field(
        default_factory=dict,
        description="per action with a runner: the parameters a request may pass (empty in older snapshots: unchecked)",
    )
    budgets: AgentBudgets | None = Field(
        None, description="agents' budgets per incident (None in older snapshots: no budget is counted)"
    )
    coordination: Coordination | None = Field(
        None, description="roles, channel and stakeholder updates (None in older snapshots: none of it)"
    )
    people: list[str] | None = Field(
        None, description="the configured people's names: who may hold a role (None in older snapshots)"
    )
    shadow: Boundaries | None = Field(
        None, description="`boundaries.shadow`: decided beside `boundaries`, no effect (None in older snapshots)"
    )

    @classmethod
    def snapshot(cls, config: Config, service: str) -> IncidentPolicy:
        svc = config.services[service]
        return cls(
            service=ServiceInfo(
                name=service,
                escalation=svc.escalation,
                customer_facing=svc.customer_facing,
                runbook=svc.runbook,
                team=svc.team,
                on_recovery=svc.on_recovery,
            ),
            escalation=config.escalation_policies[svc.escalation],
            boundaries=config.boundaries.model_copy(
                update={"shadow": None, "owners": config.boundaries.owners or config.readiness.notify}
            ),
            context=svc.context,
            providers=context_providers(config, service),
            action_params=config.action_params(service),
            budgets=AgentBudgets(agents={name: a.budget for name, a in config.agents.items()}),
            coordination=config.coordination_for(service),
            people=sorted(config.people),
            shadow=config.boundaries.shadow,
        )

    def with_levels(self, agents: list[str], found: dict[str, dict[Severity, str]]) -> IncidentPolicy:
        """This policy with each agent's earned autonomy fixed from what its record said (`found`; an agent or
        a severity missing there stays at its ladder's start), for the boundaries and their shadow alike. The
        incident calls it once, as it opens; `baton audit` calls it on the same answer, read from the history."""

        def fixed(bounds: Boundaries) -> Boundaries:
            ladders = bounds.ladders()
            return bounds.with_earned(
                {
                    agent: {sev: ladder.in_force(found.get(agent, {}).get(sev)) for sev, ladder in ladders.items()}
                    for agent in agents
                }
            )

        update: dict[str, object] = {"boundaries": fixed(self.boundaries)}
        if self.shadow is not None and self.shadow.ladders():
            update["shadow"] = fixed(self.shadow)
        return self.model_copy(update=update)


def context_providers(config: Config, service: str) -> list[str]:
    """Which context providers a service has configured: baton's own change log always."""
    ctx, integ = config.services[service].context, config.integrations
    out = ["changes"]
    if ctx.metrics and integ.prometheus:
        out.append("metrics")
    if ctx.logs and integ.loki:
        out.append("logs")
    if ctx.deploys.github:  # without integrations.github, the public API is asked without a token
        out.append("github")
    return out


class AcceptedAction(BaseModel):
    """An action the boundaries allow at once, accepted by `request` and run from the main loop."""

    id: str = Field(description="short, per incident: R1, R2, …")
    request_id: str = Field(description="the caller's request id (or the update's): a retry with it runs nothing")
    action: str
    params: dict[str, str] = Field(default_factory=dict)
    text: str | None = None
    rationale: str = ""
    requested_by: str
    requested_at: datetime
    status: Literal["queued", "running", "ran", "failed", "skipped"] = "queued"


class IncidentState(BaseModel):
    """Everything the incident is. Read with the `state` query; carried across continue-as-new."""

    incident_id: str
    workflow_id: str
    title: str
    service: str
    severity: Severity = Field(description="the severity in force: a human's, else the most severe proposed")
    severity_confirmed_by: str | None = None
    severity_needs_confirmation: bool = False
    status: Status = Status.TRIGGERED
    opened_at: datetime
    alert_received_at: datetime | None = Field(None, description="when the intake received the first alert")
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    ack_deadline: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    first_page_at: datetime | None = None
    alert_count: int = 0
    alerts: dict[str, AlertRecord] = Field(default_factory=dict)
    alerts_untracked: int = 0
    paged: list[str] = Field(default_factory=list)
    top_level: int = Field(0, description="the highest escalation level paged so far")
    approvals: list[Approval] = Field(default_factory=list)
    refusals: list[Refusal] = Field(default_factory=list, description="refused requests, counted per kind")
    refused_total: int = 0
    shadow: list[Disagreement] = Field(
        default_factory=list, description="where the shadow policy decided otherwise, counted per kind (bounded)"
    )
    shadow_total: int = 0
    agent_tally: list[Tally] = Field(
        default_factory=list, description="what became of each agent's requests, for its record (bounded)"
    )
    escalation: EscalationCursor = Field(default_factory=EscalationCursor)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    alert_entries: int = 0
    context: PageContext | None = None
    threads: dict[str, dict[str, str]] = Field(
        default_factory=dict, description="person -> contact method -> where updates to their page go"
    )
    seconds_to_first_page: float | None = Field(None, description="from the first alert's receipt to the first page")
    duplicates: int = Field(0, description="deliveries recognised as repeats of one already counted")
    recent_events: list[str] = Field(default_factory=list, description="the last delivery ids, to spot repeats")
    runs: int = 1
    timeline_left: int = Field(0, description="timeline entries not carried: they are in earlier runs' histories")
    approvals_issued: int = Field(0, description="approval ids given so far (A1, A2, …), carried or not")
    actions: list[AcceptedAction] = Field(default_factory=list, description="auto actions: waiting, running, done")
    actions_issued: int = Field(0, description="action ids given so far (R1, R2, …)")
    opened_by: str | None = Field(None, description="the agent that opened it (`agent:NAME`); None: an alert")
    severity_floor: Severity | None = Field(
        None,
        description="the most severe other open incident of the service when an agent opened this one: until a "
        "human confirms the severity, agents' requests are decided at least at it",
    )
    agent_paged: list[str] = Field(
        default_factory=list, description="people reached only because an agent paged them: never `oncall` approvers"
    )
    budget_use: list[Usage] = Field(default_factory=list, description="agents' budgets used in the current windows")
    refusal_notices: int = Field(0, description="refusal notices sent to responders (bounded)")
    roles: dict[str, str] = Field(default_factory=dict, description="role -> the person holding it (`lead`, `comms`…)")
    commanders_paged: bool = Field(False, description="incident commanders were paged because nobody led in time")
    channel: ChannelState | None = Field(None, description="the incident's Slack channel, where there is one")
    updates: UpdatesState | None = Field(None, description="stakeholder updates, where a cadence applies")
    maintenance: Hold | None = Field(
        None, description="the maintenance window holding escalation and queued notices, while one is open"
    )

    @property
    def lead(self) -> str | None:
        return self.roles.get(LEAD)

    @property
    def oncall(self) -> list[str]:
        """Who `approvers: oncall` means: everyone paged, but people only an agent brought in (an agent could
        otherwise choose who approves its own request)."""
        return [p for p in self.paged if p not in self.agent_paged]

    def deciding_severity(self, actor: Actor) -> Severity:
        """The severity `actor`'s requests are decided at. An agent's, until a human confirms the severity, at the
        more severe of the one in force and `severity_floor`: a severity an agent chose never widens what agents
        may do."""
        floor = self.severity_floor
        if actor.kind is ActorKind.HUMAN or self.severity_confirmed_by or floor is None:
            return self.severity
        return min(self.severity, floor, key=lambda s: list(Severity).index(s))

    def next_approval_id(self) -> str:
        self.approvals_issued = max(self.approvals_issued, len(self.approvals)) + 1
        return f"A{self.approvals_issued}"

    def next_action_id(self) -> str:
        self.actions_issued += 1
        return f"R{self.actions_issued}"

    @property
    def queued_actions(self) -> list[AcceptedAction]:
        return [a for a in self.actions if a.status == "queued"]

    def carried(self, limits: CarryLimits) -> IncidentState:
        """A copy bounded by `limits`, for the next run: what is not carried stays in this run's history."""
        st = self.model_copy(deep=True)
        st.approvals_issued = max(st.approvals_issued, len(st.approvals))
        st.timeline = _story(st.timeline, limits)
        st.timeline_left += len(self.timeline) - len(st.timeline)
        waiting = {a.id for a in st.approvals if a.pending or (a.status is ApprovalStatus.APPROVED and a.run is None)}
        decided = [a.id for a in st.approvals if a.id not in waiting]
        waiting.update(decided[len(decided) - limits.decided_approvals :] if limits.decided_approvals else [])
        st.approvals = [a for a in st.approvals if a.id in waiting]
        done = [a for a in st.actions if a.status not in ("queued", "running")]
        st.actions = [a for a in st.actions if a.status in ("queued", "running")] + done[-ACTIONS_KEPT:]
        if len(st.alerts) > limits.alerts:
            ordered = sorted(st.alerts.values(), key=lambda r: (not r.firing, r.first_at))
            st.alerts = {r.key: r for r in ordered[: limits.alerts]}
            st.alerts_untracked += len(self.alerts) - len(st.alerts)
        if limits.alerts < CARRY[0].alerts:
            for rec in st.alerts.values():
                rec.labels, rec.details, rec.links = {}, {}, rec.links[:1]
        st.recent_events = st.recent_events[len(st.recent_events) - limits.recent_events :]
        if st.context is not None and limits.context_items is not None:
            n, ctx = limits.context_items, st.context
            st.context = ctx.model_copy(
                update={"suspects": ctx.suspects[:n], "metrics": ctx.metrics[:n], "links": ctx.links[:n], "logs": None}
            )
        return st

    @property
    def pending_approvals(self) -> list[Approval]:
        return [a for a in self.approvals if a.pending]

    def approval(self, approval_id: str) -> Approval | None:
        wanted = approval_id.strip().upper()
        return next((a for a in self.approvals if a.id == wanted), None)

    @property
    def severity_label(self) -> str:
        """`SEV1`, or `SEV1 (proposed)` while a human has yet to confirm it."""
        pending = self.severity_needs_confirmation and not self.severity_confirmed_by
        return f"{self.severity.value} (proposed)" if pending else self.severity.value

    @property
    def open(self) -> bool:
        return self.status is not Status.RESOLVED

    @property
    def firing(self) -> bool:
        """Some alert is still firing (or alerts are only counted, so we cannot tell they all recovered)."""
        return self.alerts_untracked > 0 or any(a.firing for a in self.alerts.values()) or not self.alerts


class IncidentInput(BaseModel):
    """Workflow input. A fresh start carries only the policy; a continue-as-new carries the state too."""

    policy: IncidentPolicy
    state: IncidentState | None = None
    incident_id: str = Field(description="the id to use if this start opens a new incident")
    carry_alerts: list[Alert] = Field(
        default_factory=list, description="alerts that reached a resolved incident: they open this one"
    )
    history_limit: int = Field(2_000, ge=100, description="continue-as-new once the run's history has this many events")
    history_bytes: int = Field(
        HISTORY_BYTES, ge=100_000, description="continue-as-new once the run's history has this many bytes"
    )


def _story(timeline: list[TimelineEntry], limits: CarryLimits) -> list[TimelineEntry]:
    """The entries that tell the incident's story (the first and the latest), and the latest of any kind, in order;
    long texts clipped."""
    story = [i for i, e in enumerate(timeline) if e.kind in STORY]
    keep = set(story[: limits.story_first]) | set(story[len(story) - limits.story_last :])
    keep |= set(range(max(len(timeline) - limits.recent, 0), len(timeline)))
    out = []
    for i in sorted(keep):
        e = timeline[i]
        if len(e.text) > limits.text:
            e = e.model_copy(update={"text": clip(e.text, limits.text)})
        out.append(e)
    return out
