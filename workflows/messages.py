"""The contracts between the workflows and the rest: what people and agents send an incident (its updates), and
what the workflows send their activities and get back.

Pure data, so the workflows can build them without importing the activities (which carry httpx, smtplib and
subprocess), and the activities can take them without importing a workflow. Field names are wire names: a running
incident's history carries them.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, field_validator

from incident.actions import idempotency_key
from incident.attestation import MAX_PROOF, Claim
from incident.channel import clip_post
from incident.coordination import ChannelSettings
from incident.models import Actor, Page, Recipient, Severity, UpdateReply
from incident.state import IncidentPolicy

MAX_TEXT = 4_000
"""Characters of a note, a rationale, a reason or a message: one update never carries a document."""
MAX_PARAMS = 20
MAX_PARAM_KEY = 64
MAX_PARAM_VALUE = 1_000
MAX_PARAMS_BYTES = 4_000
"""An action's parameters, encoded: what an approval carries across continue-as-new stays small."""
MAX_POLICY_BYTES = 256_000
"""A reloaded policy, encoded: a config's snapshot is a few kB; this keeps one update far from Temporal's limits."""
MAX_ACTION_NAME = 200
"""Characters of an action's name as asked for: a name the policy does not know is refused and recorded, not
rejected unseen, so it may be any text up to this long."""
REQUEST_ID = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"

ParamKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_PARAM_KEY)]
ParamValue = Annotated[str, StringConstraints(max_length=MAX_PARAM_VALUE)]


def params_size(params: dict[str, str]) -> int:
    return len(json.dumps(params, ensure_ascii=False).encode())


def check_params(params: dict[str, str]) -> dict[str, str]:
    """Refuse parameters that would make an approval (and the state carrying it) large."""
    size = params_size(params)
    if size > MAX_PARAMS_BYTES:
        raise ValueError(f"params are {size} bytes encoded; at most {MAX_PARAMS_BYTES}")
    return params


# ---- updates: what people and agents send an incident (validated at the edge and by the workflow's validators) ----


class ActorRequest(BaseModel):
    actor: Actor
    proof: str | None = Field(
        None, max_length=MAX_PROOF, description="the gateway's signed claim that `actor` sent this very request"
    )


class NoteRequest(ActorRequest):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class ResolveRequest(ActorRequest):
    summary: str = Field("", max_length=MAX_TEXT)


class SeverityRequest(ActorRequest):
    """A human sets (confirms or changes) the severity; an agent proposes one, with a reason."""

    severity: Severity
    reason: str = Field("", max_length=MAX_TEXT)


class RoleRequest(ActorRequest):
    """A human takes a role (`person` unset or themselves) or hands it to `person`; an agent may only propose
    someone (`propose`), never take or assign a role."""

    role: str = Field(min_length=1, max_length=64)
    person: str | None = Field(None, min_length=1, max_length=64)
    propose: bool = False
    reason: str = Field("", max_length=MAX_TEXT)


class StakeholderUpdateRequest(ActorRequest):
    """Send the stakeholder update that is due (its draft, or `text` as edited) to an audience; an agent may
    propose its wording (`propose`), and sends only where the boundaries let it."""

    text: str | None = Field(None, min_length=1, max_length=MAX_TEXT)
    audience: Literal["internal", "customers"] = "internal"
    propose: bool = False


class ActionRequest(ActorRequest):
    """Ask to do an action the boundaries decide on: it runs (auto), waits for a human (approval) or is refused."""

    action: str = Field(
        min_length=1,
        max_length=MAX_ACTION_NAME,
        description="rollback, customer_comms, resolve, or a custom action; any other name reaches the incident and "
        "is refused there as undefined, on the record",
    )
    params: dict[ParamKey, ParamValue] = Field(
        default_factory=dict, max_length=MAX_PARAMS, description="e.g. {version: v41}"
    )
    text: str | None = Field(None, max_length=MAX_TEXT, description="customer comms: the message to post")
    rationale: str = Field("", max_length=MAX_TEXT, description="why; an agent's request must say")
    request_id: str | None = Field(
        None,
        pattern=REQUEST_ID,
        description="the caller's id for this request: asked again with the same id, an action that was accepted "
        "is not run again",
    )

    @field_validator("params")
    @classmethod
    def _small_params(cls, v: dict[str, str]) -> dict[str, str]:
        return check_params(v)


class ActionReply(UpdateReply):
    """The answer to `request`: as any update's, plus the id an accepted action's outcome is recorded under."""

    action_id: str | None = Field(None, description="an accepted action: `R1`, … (its outcome goes on the timeline)")


class DecisionRequest(ActorRequest):
    """A human approves or denies a pending approval. Approving customer comms may replace the text."""

    approval_id: str = Field(min_length=1, max_length=20)
    approve: bool
    reason: str = Field("", max_length=MAX_TEXT)
    text: str | None = Field(None, max_length=MAX_TEXT, description="the approver's edit of the message to post")


class WithdrawRequest(ActorRequest):
    """Whoever asked for an approval takes it back while it waits."""

    approval_id: str = Field(min_length=1, max_length=20)
    reason: str = Field("", max_length=MAX_TEXT)


class ReloadRequest(ActorRequest):
    """Apply the current config's policy to a running incident: only a human may, and it is on the timeline."""

    policy: IncidentPolicy


# ---- activities: what the workflows ask of them ------------------------------------------------------------------


