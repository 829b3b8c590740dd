"""What people and agents do to incidents through the gateway. The token decides who acts (a body names nobody);
the gateway attests it with its key, and the incident's boundaries decide the rest. Approving, denying and
reloading are human decisions: with an agent's token the incident records the attempt, and the answer is 403."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter

from gateway.api.auth import Caller, agents_only, refused_to_agents
from gateway.api.bodies import (
    ApproveBody,
    DenyBody,
    EscalateBody,
    Judgment,
    NoteBody,
    OpenBody,
    Opened,
    PageBody,
    RequestBody,
    ResolveBody,
    SeverityBody,
    WithdrawBody,
)
from gateway.api.outcomes import ACTS, answered
from gateway.api.reads import Ref
from gateway.client import Incidents, NotFound, Refused
from gateway.intake.dependencies import Intake, IntakeDep
from gateway.intake.errors import ApiError
from gateway.intake.guard import GuardedRoute
from gateway.opening import open_for_agent
from gateway.step_up import StepUpRefused
from incident.attestation import Method
from incident.config import ConfigError
from incident.fields import unknown
from incident.models import Actor, ActorKind, UpdateReply
from incident.state import IncidentPolicy
from workflows.messages import ActionReply

router = APIRouter(tags=["incidents"], route_class=GuardedRoute)


def facade(intake: Intake, body: Judgment | None = None, who: Actor | None = None) -> Incidents:
    """The façade a request acts through: it attests the caller as authenticated by their token, or, with a
    one-time code that is right, current and not used before, as present (`totp`, with the code's time step)."""
    if body is None or body.code is None:
        return intake.incidents
    if who is None or who.kind is not ActorKind.HUMAN:
        raise ApiError(403, "forbidden", "a one-time code is a person's: an agent's token takes none")
    try:
        step = intake.step_up.check(who.name, body.code)
    except StepUpRefused as e:
        raise ApiError(422 if e.usage else 403, "step_up_refused", str(e)) from None

    async def once_everywhere() -> None:  # and not taken through another gateway
        try:
            await intake.step_up.claim_everywhere(who.name, step)
        except StepUpRefused as e:
            raise ApiError(403, "step_up_refused", str(e)) from None

    return intake.incidents.acting(Method.TOTP, totp_step=step, before=once_everywhere)


async def human_decision(who: Actor, what: str, decide: Callable[[], Awaitable[UpdateReply]]) -> UpdateReply:
    """`decide`, answered as it comes for a person; for an agent too, so the incident records and counts what it
    refuses, but then answered 403."""
    if who.kind is ActorKind.HUMAN:
        with answered():
            return await decide()
    try:
        return await decide()
    except Refused as e:
        raise refused_to_agents(who, what, str(e)) from None
    except NotFound as e:
        raise ApiError(404, "not_found", str(e)) from None


@router.post("/v1/incidents", response_model=Opened, responses=ACTS)
async def open_incident(body: OpenBody, intake: IntakeDep, who: Caller) -> Opened:
    """An agent opens an incident for a service no alert has reported on; the same `idempotency_key` returns the
    same open incident. The incident starts with the gateway's policy for the service and records the agent as
    its opener."""
    agents_only(who, "opening an incident here")
    if body.service not in intake.config.services:
        raise ApiError(422, "invalid_request", f"service: {unknown('service', body.service, intake.config.services)}")
    with answered():
        opening = await open_for_agent(
            intake.incidents,
            intake.config,
            intake.policies[body.service],
            who,
            body.service,
            body.summary,
            body.severity,
            body.idempotency_key,
        )
    return Opened(
        incident_id=opening.incident_id,
        workflow_id=opening.ingested.workflow_id,
        dedup_key=opening.ingested.dedup_key,
        recorded=opening.ingested.recorded,
        opened=opening.opened,
        message=opening.message,
        decided_at=opening.floor.value if opening.floor else None,
    )


@router.post("/v1/incidents/{ref:path}/ack", response_model=UpdateReply, responses=ACTS)
async def acknowledge(ref: Ref, intake: IntakeDep, who: Caller) -> UpdateReply:
    """Acknowledge: a person's stops escalation; an agent's means "coordination started"."""
    with answered():
        return await facade(intake).acknowledge(ref, who)


@router.post("/v1/incidents/{ref:path}/notes", response_model=UpdateReply, responses=ACTS)
async def note(ref: Ref, body: NoteBody, intake: IntakeDep, who: Caller) -> UpdateReply:
    """A note on the timeline, under the caller's name."""
    with answered():
        return await facade(intake).note(ref, who, body.text)


@router.post("/v1/incidents/{ref:path}/severity", response_model=UpdateReply, responses=ACTS)
async def severity(ref: Ref, body: SeverityBody, intake: IntakeDep, who: Caller) -> UpdateReply:
    """A person sets the severity (confirming or changing it); an agent proposes one."""
    with answered():
        return await facade(intake, body, who).set_severity(ref, who, body.severity, body.reason)


@router.post("/v1/incidents/{ref:path}/page", response_model=ActionReply, responses=ACTS)
async def page(ref: Ref, body: PageBody, intake: IntakeDep, who: Caller) -> UpdateReply:
    """Page someone into the incident now: a person, `user:NAME`, or `schedule:NAME` (whoever is on call)."""
    with answered():
        return await facade(intake).request(ref, who, "page", body.reason, {"target": body.target})


@router.post("/v1/incidents/{ref:path}/escalate", response_model=ActionReply, responses=ACTS)
async def escalate(ref: Ref, intake: IntakeDep, who: Caller, body: EscalateBody | None = None) -> UpdateReply:
    """Page the next escalation level now."""
    with answered():
        return await facade(intake).request(ref, who, "escalate", body.reason if body else "")


@router.post("/v1/incidents/{ref:path}/requests", response_model=ActionReply, responses=ACTS)
async def request_action(ref: Ref, body: RequestBody, intake: IntakeDep, who: Caller) -> UpdateReply:
    """Ask for an action the boundaries decide on: it runs now (`action_id`), waits for a human's approval
    (`approval_id`), or is refused (409, with the rule). The same `request_id` again runs or asks nothing new."""
    with answered():
        return await facade(intake, body, who).request(
            ref, who, body.action, body.rationale, body.params, body.text, body.request_id
        )


@router.post("/v1/incidents/{ref:path}/resolve", response_model=UpdateReply, responses=ACTS)
async def resolve(ref: Ref, intake: IntakeDep, who: Caller, body: ResolveBody | None = None) -> UpdateReply:
    """A person resolves the incident; an agent's resolve becomes a pending approval."""
    body = body or ResolveBody()
    with answered():
        return await facade(intake, body, who).resolve(ref, who, body.summary)


@router.post("/v1/incidents/{ref:path}/approvals/{approval_id}/approve", response_model=UpdateReply, responses=ACTS)
async def approve(
    ref: Ref, approval_id: str, intake: IntakeDep, who: Caller, body: ApproveBody | None = None
) -> UpdateReply:
    """Approve a pending request (a human decision); the action then runs, its result on the timeline."""
    body = body or ApproveBody()
    return await human_decision(
        who, "approve", lambda: facade(intake, body, who).approve(ref, who, approval_id, body.text)
    )


@router.post("/v1/incidents/{ref:path}/approvals/{approval_id}/deny", response_model=UpdateReply, responses=ACTS)
async def deny(ref: Ref, approval_id: str, body: DenyBody, intake: IntakeDep, who: Caller) -> UpdateReply:
    """Deny a pending request, with the reason (a human decision)."""
    return await human_decision(who, "deny", lambda: facade(intake, body, who).deny(ref, who, approval_id, body.reason))


@router.post("/v1/incidents/{ref:path}/approvals/{approval_id}/withdraw", response_model=UpdateReply, responses=ACTS)
async def withdraw(
    ref: Ref, approval_id: str, intake: IntakeDep, who: Caller, body: WithdrawBody | None = None
) -> UpdateReply:
    """Whoever asked for a pending approval takes it back: nobody is asked any more; on the timeline."""
    body = body or WithdrawBody()
    with answered():
        return await facade(intake).withdraw(ref, who, approval_id, body.reason)


@router.post("/v1/incidents/{ref:path}/reload", response_model=UpdateReply, responses=ACTS)
async def reload(ref: Ref, intake: IntakeDep, who: Caller) -> UpdateReply:
    """Apply the gateway's config as it is now (the file, read again) to a running incident (a human decision)."""
    try:
        config = intake.load()
    except ConfigError as e:
        raise ApiError(409, "invalid_config", f"the gateway's config does not load: {e}") from None

    async def go() -> UpdateReply:
        st = await facade(intake).state(ref)
        if st.service not in config.services:
            raise Refused(f"the config has no service {st.service!r} any more")
        return await facade(intake).reload(ref, who, IncidentPolicy.snapshot(config, st.service))

    return await human_decision(who, "reload", go)
