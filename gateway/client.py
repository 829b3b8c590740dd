"""The one façade over Temporal that the CLI, the HTTP intake, chat and the MCP server share.

It finds incidents by the ids people type, sends their requests with the actor attached, and turns Temporal's
errors into three plain ones: NotFound, Refused, Unavailable.
"""

from __future__ import annotations

import asyncio
import copy
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import ValidationError
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowExecution,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from gateway import metrics
from gateway.attesting import Signer
from gateway.ingest import send_alerts
from gateway.temporal import TASK_QUEUE
from incident.approvals import RefusalRow, aggregate_refusals
from incident.attestation import Method
from incident.batch import AlertBatch
from incident.context import Change
from incident.ids import WORKFLOW_ID_PREFIX, normalise_incident_id, workflow_id_for
from incident.models import Actor, Alert, Severity, Status, UpdateReply
from incident.postmortem import draft
from incident.record import AgentView
from incident.shadow import MEMO_KEY as SHADOW_MEMO
from incident.shadow import ShadowRow, aggregate_shadow
from incident.state import IncidentPolicy, IncidentState
from workflows import search_attributes as sa
from workflows.agent import AgentRecord, AgentWorkflow, OpenReply, OpenRequest, agent_workflow_id
from workflows.changelog import ChangeLogWorkflow, changelog_id
from workflows.incident import IncidentWorkflow
from workflows.intake_buffer import BUFFER_ID_PREFIX, IntakeBufferWorkflow
from workflows.messages import (
    ActionRequest,
    ActorRequest,
    DecisionRequest,
    NoteRequest,
    ReloadRequest,
    ResolveRequest,
    RoleRequest,
    SeverityRequest,
    StakeholderUpdateRequest,
    WithdrawRequest,
)

RPC_TIMEOUT = timedelta(seconds=5)
UPDATE_TIMEOUT = timedelta(seconds=30)
_UNAVAILABLE = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED}
IN_FLIGHT = 4
"""Updates one façade sends one incident at a time; Temporal takes 10 in flight per workflow, shared by every
process that sends them (CLI, Slack, MCP servers)."""
BUSY_DEADLINE = 20.0
"""Seconds a request keeps trying while Temporal says the incident has too many requests in flight."""


class NotFound(Exception):
    pass