class AgentLevelsRequest(BaseModel):
    """`agent_levels`: the level each agent's record has reached on each laddered severity, read when an incident
    opens (an agent whose record cannot be read is left out: its ladders' start levels apply)."""

    agents: list[str] = Field(max_length=1_000)


class TargetsRequest(BaseModel):
    """`lookup_targets`: who the escalation targets (`user:NAME`, `schedule:NAME`) are at `at`."""

    targets: list[str]
    at: datetime
    severity: Severity | None = None
    """The incident's: each person's contact rule for its urgency is planned from `at` (none without it)."""


class TargetsResult(BaseModel):
    recipients: list[Recipient]
    problems: list[str] = []


class PageRequest(BaseModel):
    """`send_page`: deliver one page to one person by one contact method."""

    recipient: Recipient
    method: str
    page: Page
    key: str | None = Field(
        None,
        description="the page's idempotency key, the same on every attempt; set, the workflow decides on retries and "
        "the activity reports a failed delivery at once (unset: derived from the activity, retried by Temporal)",
    )


DELIVERY_FAILED = "DeliveryFailed"
"""The error type of a keyed `send_page` that failed but may succeed later (5xx, timeout): the workflow tries again."""
DELIVERY_REFUSED = "DeliveryRefused"
"""The error type of a keyed `send_page` no attempt by that method can fix (4xx, no address): the method is dropped."""


class ChangesRequest(BaseModel):
    """`recent_changes`: a service's changes since `since`, from its change log."""

    service: str
    since: datetime
    timeout_s: float = 2.0


class RunActionRequest(BaseModel):
    """`run_action`: carry out an allowed or approved action with the runner the config names for it."""

    incident_id: str
    workflow_id: str
    approval_id: str
    service: str
    action: str
    params: dict[str, str] = {}
    text: str | None = None
    requested_by: str
    approved_by: str | None = None
    key: str = Field("", description="the idempotency key, `<incident_id>/<A1 or R1>`; empty in older histories")

    def idempotency_key(self) -> str:
        """The same for every attempt at this one action, and different for every other action of any incident."""
        return self.key or idempotency_key(self.workflow_id, self.approval_id)


class PostUpdateRequest(BaseModel):
    """`post_stakeholder_update`: post one stakeholder update to one internal audience."""

    incident_id: str
    workflow_id: str
    service: str
    title: str = ""
    update_id: str = Field(description="U1, U2, …")
    audience: str = Field(description="slack:#channel or email:address")
    text: str
    key: str = Field(description="`<incident_id>/<U1>/<audience>`: the same for every attempt at this post")


class UpdatePosted(BaseModel):
    """What one post to an audience came to: posted, or why not (a failure no retry could fix)."""

    ok: bool
    detail: str = ""
    dry_run: bool = False


CHANGELOG_ID_PREFIX = "changes:"


def changelog_id(task_queue: str, service: str) -> str:
    """The change log workflow's id. Per task queue too: two baton deployments sharing a namespace keep their change
    logs apart."""
    return f"{CHANGELOG_ID_PREFIX}{task_queue}:{service}"


class ProofCheck(BaseModel):
    """`verify_proof`'s answer: the claim a trusted key signed, or why the proof proves nothing. The workflow
    checks the claim against the request; the answer is in its history, so a key retired later changes nothing
    on replay."""

    claim: Claim | None = None
    problem: str = ""


# ---- the incident's Slack channel (activities/channel.py) --------------------------------------------------------

SLACK_REFUSED = "SlackRefused"
"""The error type of a channel activity Slack refused for good (`missing_scope`, `not_in_channel`, …), or that cannot
run at all (no `integrations.slack`): another attempt cannot help."""
SLACK_RATE_LIMITED = "SlackRateLimited"
"""A 429: retried after the `Retry-After` Slack sent (`next_retry_delay`)."""
SLACK_FAILED = "SlackFailed"
"""Anything else (5xx, a timeout, `internal_error`): retried."""


class ChannelOpenRequest(BaseModel):
    """`channel_open`: create the incident's channel from the name template, or find the static one."""

    incident_id: str
    service: str
    severity: Severity
    title: str
    settings: ChannelSettings


class ChannelOpened(BaseModel):
    channel_id: str | None = Field(None, description="None: there is no channel (`problem` says why)")
    name: str = ""
    created: bool = Field(False, description="baton created it (a static one, or none, is not)")
    found: bool = Field(False, description="an earlier attempt had created it: found and reused")
    problem: str | None = None


class ChannelPostRequest(BaseModel):
    """`channel_post`: one message; `summary` makes it the incident's summary with its buttons."""

    channel: str
    text: Annotated[str, BeforeValidator(clip_post)]
    summary: Page | None = None
    thread_ts: str | None = None
    broadcast: bool = False


class ChannelPosted(BaseModel):
    channel: str
    ts: str


class ChannelInviteRequest(BaseModel):
    """`channel_invite`: people by their config names; the activity finds their Slack member ids."""

    channel_id: str
    people: list[str]


class ChannelInvited(BaseModel):
    invited: list[str] = Field(default_factory=list, description="in the channel now (invited, or already in it)")
    problems: list[str] = Field(default_factory=list, description="who could not be invited, and why")


class ChannelTopicRequest(BaseModel):
    channel_id: str
    topic: str


class ChannelBookmarksRequest(BaseModel):
    """`channel_bookmarks`: the incident's link, the runbook and the dashboards the page links to."""

    channel_id: str
    page: Page


class ChannelArchiveRequest(BaseModel):
    channel_id: str
