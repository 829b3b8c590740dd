"""The requests an incident's history records, each with the decision it got, read from the history's events.

Nothing here asks a worker or reads a log: the started event carries the policy snapshot (and, after a continue-as-
new, the state), an accepted update carries the request (who, what), its completion carries the reply (the verdict
and rule, where the boundaries refused or asked for approval; `ok` where they let it go ahead; the severity they
decided it at), and, for replies from before they named it, the upserted `IncidentSeverity` says the severity in
force when it was decided (an upsert follows the update's workflow task, so two requests in one task around a
severity change may be read at the older one). A successful `reload` puts a new policy in force
from there on. `baton boundaries what-if` decides these requests again under a new policy; `baton audit` checks each
against the policy it was decided under.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from temporalio.api.common.v1 import Payloads
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter

from incident.models import Actor, Severity
from incident.policy import Boundaries
from incident.state import IncidentInput, IncidentPolicy
from workflows import search_attributes as sa

DECIDED = {
    "request": None,
    "acknowledge": "acknowledge",
    "resolve": "resolve",
    "note": "note",
    "severity": "triage_severity",
}
"""The updates whose request the boundaries decide, and the action each is decided as (`request` names its own;
`severity` is decided only for an agent, as `triage_severity`)."""
BOUNDARY_VERDICTS = ("auto", "approval", "never", "undefined")
NOT_DECIDED = "impersonation"
"""A verdict given before the boundaries were asked: the actor was not proven."""
REFUSED = "refused"
"""A refusal recorded before replies named their verdict: the boundaries did not let it go ahead alone."""
_FLOOR = re.compile(r"decided at (SEV[0-4])")


@dataclass(frozen=True)
class Asked:
    """One request an incident recorded and the decision it got."""

    workflow_id: str
    run_id: str
    incident_id: str
    event_id: int
    update: str
    actor: str
    action: str
    severity: Severity
    verdict: str
    """auto, approval, never, undefined; or a check after the boundaries (params, budget, step-up, …), or
    impersonation (decided before them)."""
    rule: str | None
    policy: int
    """Which of the history's policies it was decided under (an index into `Recorded.policies`)."""

    @property
    def actor_kind(self) -> str:
        return Actor.parse(self.actor).kind.value


@dataclass
class Recorded:
    workflow_id: str
    run_id: str
    incident_id: str
    policies: list[IncidentPolicy]
    """The snapshot the run started with, then each policy a human reloaded."""
    asked: list[Asked]

    def boundaries(self, a: Asked) -> Boundaries:
        return self.policies[a.policy].boundaries


def _decode(payloads: Payloads) -> list[Any]:
    return pydantic_data_converter.payload_converter.from_payloads(list(payloads.payloads))


def _keyword(fields: Any, name: str) -> str | None:
    payload = fields.get(name)
    if payload is None:
        return None
    value = pydantic_data_converter.payload_converter.from_payloads([payload])[0]
    return value[0] if isinstance(value, list) and value else value if isinstance(value, str) else None


AGENT_LEVELS = "agent_levels"
"""The activity an incident with autonomy ladders reads its agents' earned levels by, as it opens."""