class Refused(Exception):
    """The incident said no: a boundary (`rule` and `verdict` set) or a request it cannot take (both None)."""

    def __init__(self, message: str, rule: str | None = None, verdict: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.verdict = verdict


class Unavailable(Exception):
    """Temporal cannot be reached: nothing was recorded; the caller should retry."""


class Busy(Refused):
    """Temporal is up, but the incident did not take the request: too many in flight, or no answer in time."""


T = TypeVar("T")


@dataclass(frozen=True)
class IncidentRef:
    workflow_id: str
    run_id: str | None
    incident_id: str | None = None
    open: bool = True


@dataclass(frozen=True)
class Pinned:
    """One incident as a message names it (a Slack button, a form): the workflow it runs in and its incident id.

    The workflow id comes from the alert key and is reused once the incident is resolved, so the incident id
    decides: a request goes to the run that is this incident (a continue-as-new keeps the incident id, so a
    changed run id does not matter), and when the workflow now runs another incident, this one is closed."""

    workflow_id: str
    incident_id: str

    def __str__(self) -> str:
        return self.incident_id


Ref = str | Pinned
"""What people and messages name an incident by: an id they type, or a pinned incident."""


@dataclass(frozen=True)
class IncidentSummary:
    incident_id: str
    status: str
    severity: str
    service: str
    workflow_id: str
    run_id: str
    opened_at: datetime
    closed_at: datetime | None
    lead: str | None = None


@dataclass(frozen=True)
class Ingested:
    dedup_key: str
    workflow_id: str
    recorded: bool
    message: str


async def patiently(call: Callable[[], Awaitable[T]], what: str) -> T:
    """`call`, tried again while Temporal answers RESOURCE_EXHAUSTED (too many updates in flight on one workflow,
    or a rate limit), for up to `BUSY_DEADLINE` seconds; then `Busy`, in words."""
    loop = asyncio.get_running_loop()
    deadline, pause = loop.time() + BUSY_DEADLINE, 0.05
    while True:
        try:
            return await call()
        except RPCError as e:
            if e.status is not RPCStatusCode.RESOURCE_EXHAUSTED:
                raise
            if loop.time() + pause > deadline:
                raise Busy(
                    f"{what} is busy with other requests and did not take this one in {BUSY_DEADLINE:.0f} s; "
                    "nothing was recorded: ask again in a moment"
                ) from None
        await asyncio.sleep(pause)
        pause = min(pause * 2, 1.0)


@contextmanager
def temporal_errors(not_found: str | None = None) -> Iterator[None]:
    """Temporal's errors as ours: NotFound (when `not_found` says what), Unavailable (retry later), else as is."""
    try:
        yield
    except RPCError as e:
        if not_found is not None and e.status is RPCStatusCode.NOT_FOUND:
            raise NotFound(not_found) from None
        if e.status in _UNAVAILABLE:
            raise Unavailable(str(e)) from None
        raise
    except RuntimeError as e:  # a lazy client that cannot connect
        raise Unavailable(str(e)) from None


class Incidents:
    def __init__(self, client: Client, task_queue: str = TASK_QUEUE, signer: Signer | None = None):
        self.client = client
        self.task_queue = task_queue
        self._lanes: defaultdict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(IN_FLIGHT))
        """Per workflow id: at most `IN_FLIGHT` updates from this façade at once; the rest wait their turn."""
        self.signer = signer
        """The gateway's: each request it sends carries its proof of who sent it. Without one (a raw Temporal
        client), an incident refuses every human and agent request as unproven."""
        self.method = Method.TOKEN
        self.totp_step: int | None = None
        self.eager = False
        """A worker runs in this process on `client`: new incidents start eagerly (`gateway.ingest.start_eagerly`)."""
        self._before: Callable[[], Awaitable[None]] | None = None

    def acting(
        self, method: Method, totp_step: int | None = None, before: Callable[[], Awaitable[None]] | None = None
    ) -> Incidents:
        """This façade for requests whose human proved who they are by `method` (a Slack signature, a code).
        `before` runs once, before the first request is sent (a one-time code claimed for every gateway)."""
        other = copy.copy(self)
        other.method, other.totp_step, other._before = method, totp_step, before
        return other

    # ---- intake ----------------------------------------------------------------------------------------------

    async def ingest(self, alert: Alert, policy: IncidentPolicy, scope: str | None = None) -> Ingested:
        """Record one source event durably (see `send_batch`). `scope` overrides where the key is unique."""
        wid = workflow_id_for(scope or alert.dedup_scope, alert.dedup_key)
        recorded = await self.send_batch(wid, [alert], policy)
        message = "Event processed" if recorded else f"no open incident for this dedup_key; {alert.action} ignored"
        return Ingested(alert.dedup_key, wid, recorded, message)

    async def send_batch(self, workflow_id: str, alerts: list[Alert], policy: IncidentPolicy) -> bool:
        """Events for one incident in one signal (see `gateway.ingest.send_alerts`)."""
        with temporal_errors():
            return await send_alerts(self.client, self.task_queue, workflow_id, alerts, policy, eager=self.eager)

    async def buffer_history(self, shard: int) -> int:
        """History bytes of the storm buffer shard's current run (0 if it is not running). Read from the server,
        not the worker: under a storm the worker is the busiest part."""
        handle = self.client.get_workflow_handle(f"{BUFFER_ID_PREFIX}{self.task_queue}-{shard}")
        try:
            with temporal_errors(not_found="no buffer"):
                desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
        except NotFound:
            return 0
        if desc.status is not WorkflowExecutionStatus.RUNNING:
            return 0
        return desc.raw_description.workflow_execution_info.history_size_bytes

    async def buffer_alerts(self, shard: int, batches: list[AlertBatch]) -> None:
        """Park batches for many incidents in one durable signal to a buffer shard (storm path)."""
        with temporal_errors():
            await self.client.start_workflow(
                IntakeBufferWorkflow.run,
                None,
                id=f"{BUFFER_ID_PREFIX}{self.task_queue}-{shard}",
                task_queue=self.task_queue,
                start_signal="take",
                start_signal_args=[batches],
                static_summary="alert storm buffer: forwards alerts to their incidents",
                rpc_timeout=RPC_TIMEOUT,
            )

    async def record_change(self, change: Change) -> None:
        """Add a change to its service's change log (signal-with-start: durable when this returns)."""
        with temporal_errors():
            await self.client.start_workflow(
                ChangeLogWorkflow.run,
                None,
                id=changelog_id(self.task_queue, change.service),
                task_queue=self.task_queue,
                start_signal="record",
                start_signal_args=[change],
                static_summary=f"recent changes to {change.service}",
                rpc_timeout=RPC_TIMEOUT,
            )

    async def changes(self, service: str, since: datetime) -> list[Change]:
        """A service's recorded changes since `since` ([] when none were ever posted)."""
        handle = self.client.get_workflow_handle(changelog_id(self.task_queue, service))
        try:
            with temporal_errors(not_found="no change log"):
                return await handle.query(ChangeLogWorkflow.since, since, rpc_timeout=RPC_TIMEOUT)
        except NotFound:
            return []

    # ---- finding incidents -----------------------------------------------------------------------------------

    async def find(self, ref: Ref) -> IncidentRef:
        """`INC-7K2Q9M` (any case, O for 0 tolerated), a workflow id `incident:...` (its current run), or a
        pinned incident: the workflow's current run if it is that incident, else the incident is closed."""
        if isinstance(ref, Pinned):
            current = await self.find(ref.workflow_id)
            if current.incident_id != ref.incident_id:
                return IncidentRef(workflow_id=ref.workflow_id, run_id=None, incident_id=ref.incident_id, open=False)
            return current
        if ref.startswith(WORKFLOW_ID_PREFIX):
            with temporal_errors(not_found=f"no incident with workflow id {ref}"):
                desc = await self.client.get_workflow_handle(ref).describe(rpc_timeout=RPC_TIMEOUT)
            return IncidentRef(
                workflow_id=ref,
                run_id=desc.run_id,
                incident_id=desc.typed_search_attributes.get(sa.INCIDENT_ID),
                open=desc.status is WorkflowExecutionStatus.RUNNING,
            )
        incident_id = normalise_incident_id(ref)
        if incident_id is None:
            raise NotFound(f"{ref!r} is not an incident id (they look like INC-7K2Q9M)")
        runs = await self._runs(f'IncidentId = "{incident_id}"')
        if not runs:
            raise NotFound(f"no incident {incident_id}")
        workflow_ids = {r.id for r in runs}
        if len(workflow_ids) > 1:
            raise NotFound(
                f"{incident_id} names {len(workflow_ids)} incidents; use a workflow id: "
                + ", ".join(sorted(workflow_ids))
            )
        running = [r for r in runs if r.status is WorkflowExecutionStatus.RUNNING]
        best = running[0] if running else max(runs, key=lambda r: r.close_time or r.start_time)
        is_open = best.status is WorkflowExecutionStatus.RUNNING
        return IncidentRef(workflow_id=best.id, run_id=best.run_id, incident_id=incident_id, open=is_open)

    async def in_channel(self, channel_id: str) -> IncidentRef:
        """The open incident whose Slack channel is `channel_id` (its `IncidentChannel`): what `/baton note` in an
        incident's channel means, on any gateway replica. NotFound when no open incident, or several (a static
        channel a service's incidents share), post there."""
        if not channel_id or not channel_id.isalnum():
            raise NotFound("this is not an incident's channel")
        query = f'IncidentChannel = "{channel_id}" AND ExecutionStatus = "Running" AND IncidentId IS NOT NULL'
        runs = await self._runs(query, limit=20)
        found = {r.id: r for r in runs}
        if not found:
            raise NotFound("no open incident posts in this channel")
        if len(found) > 1:
            ids = sorted(str(r.typed_search_attributes.get(sa.INCIDENT_ID)) for r in found.values())
            raise NotFound(f"{len(found)} open incidents post in this channel ({', '.join(ids)}): name one")
        run = next(iter(found.values()))
        iid = run.typed_search_attributes.get(sa.INCIDENT_ID)
        return IncidentRef(workflow_id=run.id, run_id=run.run_id, incident_id=iid, open=True)

    async def _runs(self, query: str, limit: int = 1000) -> list[WorkflowExecution]:
        async def listed() -> list[WorkflowExecution]:
            return [wf async for wf in self.client.list_workflows(query, limit=limit, rpc_timeout=RPC_TIMEOUT)]

        with temporal_errors():
            return await patiently(listed, "Temporal's list of incidents")

    async def severity_floor(self, service: str, besides: str) -> Severity | None:
        """The most severe open incident of `service` other than the workflow `besides`: what an incident an agent
        opens is decided at, at least, until a human confirms its severity. None when there is none."""
        query = (
            f'IncidentService = "{_quote(service)}" AND ExecutionStatus = "Running" AND IncidentId IS NOT NULL '
            f'AND TaskQueue = "{_quote(self.task_queue)}"'
        )
        found = [
            Severity(sev)
            for wf in await self._runs(query, limit=200)
            if wf.id != besides and (sev := wf.typed_search_attributes.get(sa.INCIDENT_SEVERITY)) in list(Severity)
        ]
        return min(found, key=lambda s: list(Severity).index(s)) if found else None

    async def count_opening(self, agent: str, req: OpenRequest) -> OpenReply:
        """Ask the agent's own workflow (started on first use) whether it may open one more incident now, and
        count it; or record a refusal (`req.refused_by`). Durable: a restarted gateway or worker counts on."""
        wid = agent_workflow_id(self.task_queue, agent)
        start = WithStartWorkflowOperation(
            AgentWorkflow.run,
            AgentRecord(agent=agent),
            id=wid,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            task_queue=self.task_queue,
            static_summary=f"what agent:{agent} does across incidents",
        )

        async def ask() -> OpenReply:
            return await self.client.execute_update_with_start_workflow(
                AgentWorkflow.open, req, start_workflow_operation=start, rpc_timeout=UPDATE_TIMEOUT
            )

        with temporal_errors():
            reply = await patiently(ask, f"agent:{agent}'s record")
        if not reply.ok:
            metrics.refused(reply.verdict)
        return reply

    async def agent_record(self, agent: str) -> AgentView:
        """The agent's record from its own workflow (empty when it has none yet)."""
        handle = self.client.get_workflow_handle(agent_workflow_id(self.task_queue, agent))
        try:
            with temporal_errors(not_found=agent):
                rec = await handle.query(AgentWorkflow.state, rpc_timeout=RPC_TIMEOUT)
        except NotFound:
            return AgentView(agent=agent)
        return AgentView(agent=agent, stats=rec.stats, runs=rec.runs)

    async def search(
        self,
        status: Status | None = None,
        severity: Severity | None = None,
        service: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
        lead: str | None = None,
    ) -> list[IncidentSummary]:
        """Incidents newest first. A run that continued-as-new is the same incident and is not listed twice."""
        clauses = ["IncidentId IS NOT NULL", '(ExecutionStatus != "ContinuedAsNew" OR IncidentStatus = "resolved")']
        if status:
            clauses.append(f'IncidentStatus = "{status.value}"')
        if severity:
            clauses.append(f'IncidentSeverity = "{severity.value}"')
        if service:
            clauses.append(f'IncidentService = "{_quote(service)}"')
        if since:
            clauses.append(f'StartTime >= "{since.isoformat()}"')
        if lead:
            clauses.append(f'IncidentLead = "{_quote(lead)}"')
        seen: dict[str, IncidentSummary] = {}
        for wf in await self._runs(" AND ".join(clauses), limit=limit * 2):
            attrs = wf.typed_search_attributes
            iid = attrs.get(sa.INCIDENT_ID)
            if not iid or iid in seen:
                continue
            seen[iid] = IncidentSummary(
                incident_id=iid,
                status=attrs.get(sa.INCIDENT_STATUS) or "",
                severity=attrs.get(sa.INCIDENT_SEVERITY) or "",
                service=attrs.get(sa.INCIDENT_SERVICE) or "",
                workflow_id=wf.id,
                run_id=wf.run_id,
                opened_at=wf.start_time,
                closed_at=wf.close_time,
                lead=attrs.get(sa.INCIDENT_LEAD),
            )
        return sorted(seen.values(), key=lambda s: s.opened_at, reverse=True)[:limit]

    async def refusals(self, since: datetime) -> list[RefusalRow]:
        """Refused and undefined requests across incidents opened since `since`, most frequent first. Read from
        each incident's memo, so closed incidents count without a worker replaying them."""
        best: dict[str, tuple[int, dict[str, Any]]] = {}
        query = f'BoundaryRefusals > 0 AND StartTime >= "{since.isoformat()}"'
        for wf in await self._runs(query, limit=5000):
            iid = wf.typed_search_attributes.get(sa.INCIDENT_ID) or wf.id
            total = wf.typed_search_attributes.get(sa.BOUNDARY_REFUSALS) or 0
            if total > best.get(iid, (-1, {}))[0]:  # runs of one incident carry the counts forward: take the last
                best[iid] = (total, dict(await wf.memo()))
        return aggregate_refusals({iid: memo for iid, (_, memo) in best.items()})

    async def shadow(self, since: datetime) -> list[ShadowRow]:
        """Where the shadow policy decided otherwise, across incidents opened since `since`, most frequent first.
        Read from each incident's memo (its last run that counted any)."""
        best: dict[str, tuple[int, dict[str, Any]]] = {}
        query = f'IncidentId IS NOT NULL AND StartTime >= "{since.isoformat()}"'
        for wf in await self._runs(query, limit=5000):
            memo = dict(await wf.memo())
            total = int((memo.get(SHADOW_MEMO) or {}).get("total", 0))
            iid = wf.typed_search_attributes.get(sa.INCIDENT_ID) or wf.id
            if total and total > best.get(iid, (-1, {}))[0]:
                best[iid] = (total, memo)
        return aggregate_shadow({iid: memo for iid, (_, memo) in best.items()})

    # ---- reading and acting ----------------------------------------------------------------------------------

    def _handle(self, ref: IncidentRef) -> WorkflowHandle[IncidentWorkflow, object]:
        return self.client.get_workflow_handle_for(IncidentWorkflow.run, ref.workflow_id, run_id=ref.run_id)

    async def state(self, ref: Ref | IncidentRef) -> IncidentState:
        found = ref if isinstance(ref, IncidentRef) else await self.find(ref)
        with temporal_errors(not_found=f"no incident {found.incident_id or found.workflow_id}"):
            return await self._handle(found).query(IncidentWorkflow.state, rpc_timeout=RPC_TIMEOUT)

    async def policy(self, ref: Ref | IncidentRef) -> IncidentPolicy:
        """The boundaries and escalation this incident runs by (its snapshot, or what a human reloaded)."""
        found = ref if isinstance(ref, IncidentRef) else await self.find(ref)
        with temporal_errors(not_found=f"no incident {found.incident_id or found.workflow_id}"):
            return await self._handle(found).query(IncidentWorkflow.policy, rpc_timeout=RPC_TIMEOUT)

    async def postmortem(self, ref: str) -> str:
        """A markdown postmortem draft from the incident's record: facts and questions, no conclusions."""
        found = await self.find(ref)
        return draft(await self.state(found), (await self.policy(found)).service)

    async def acknowledge(self, ref: Ref, actor: Actor) -> UpdateReply:
        return await self._act(ref, IncidentWorkflow.acknowledge, ActorRequest(actor=actor))

    async def resolve(self, ref: Ref, actor: Actor, summary: str = "") -> UpdateReply:
        return await self._act(ref, IncidentWorkflow.resolve, ResolveRequest(actor=actor, summary=summary))

    async def set_severity(self, ref: Ref, actor: Actor, severity: Severity, reason: str = "") -> UpdateReply:
        return await self._act(
            ref, IncidentWorkflow.severity, SeverityRequest(actor=actor, severity=severity, reason=reason)
        )

    async def note(self, ref: Ref, actor: Actor, text: str) -> UpdateReply:
        return await self._act(ref, IncidentWorkflow.note, NoteRequest(actor=actor, text=text))

    async def set_role(
        self, ref: Ref, actor: Actor, role: str, person: str | None = None, propose: bool = False, reason: str = ""
    ) -> UpdateReply:
        """Take `role` (no `person`), hand it to `person`, or (an agent) propose `person` for it."""
        req = RoleRequest(actor=actor, role=role, person=person, propose=propose, reason=reason)
        return await self._act(ref, IncidentWorkflow.role, req)

    async def stakeholder_update(
        self, ref: Ref, actor: Actor, text: str | None = None, audience: str = "internal", propose: bool = False
    ) -> UpdateReply:
        """Send the update that is due (its draft, or `text`) to `audience`, or (an agent) propose its wording."""
        req = StakeholderUpdateRequest.model_validate(
            {"actor": actor, "text": text, "audience": audience, "propose": propose}
        )
        return await self._act(ref, IncidentWorkflow.stakeholder_update, req)

    async def request(
        self,
        ref: Ref,
        actor: Actor,
        action: str,
        rationale: str = "",
        params: dict[str, str] | None = None,
        text: str | None = None,
        request_id: str | None = None,
    ) -> UpdateReply:
        """Ask for an action the boundaries decide on. `result.approval_id` is set when it waits for a human; an
        accepted action's id is in `result.action_id`, and asking again with the same `request_id` runs nothing."""
        try:
            req = ActionRequest(
                actor=actor, action=action, rationale=rationale, params=params or {}, text=text, request_id=request_id
            )
        except ValidationError as e:  # too long, too many parameters, a malformed id: say which
            first = e.errors()[0]
            raise Refused(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None
        return await self._act(ref, IncidentWorkflow.request, req)

    async def approve(self, ref: Ref, actor: Actor, approval_id: str, text: str | None = None) -> UpdateReply:
        req = DecisionRequest(actor=actor, approval_id=approval_id, approve=True, text=text)
        return await self._act(ref, IncidentWorkflow.decide, req)

    async def deny(self, ref: Ref, actor: Actor, approval_id: str, reason: str) -> UpdateReply:
        req = DecisionRequest(actor=actor, approval_id=approval_id, approve=False, reason=reason)
        return await self._act(ref, IncidentWorkflow.decide, req)

    async def withdraw(self, ref: Ref, actor: Actor, approval_id: str, reason: str = "") -> UpdateReply:
        """Whoever asked for a pending approval takes it back."""
        req = WithdrawRequest(actor=actor, approval_id=approval_id, reason=reason)
        return await self._act(ref, IncidentWorkflow.withdraw, req)

    async def reload(self, ref: Ref, actor: Actor, policy: IncidentPolicy) -> UpdateReply:
        """Apply a new policy snapshot to a running incident (a human's decision, recorded on its timeline)."""
        return await self._act(ref, IncidentWorkflow.reload, ReloadRequest(actor=actor, policy=policy))

    async def _act(
        self, ref: Ref, update: UpdateMethodMultiParam[[IncidentWorkflow, Any], UpdateReply], request: ActorRequest
    ) -> UpdateReply:
        """Send an update to the incident's current run, by its run id: a run that ended meanwhile (continued as
        new, or resolved and followed by the next incident on the key) is found again once, and a pinned
        incident is checked again then."""
        if self._before is not None:
            before, self._before = self._before, None
            await before()
        for attempt in range(2):
            found = await self.find(ref)
            if not found.open:
                raise Refused(f"{found.incident_id or ref} is already resolved")
            sent = request
            if self.signer is not None:  # the proof binds this run: made again when the run is found again
                name = getattr(update, "__name__", "")
                sent = self.signer.attach(
                    request, name, found.workflow_id, found.run_id or "", self.method, self.totp_step
                )
            handle, lane = self._handle(found), self._lanes[found.workflow_id]

            async def send(
                handle: WorkflowHandle[IncidentWorkflow, object] = handle,
                lane: asyncio.Semaphore = lane,
                sent: ActorRequest = sent,
            ) -> UpdateReply:
                async with lane:
                    return await handle.execute_update(update, sent, rpc_timeout=UPDATE_TIMEOUT)

            try:
                with temporal_errors(not_found=f"{ref} is closed"):
                    result = await patiently(send, found.incident_id or str(ref))
            except WorkflowUpdateRPCTimeoutOrCancelledError:
                raise Busy(
                    f"{found.incident_id or ref} did not answer within {UPDATE_TIMEOUT.seconds} s; it may still take "
                    "the request: look at the incident before asking again"
                ) from None
            except WorkflowUpdateFailedError as e:
                cause = e.cause
                metrics.refused(None)
                raise Refused(getattr(cause, "message", None) or str(cause or e)) from None
            except NotFound:
                if attempt == 0:
                    continue  # it continued-as-new between finding and asking: find it again
                raise
            if not result.ok:
                metrics.refused(result.verdict)
                raise Refused(result.message, result.rule, result.verdict)
            return result
        raise NotFound(ref)


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
