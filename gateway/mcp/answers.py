"""The tools' answers: compact JSON an agent reads, and the façade's errors as tool errors it can act on."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from mcp.server.mcpserver.exceptions import ToolError

from gateway.client import Busy, IncidentSummary, NotFound, Refused, Unavailable
from gateway.mcp.catalog import UNTRUSTED
from gateway.oncall import OnCallView
from gateway.remote import GatewayUnreachable
from incident import display
from incident.actions import PARAMS_VERDICT
from incident.approvals import Approval
from incident.budget import BUDGET_VERDICT
from incident.context import Change
from incident.durations import format_duration
from incident.models import UpdateReply
from incident.policy import Verdict
from incident.state import IncidentPolicy, IncidentState


def compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str)


def untrusted(text: str | None) -> dict[str, str] | None:
    """Text baton did not write, marked so an agent reads it as data. Characters nobody sees (tags, zero-width,
    bidi overrides: a way to hide instructions in an alert title) and controls are shown as escapes."""
    return None if text is None else {UNTRUSTED: display.visible(text)}


def _t(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if when else None


def approval_json(a: Approval) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": a.id,
        "action": a.action,
        "status": a.status.value,
        "requested_by": a.requested_by,
        "approvers": a.approvers,
        "deadline": _t(a.deadline),
    }
    if a.params:
        out["params"] = {k: untrusted(v) for k, v in a.params.items()}
    if a.rationale:
        out["rationale"] = untrusted(a.rationale)
    if a.text:
        out["text"] = untrusted(a.text)
    if a.decided_by:
        out["decided_by"] = a.decided_by
    if a.reason:
        out["reason"] = untrusted(a.reason)
    if a.run is not None:
        out["run"] = {"ok": a.run.ok, "detail": untrusted(a.run.detail)}
    return out


def incident_json(st: IncidentState, timeline: int) -> dict[str, Any]:
    cur = st.escalation
    return {
        "incident_id": st.incident_id,
        "title": untrusted(st.title),
        "service": st.service,
        "status": st.status.value,
        "severity": st.severity_label,
        "severity_confirmed_by": st.severity_confirmed_by,
        "opened_at": _t(st.opened_at),
        "acknowledged_by": st.acknowledged_by,
        "lead": st.lead,
        "roles": dict(st.roles),
        "commanders_paged": st.commanders_paged,
        "resolved_by": st.resolved_by,
        "resolution": untrusted(st.resolution),
        "alerts": st.alert_count,
        "firing": st.firing,
        "paged": st.paged,
        "escalation": {
            "active": cur.active,
            "levels_paged": st.top_level,
            "next_at": _t(cur.next_at) if cur.active else None,
            "exhausted": cur.exhausted,
        },
        "pending_approvals": [approval_json(a) for a in st.pending_approvals],
        "decided_approvals": [approval_json(a) for a in st.approvals if not a.pending],
        "suspects": [untrusted(s.text) for s in st.context.suspects] if st.context else None,
        "channel": channel_json(st),
        "refused_requests": st.refused_total,
        "stakeholder_update": update_json(st),
        "timeline": [
            {"at": _t(e.at), "actor": e.actor, "kind": e.kind, "text": untrusted(e.text)}
            for e in (st.timeline[-timeline:] if timeline else [])
        ],
        "timeline_total": len(st.timeline),
    }


def channel_json(st: IncidentState) -> dict[str, Any] | None:
    """The incident's Slack channel: its name and id once it has one, or why it has none (None: no channel work).
    A name is only lowercase letters, digits, `-` and `_`, so it carries no markup."""
    ch = st.channel
    if ch is None:
        return None
    if ch.channel_id is None:
        return {"name": None, "id": None, "problem": ch.off}
    return {
        "name": f"#{ch.name}" if ch.name and ch.name != ch.channel_id else None,
        "id": ch.channel_id,
        "created": ch.created,
        "invited": ch.invited,
        "archive_at": _t(ch.archive_at),
    }


def update_json(st: IncidentState) -> dict[str, Any] | None:
    """The next stakeholder update: when it is (or was) due, whether it waits to be sent, its draft, who is asked."""
    upd = st.updates
    if upd is None:
        return None
    return {
        "number": upd.number,
        "due_at": _t(upd.due_at),
        "due": upd.pending,
        "draft": untrusted(upd.draft),
        "draft_by": upd.draft_by,
        "asked": [t.removeprefix("user:") for t in upd.asked],
        "sent": upd.sent,
        "last_sent_at": _t(upd.last_sent_at),
    }


class Declined(Exception):
    """A clean "no" (a refusal, a request the incident cannot take, a busy incident): the tool's answer, not an
    error; `answer` is the JSON it answers with."""

    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(answer.get("message", ""))
        self.answer = answer


def refusal_json(e: Refused, action: str) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": False, "refused": not isinstance(e, Busy), "message": refusal_text(e, action)}
    if e.rule:
        out["rule"] = e.rule
    if e.verdict:
        out["verdict"] = e.verdict
    return out


def refusal_text(e: Refused, action: str) -> str:
    """A refusal the agent can act on: which rule refused it, and what to do instead. The action's name as asked
    for is shown with hidden characters as escapes."""
    action = display.one_line(action)
    if isinstance(e, Busy):
        return str(e)
    if e.verdict == BUDGET_VERDICT:
        return f"refused by {e.rule} (verdict: budget). {e}. Instead: wait, or ask a human responder."
    if e.rule is None and e.verdict is None:
        return f"refused: {e}"
    if e.verdict == Verdict.UNDEFINED:
        return (
            f"refused: {action} is undefined ({e.rule}). The policy does not name this action; ask a human "
            "(a team names it under boundaries.custom_actions and gives it a rule under boundaries.agent)."
        )
    if e.verdict == PARAMS_VERDICT:
        return f"{e} (get_boundaries with the incident id lists the params each action takes)."
    if e.verdict == Verdict.APPROVAL:
        instead = "use propose_resolution" if action == "resolve" else "use request_action to ask a human for approval"
    else:
        instead = f"this agent may not do `{action}` here; ask a human responder (get_boundaries lists what you may do)"
    return f"refused by {e.rule} (verdict: {e.verdict}). Instead: {instead}."


@contextmanager
def facade_errors(action: str) -> Iterator[None]:
    """The façade's errors as answers an agent reads: a refusal is the tool's answer (`Declined`); an incident
    that does not exist, or Temporal out of reach, is a tool error in plain words."""
    try:
        yield
    except Refused as e:
        raise Declined(refusal_json(e, action)) from None
    except NotFound as e:
        raise ToolError(str(e)) from None
    except GatewayUnreachable as e:
        raise ToolError(f"{e}; retry in a moment (nothing was recorded)") from None
    except Unavailable:
        raise ToolError("Temporal unavailable, retry in a moment (nothing was recorded)") from None


def incident_rows(rows: Sequence[IncidentSummary]) -> dict[str, Any]:
    return {
        "incidents": [
            {
                "id": r.incident_id,
                "status": r.status,
                "severity": r.severity,
                "service": r.service,
                "opened_at": _t(r.opened_at),
                "closed_at": _t(r.closed_at),
                "lead": r.lead,
            }
            for r in rows
        ]
    }


def context_json(st: IncidentState, policy: IncidentPolicy, later: Sequence[Change]) -> dict[str, Any]:
    """What was gathered with the first page, and the changes recorded since the incident opened."""
    ctx = st.context
    out: dict[str, Any] = {
        "incident_id": st.incident_id,
        "service": st.service,
        "runbook": policy.service.runbook,
        "window": format_duration(policy.context.window),
        "gathered": ctx is not None,
    }
    if ctx is None:
        out["note"] = "context is gathered with the first page; it is not there yet"
    else:
        out["suspects"] = [
            {
                "text": untrusted(s.text),
                "version": untrusted(s.change.version),
                "author": untrusted(s.change.author),
                "kind": untrusted(s.change.kind),
                "at": _t(s.change.at),
                "link": untrusted(s.change.link),
                "description": untrusted(s.change.description),
            }
            for s in ctx.suspects
        ]
        out["metrics"] = [m.model_dump(mode="json", exclude_none=True) for m in ctx.metrics]
        logs = ctx.logs.model_dump(mode="json", exclude_none=True) if ctx.logs else None
        if logs is not None:
            logs["top"] = [{**line, "text": untrusted(line["text"])} for line in logs.get("top", [])]
        out["logs"] = logs
        out["links"] = [{"href": untrusted(lk.href), "text": untrusted(lk.text)} for lk in ctx.links]
        out["missing"] = [untrusted(m) for m in ctx.missing]
    out["changes_since_opened"] = [
        {
            "version": untrusted(c.version),
            "author": untrusted(c.author),
            "kind": untrusted(c.kind),
            "at": _t(c.at),
            "description": untrusted(c.description),
        }
        for c in later
    ]
    return out


def schedules_json(found: Sequence[OnCallView]) -> list[dict[str, Any]]:
    return [
        {
            "schedule": v.schedule,
            "timezone": v.timezone,
            "at": v.at.isoformat(timespec="minutes"),
            "on_call": v.on_call,
            "next": [{"start": h.start.isoformat(timespec="minutes"), "person": h.person} for h in v.next],
        }
        for v in found
    ]


def result_json(result: UpdateReply) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": result.ok, "message": result.message, "status": result.status.value}
    for key in ("verdict", "rule", "approval_id", "action_id"):
        if getattr(result, key, None):
            out[key] = getattr(result, key)
    return out