def recorded(history: WorkflowHistory) -> Recorded:
    """Every decided request in one run's history, in the order they were accepted. Raises ValueError when the
    history is not an incident's."""
    events = list(history.events)
    if not events or not events[0].HasField("workflow_execution_started_event_attributes"):
        raise ValueError(f"{history.workflow_id}: the history does not begin with the workflow's start")
    started = events[0].workflow_execution_started_event_attributes
    try:
        inp = IncidentInput.model_validate(_decode(started.input)[0])
    except (ValueError, IndexError) as e:
        raise ValueError(f"{history.workflow_id}: not an incident's history ({str(e).splitlines()[0]})") from None
    fields = started.search_attributes.indexed_fields
    incident_id = _keyword(fields, sa.INCIDENT_ID.name) or (inp.state.incident_id if inp.state else inp.incident_id)
    severity = _keyword(fields, sa.INCIDENT_SEVERITY.name) or (inp.state.severity.value if inp.state else "SEV2")
    out = Recorded(history.workflow_id, history.run_id, incident_id, [inp.policy], [])
    pending: dict[str, tuple[int, str, dict[str, Any], str]] = {}
    levels: dict[int, list[str]] = {}
    """Scheduled `agent_levels` activities (event id -> the agents asked about): their answer fixes earned autonomy."""
    for ev in events:
        if ev.HasField("activity_task_scheduled_event_attributes"):
            scheduled = ev.activity_task_scheduled_event_attributes
            if scheduled.activity_type.name == AGENT_LEVELS:
                asked = (_decode(scheduled.input) or [{}])[0]
                levels[ev.event_id] = list(asked.get("agents", [])) if isinstance(asked, dict) else []
        elif ev.HasField("activity_task_completed_event_attributes"):
            completed = ev.activity_task_completed_event_attributes
            if (agents := levels.pop(completed.scheduled_event_id, None)) is not None:
                answer = TypeAdapter(dict[str, dict[Severity, str]]).validate_python(_decode(completed.result)[0])
                out.policies.append(out.policies[-1].with_levels(agents, answer))
        elif ev.HasField("upsert_workflow_search_attributes_event_attributes"):
            upserted = ev.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
            severity = _keyword(upserted, sa.INCIDENT_SEVERITY.name) or severity
        elif ev.HasField("workflow_execution_update_accepted_event_attributes"):
            req = ev.workflow_execution_update_accepted_event_attributes.accepted_request
            args = _decode(req.input.args)
            if req.input.name in (*DECIDED, "reload") and args and isinstance(args[0], dict):
                pending[req.meta.update_id] = (ev.event_id, req.input.name, args[0], severity)
        elif ev.HasField("workflow_execution_update_completed_event_attributes"):
            done = ev.workflow_execution_update_completed_event_attributes
            found = pending.pop(done.meta.update_id, None)
            if found is None or not done.outcome.HasField("success"):
                continue  # not a decided request, or its handler failed: nothing was decided
            reply = (_decode(done.outcome.success) or [None])[0]
            if isinstance(reply, dict):
                _add(out, found, reply)
    return out


def _add(out: Recorded, found: tuple[int, str, dict[str, Any], str], reply: dict[str, Any]) -> None:
    event_id, update, req, severity = found
    actor = Actor.model_validate(req["actor"])
    if update == "reload":
        if reply.get("ok") and isinstance(req.get("policy"), dict):
            out.policies.append(IncidentPolicy.model_validate(req["policy"]))
        return
    if update == "severity" and actor.kind.value == "human":
        return  # a human sets the severity: the boundaries are not asked (step-up is)
    action = DECIDED[update] or str(req.get("action", ""))
    verdict = reply.get("verdict")
    if verdict is None:
        if not reply.get("ok") and str(reply.get("message", "")).endswith("is already resolved"):
            return  # resolved before it was decided
        # refused by a rule before replies named their verdict; else let go ahead (an action that then failed
        # says ok=False, and was still allowed)
        verdict = REFUSED if not reply.get("ok") and reply.get("rule") else "auto"
    rule = reply.get("rule")
    if reply.get("severity") in list(Severity):
        at = Severity(reply["severity"])  # the reply says the severity it was decided at
    else:  # a reply from before it did: the severity in force, unless an agent was held to a stricter one
        at = Severity(severity)
        if isinstance(rule, str) and (floor := _FLOOR.search(rule)):
            at = Severity(floor.group(1))
    out.asked.append(
        Asked(
            workflow_id=out.workflow_id,
            run_id=out.run_id,
            incident_id=out.incident_id,
            event_id=event_id,
            update=update,
            actor=str(actor),
            action=action,
            severity=at,
            verdict=str(verdict),
            rule=rule if isinstance(rule, str) else None,
            policy=len(out.policies) - 1,
        )
    )
