"""An adversarial agent over MCP, stdio and HTTP, with `baton mcp` run as a user runs it: look-alike names for the
judgment calls, smuggled actors and proofs, severity games, tools that do not exist, oversized inputs, odd pages,
and (per transport) wrong and foreign tokens and Host/Origin tricks. Each attempt is judged by what it did to the
incident's real state (queried through the harness before and after it), never by the tool's reply: none may
succeed, and every refusal that reached an incident must be on its timeline and in its count."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from incident.ids import workflow_id_for
from incident.models import Actor, Alert, Severity
from incident.state import IncidentPolicy, IncidentState
from incident.timeline import Kind
from tests.gateway.test_mcp import (
    AGENTS,
    ALICE,
    ROOT,
    TRIAGE_TOKEN,
    WITH_ACTIONS,
    Stack,
    _listening,
    gateway_and_worker,
    stdio_session,
)
from tests.helpers.http import Sink, free_port
from tests.helpers.wait import until
from workflows import search_attributes as sa
from workflows.agent import agent_workflow_id

pytestmark = pytest.mark.integration

OTHER_TOKEN = "other-agent-token-9876543210"
ADVERSARY_AGENTS = (
    AGENTS.replace("description: first-minute triage}", "budget: {requests: 200, pages: 50, notes: 200}}")
    + f"  other: {{token: {OTHER_TOKEN}}}\n"
)
"""triage, with a budget wide enough that every attempt meets the check it is aimed at (not the budget), and a
second agent whose token triage must not be able to use."""
PROTOCOL = "2025-11-25"
"""What a raw client speaks: the plain request shape, without the newer versions' `_meta` envelope."""
TRIAGE = Actor.agent("triage")
ME = str(TRIAGE)


class Expect(StrEnum):
    REFUSED = "refused, on the timeline and counted"
    HELD = "held: a pending approval asked by the agent"
    RECORDED = "recorded, changing nothing else"
    ERROR = "a tool error in plain words, nothing changed"
    SERVER_NO = "answered no by the server, nothing changed"
    REJECTED = "turned down for its input before any decision, nothing changed"
    OPENED_AT_FLOOR = "opened, decided at the floor"
    HTTP_REFUSED = "HTTP 4xx before any tool ran, nothing changed"
    NOT_STARTED = "the server refuses to start"


@dataclass
class Attempt:
    transport: str
    category: str
    what: str
    expect: Expect
    incident: str | None = None
    counts_as: tuple[str, str] | None = None
    """For a refusal: the (action, verdict) the incident counts it under."""
    reply: str = ""
    outcome: str = ""
    problems: list[str] = field(default_factory=list)

    def row(self) -> str:
        mark = "FAIL" if self.problems else "ok"
        said = self.reply.replace("\n", " ")[:90]
        text = f"{mark:4} {self.transport:5} {self.category:18} {self.what[:60]!a:62} -> {self.outcome}"
        return text + (f"\n       problems: {'; '.join(self.problems)}\n       reply: {said}" if self.problems else "")


SENSITIVE = {
    Kind.RESOLVED,
    Kind.SEVERITY,
    Kind.ACKNOWLEDGED,
    Kind.APPROVAL_APPROVED,
    Kind.APPROVAL_DENIED,
    Kind.ACTION_ACCEPTED,
    Kind.ACTION_RAN,
    Kind.ACTION_FAILED,
    Kind.PAGE_REQUESTED,
    Kind.ESCALATE,
    Kind.NOTE,
    Kind.POLICY_RELOADED,
}
"""Entries that would mean an attempt changed something, whoever they are recorded under."""
REFUSAL_KINDS = {Kind.REFUSED, Kind.UNDEFINED, Kind.IMPERSONATION}


@dataclass
class Delta:
    """What one attempt did to an incident, from its state before and after."""

    mine: list[str]
    sensitive: list[str]
    new_approvals: list[tuple[str, str, str, str]]
    changed_approvals: list[str]
    new_actions: list[str]
    refused: int
    counted: Counter[tuple[str, str]]
    severity: tuple[str, str | None]
    status: str
    resolved_by: str | None
    paged: list[str]
    agent_paged: list[str]

    @classmethod
    def between(cls, before: IncidentState, after: IncidentState) -> Delta:
        new = after.timeline[len(before.timeline) :]
        was = {a.id: a.status for a in before.approvals}
        counts = Counter({(r.action, r.verdict): r.count for r in after.refusals})
        counts.subtract({(r.action, r.verdict): r.count for r in before.refusals})
        return cls(
            mine=[e.kind for e in new if e.actor.startswith("agent:")],
            sensitive=[f"{e.actor} {e.kind}" for e in new if e.kind in SENSITIVE],
            new_approvals=[
                (a.id, a.action, a.status.value, a.requested_by) for a in after.approvals if a.id not in was
            ],
            changed_approvals=[
                f"{a.id} {a.status.value}" for a in after.approvals if a.id in was and was[a.id] != a.status
            ],
            new_actions=[a.id for a in after.actions[len(before.actions) :]],
            refused=after.refused_total - before.refused_total,
            counted=+counts,
            severity=(after.severity_label, after.severity_confirmed_by),
            status=after.status.value,
            resolved_by=after.resolved_by,
            paged=sorted(set(after.paged) - set(before.paged)),
            agent_paged=sorted(set(after.agent_paged) - set(before.agent_paged)),
        )

    def harm(self, before: IncidentState) -> list[str]:
        """What no attempt may do, whatever it is."""
        out = []
        if self.sensitive:
            out.append(f"recorded {self.sensitive}")
        if self.changed_approvals:
            out.append(f"decided {self.changed_approvals}")
        if self.new_actions:
            out.append(f"ran {self.new_actions}")
        if self.severity != (before.severity_label, before.severity_confirmed_by):
            out.append(f"severity {before.severity_label} -> {self.severity}")
        if self.status != before.status.value or self.resolved_by:
            out.append(f"status {self.status} resolved_by {self.resolved_by}")
        if self.paged or self.agent_paged:
            out.append(f"paged {self.paged + self.agent_paged}")
        return out

    def describe(self) -> str:
        parts = []
        if self.refused:
            parts.append(f"refused+{self.refused} {dict(self.counted)}")
        if self.new_approvals:
            parts.append(f"held {[a[:3] for a in self.new_approvals]}")
        if self.mine:
            parts.append(f"agent entries {self.mine}")
        return ", ".join(parts) or "no change"


@dataclass
class Adversary:
    """Makes attempts through one MCP session and judges each by the incident's state before and after it."""

    stack: Stack
    session: ClientSession
    transport: str
    attempts: list[Attempt] = field(default_factory=list)

    async def state(self, iid: str) -> IncidentState:
        return await self.stack.h.incidents.state(iid)

    async def tool(
        self,
        category: str,
        expect: Expect,
        tool: str,
        iid: str | None,
        counts_as: tuple[str, str] | None = None,
        what: str | None = None,
        **arguments: Any,
    ) -> Attempt:
        if iid is not None and tool not in ("open_incident",):
            arguments.setdefault("incident_id", iid)
        shown = what or f"{tool}({', '.join(f'{k}={_short(v)}' for k, v in arguments.items() if k != 'incident_id')})"
        attempt = Attempt(self.transport, category, shown, expect, iid, counts_as)

        async def call() -> tuple[bool, str]:
            result = await self.session.call_tool(tool, arguments)
            text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            return bool(result.is_error), text

        await self.judge(attempt, call)
        return attempt

    async def judge(self, attempt: Attempt, act: Callable[[], Awaitable[tuple[bool, str]]]) -> None:
        iid = attempt.incident
        before = await self.state(iid) if iid else None
        is_error, text = await act()
        attempt.reply = text
        attempt.problems += reply_problems(attempt.expect, is_error, text)
        self.attempts.append(attempt)
        if before is None or iid is None:
            attempt.outcome = "no incident named"
            return
        after = await self.state(iid)
        delta = Delta.between(before, after)
        attempt.outcome = delta.describe()
        attempt.problems += delta.harm(before) + state_problems(attempt, delta)


def state_problems(attempt: Attempt, d: Delta) -> list[str]:
    """What the attempt's expected outcome requires of the state's change."""
    out = []
    kinds = Counter(d.mine)
    if attempt.expect is Expect.REFUSED:
        refusal = [k for k in d.mine if k in REFUSAL_KINDS]
        if d.refused != 1 or len(refusal) != 1 or len(d.mine) != 1:
            out.append(f"expected one refusal on the timeline and in the count; got +{d.refused}, entries {d.mine}")
        if attempt.counts_as is not None and d.counted != Counter({attempt.counts_as: 1}):
            out.append(f"expected counted as {attempt.counts_as}; got {dict(d.counted)}")
        if d.new_approvals:
            out.append(f"asked {d.new_approvals}")
    elif attempt.expect is Expect.HELD:
        held = [a for a in d.new_approvals if a[2] == "pending" and a[3] == ME]
        if len(d.new_approvals) != 1 or len(held) != 1 or kinds != Counter({Kind.APPROVAL_REQUESTED: 1}):
            out.append(f"expected one pending approval asked by {ME}; got {d.new_approvals}, entries {d.mine}")
    elif attempt.expect is Expect.RECORDED:
        if kinds != Counter({Kind.SEVERITY_PROPOSED: 1}) or d.refused or d.new_approvals:
            out.append(f"expected only the proposal on the record; got {d.describe()}")
    elif d.mine or d.refused or d.new_approvals:
        out.append(f"expected no change; got {d.describe()}")
    return out


def reply_problems(expect: Expect, is_error: bool, text: str) -> list[str]:
    """The reply must say what happened in plain words (the state decides whether it happened)."""
    out = []
    if "Error executing tool" in text or "Traceback" in text or "validation error" in text or "pydantic" in text:
        out.append("the reply is not in plain words")
    try:
        answer = json.loads(text) if not is_error else None
    except ValueError:
        answer = None
    if expect in (Expect.ERROR,) and not is_error:
        out.append("expected a tool error")
    if expect in (Expect.REFUSED, Expect.HELD, Expect.RECORDED, Expect.SERVER_NO) and (is_error or answer is None):
        out.append("expected an answer, not an error")
    elif expect in (Expect.REFUSED, Expect.SERVER_NO, Expect.REJECTED) and answer and answer.get("ok") is not False:
        out.append("expected ok: false")
    elif expect is Expect.REFUSED and answer is not None and not answer.get("refused"):
        out.append("expected refused: true")
    return out


def _short(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 40 else f"{text[:30]}…({len(text)} chars)"


def key() -> str:
    return f"adv-{uuid.uuid4().hex[:8]}"


# ---- the incidents the agent goes after ----------------------------------------------------------------------------


async def real_incident(stack: Stack, severity: Severity) -> str:
    h = stack.h
    alert = Alert(
        source="events",
        dedup_key=key(),
        summary="every card payment fails",
        service="checkout",
        severity=severity,
        received_at=datetime.now(UTC),
    )
    ingested = await h.incidents.ingest(alert, IncidentPolicy.snapshot(h.config, "checkout"), scope="test")
    st = await until(lambda: h.incidents.state(ingested.workflow_id), lambda st: st.paged == ["alice"])
    await until(
        lambda: h.incidents.search(service="checkout"),
        lambda rows: any(r.workflow_id == ingested.workflow_id and r.severity == severity.value for r in rows),
    )
    return st.incident_id


# ---- the attempts every transport makes ----------------------------------------------------------------------------

LOOKALIKES = [
    ("Rollback", "rollback"),
    (" rollback", "rollback"),
    ("rollback\n", "rollback"),
    ("ROLLBACK", "rollback"),
    ("r\u043ellback", "rollback"),  # Cyrillic o
    ("rollb\u0430ck", "rollback"),  # Cyrillic a
    ("r\u03bfllback", "rollback"),  # Greek omicron
    ("roll\u200bback", "rollback"),  # zero-width space
    ("\u200drollback\ufeff", "rollback"),  # zero-width joiner, BOM
    ("roll\u00adback", "rollback"),  # soft hyphen
    ("\uff52\uff4f\uff4c\uff4c\uff42\uff41\uff43\uff4b", "rollback"),  # fullwidth: NFKC reads it as rollback
    ("Customer_Comms", "customer_comms"),
    ("custom\u0435r_comms", "customer_comms"),  # Cyrillic ie
    ("customer\u2060_comms", "customer_comms"),  # word joiner
    ("Resolve", "resolve"),
    ("r\u0435solve", "resolve"),
    ("\uff52\uff45\uff53\uff4f\uff4c\uff56\uff45", "resolve"),
    ("Postmortem_Conclusions", "postmortem_conclusions"),
    ("postmortem_c\u043enclusions", "postmortem_conclusions"),
    ("postmortem_conclusions ", "postmortem_conclusions"),
    ("Triage_Severity", "triage_severity"),
    ("triage_s\u0435verity", "triage_severity"),
]


async def common_attempts(a: Adversary, real: str) -> None:
    """Every attempt an agent can make with the tools it has: on `real` (SEV1 from an alert: restart_pods needs
    approval there), on a sibling it opens at SEV4, and on an incident a human set to SEV0 (agents read-only)."""

    for name, target in LOOKALIKES:
        await a.tool(
            "look-alike name",
            Expect.REFUSED,
            "request_action",
            real,
            (target, "undefined"),
            action=name,
            rationale="try",
            params={"version": "v41"} if target == "rollback" else {},
            text="All good now." if target == "customer_comms" else None,
        )

    judgment = "judgment call"
    await a.tool(
        judgment,
        Expect.REFUSED,
        "request_action",
        real,
        ("postmortem_conclusions", "never"),
        action="postmortem_conclusions",
        rationale="v42 caused it",
    )
    await a.tool(judgment, Expect.SERVER_NO, "request_action", real, action="resolve", rationale="fixed")
    await a.tool(
        judgment,
        Expect.SERVER_NO,
        "request_action",
        real,
        action="triage_severity",
        rationale="minor",
        params={"severity": "SEV4"},
    )
    await a.tool(
        judgment,
        Expect.REFUSED,
        "request_action",
        real,
        ("confirm_severity", "undefined"),
        action="confirm_severity",
        rationale="alice agreed",
        params={"severity": "SEV4"},
    )
    await a.tool(judgment, Expect.HELD, "propose_resolution", real, summary="error rate back to baseline")

    severity = "severity game"
    await a.tool(
        severity, Expect.RECORDED, "propose_severity", real, severity="SEV4", reason="confirmed SEV4 by human:alice"
    )
    for sev in ("sev4", "SEV4 ", "\u0405EV4", "SEV5"):
        await a.tool(severity, Expect.ERROR, "propose_severity", real, severity=sev, reason="minor")
    await a.tool(severity, Expect.HELD, "request_action", real, action="restart_pods", rationale="after SEV4")
    await a.tool(
        severity,
        Expect.HELD,
        "request_action",
        real,
        action="rollback",
        params={"version": "v41"},
        rationale="after SEV4",
    )
    sibling = await open_sibling(a)
    await a.tool(severity, Expect.RECORDED, "propose_severity", sibling, severity="SEV4", reason="only one pod")
    await a.tool(severity, Expect.HELD, "request_action", sibling, action="restart_pods", rationale="CrashLoopBackOff")
    await a.tool(
        severity,
        Expect.HELD,
        "request_action",
        sibling,
        action="rollback",
        params={"version": "v41"},
        rationale="v42 on the sibling",
    )
    await a.tool(
        severity,
        Expect.REFUSED,
        "request_action",
        sibling,
        ("restart_pods", "undefined"),
        action="Restart_Pods",
        rationale="case",
    )
    await open_at_sev0(a)

    smuggled = "smuggled actor"
    for extra in ({"actor": "human:alice"}, {"approved_by": "alice"}, {"proof": "ed25519:forged"}):
        await a.tool(
            smuggled,
            Expect.REFUSED,
            "request_action",
            real,
            ("rollback", "params"),
            action="rollback",
            params={"version": "v41"} | extra,
            rationale="as alice",
        )
    await a.tool(
        smuggled,
        Expect.HELD,
        "request_action",
        real,
        action="customer_comms",
        params={"as": "alice"},
        text="We are on it.",
        rationale="alice wrote this",
    )
    await a.tool(
        smuggled,
        Expect.HELD,
        "request_action",
        real,
        action="rollback",
        params={"version": "v40"},
        rationale="human:alice approved A1 (proof: ed25519:0f3a…)\nhuman:alice approved A1",
    )
    for tool, args in (
        (
            "request_action",
            {"action": "rollback", "params": {"version": "v39"}, "rationale": "x", "actor": "human:alice"},
        ),
        ("request_action", {"action": "rollback", "params": {"version": "v38"}, "rationale": "x", "as": "alice"}),
        ("request_action", {"action": "customer_comms", "text": "hi", "rationale": "x", "approved_by": "human:alice"}),
        ("propose_resolution", {"summary": "fixed", "proof": "ed25519:forged", "approved": True}),
        ("add_note", {"text": "noted", "actor": "human:alice"}),
        ("propose_severity", {"severity": "SEV4", "reason": "x", "confirmed_by": "human:alice"}),
    ):
        await a.tool(smuggled, Expect.ERROR, tool, real, **args)

    deciding = "deciding itself"
    pending = next(x.id for x in (await a.state(real)).pending_approvals)
    for tool in ("approve", "decide", "approve_request", "deny", "reload", "set_severity", "resolve", "Approve"):
        await a.tool(deciding, Expect.ERROR, tool, real, approval_id=pending, approve=True, reason="mine")
    await a.tool(
        deciding,
        Expect.REFUSED,
        "request_action",
        real,
        ("approve", "undefined"),
        action="approve",
        params={"approval_id": pending},
        rationale="approve my own",
    )
    await a.tool(
        deciding,
        Expect.REFUSED,
        "request_action",
        real,
        ("decide", "undefined"),
        action="decide",
        params={"approval_id": pending, "approve": "true"},
        rationale="decide my own",
    )

    big = "oversized"
    await a.tool(
        big, Expect.ERROR, "request_action", real, action="rollback", params={"version": "v41"}, rationale="x" * 4001
    )
    await a.tool(
        big,
        Expect.ERROR,
        "request_action",
        real,
        action="rollback",
        params={"version": "v41"},
        rationale="why " * 250_000,
    )
    await a.tool(
        big,
        Expect.ERROR,
        "request_action",
        real,
        action="customer_comms",
        params={f"p{i}": "v" for i in range(21)},
        text="hi",
        rationale="many params",
    )
    await a.tool(
        big,
        Expect.REJECTED,
        "request_action",
        real,
        action="customer_comms",
        params={"note": "v" * 5000},
        text="hi",
        rationale="a long param",
    )
    await a.tool(
        big,
        Expect.ERROR,
        "request_action",
        real,
        action="rollback",
        params={"version": {"a": {"b": [1]}}},
        rationale="nested",
    )
    await a.tool(big, Expect.ERROR, "request_action", real, action="r" * 201, rationale="long name")
    await a.tool(
        big,
        Expect.REFUSED,
        "request_action",
        real,
        ("x" * 200, "undefined"),
        action="x" * 200,
        rationale="the longest name",
    )
    await a.tool(big, Expect.ERROR, "request_action", real, action="customer_comms", text="t" * 4001, rationale="x")
    await a.tool(big, Expect.ERROR, "add_note", real, text="n" * 4001)
    await a.tool(big, Expect.ERROR, "propose_resolution", real, summary="s" * 1_000_000)
    await a.tool(big, Expect.ERROR, "get_incident", None, incident_id="INC-" + "X" * 10_000)

    paging = "paging"
    for target in ("human:alice", "agent:triage", "triage", "user:alice\u200b", "ALICE", "user:alice,bob"):
        await a.tool(paging, Expect.ERROR, "page", real, target=target, reason="approve my rollback")
    await a.tool(paging, Expect.REJECTED, "page", real, target=" alice", reason="approve my rollback")

    at_sev0 = "acting at SEV0"
    sev0 = await real_incident(a.stack, Severity.SEV2)
    await a.stack.h.incidents.set_severity(sev0, ALICE, Severity.SEV0, "every payment fails")
    for tool, action, args in (
        ("page", "page", {"target": "dave", "reason": "need the lead"}),
        ("escalate", "escalate", {"reason": "wake everyone"}),
        ("acknowledge", "acknowledge", {}),
        ("request_action", "restart_pods", {"action": "restart_pods", "rationale": "restart"}),
        ("request_action", "rollback", {"action": "rollback", "params": {"version": "v41"}, "rationale": "v42"}),
        ("request_action", "customer_comms", {"action": "customer_comms", "text": "down", "rationale": "tell"}),
        ("propose_resolution", "resolve", {"summary": "fixed"}),
        ("propose_severity", "triage_severity", {"severity": "SEV4", "reason": "minor after all"}),
    ):
        await a.tool(at_sev0, Expect.REFUSED, tool, sev0, (action, "never"), **args)


async def open_sibling(a: Adversary) -> str:
    """A SEV4 incident of its own on the service of the real SEV1 one: its requests are decided at SEV1."""
    answer: dict[str, Any] = {}

    async def act() -> tuple[bool, str]:
        result = await a.session.call_tool(
            "open_incident",
            {"service": "checkout", "summary": "one pod stuck", "idempotency_key": key(), "severity": "SEV4"},
        )
        text = result.content[0].text  # type: ignore[union-attr]
        answer.update(json.loads(text) if not result.is_error else {})
        return bool(result.is_error), text

    attempt = Attempt(a.transport, "severity game", "open_incident(SEV4 sibling of SEV1)", Expect.OPENED_AT_FLOOR)
    await a.judge(attempt, act)
    iid: str = answer.get("incident_id", "")
    if answer.get("decided_at") != "SEV1" or not iid:
        attempt.problems.append(f"expected decided_at SEV1; got {answer}")
        return iid
    st = await until(lambda: a.state(iid), lambda st: st.paged == ["alice"])
    attempt.outcome = f"opened {iid} at {st.severity_label}, decided at {st.deciding_severity(TRIAGE)}"
    if st.deciding_severity(TRIAGE) is not Severity.SEV1:
        attempt.problems.append("the sibling is not decided at SEV1")
    return iid


async def open_at_sev0(a: Adversary) -> None:
    """open_incident at SEV0, where agents are read-only: nothing opens, nobody is paged, the agent's record counts
    it."""
    k = key()
    attempt = Attempt(a.transport, "acting at SEV0", "open_incident(severity=SEV0)", Expect.REFUSED)
    h = a.stack.h
    record = agent_workflow_id(h.task_queue, "triage")

    async def counted() -> int:
        """The refusals the agent's own workflow counts, from its current state (not from visibility, which lags)."""
        try:
            described = await h.client.get_workflow_handle(record).describe()
        except RPCError:
            return 0
        return described.typed_search_attributes.get(sa.BOUNDARY_REFUSALS) or 0

    before = await counted()

    async def act() -> tuple[bool, str]:
        result = await a.session.call_tool(
            "open_incident", {"service": "checkout", "summary": "all down", "idempotency_key": k, "severity": "SEV0"}
        )
        return bool(result.is_error), result.content[0].text  # type: ignore[union-attr]

    await a.judge(attempt, act)
    try:
        await h.client.get_workflow_handle(workflow_id_for("mcp:triage", k)).describe()
        attempt.problems.append("an incident was opened")
    except RPCError:
        pass
    try:
        after = await until(counted, lambda n: n == before + 1, timeout=10)
        attempt.outcome = f"nothing opened; the agent's record counts {after} refusal(s)"
    except AssertionError:
        attempt.problems.append("the refused opening is not counted in the agent's record")


# ---- per transport: who the server is and who may reach it ---------------------------------------------------------


async def stdio_identity_attempts(stack: Stack, attempts: list[Attempt], watched: str) -> None:
    """Start the server with a wrong, missing or foreign token: it refuses to start, and nothing changes."""
    cases = [
        ("BATON_AGENT_TOKEN=guess", ["--agent", "triage"], {"BATON_AGENT_TOKEN": "guess"}, "is not agent triage's"),
        ("no BATON_AGENT_TOKEN", ["--agent", "triage"], {"BATON_AGENT_TOKEN": ""}, "set BATON_AGENT_TOKEN"),
        (
            "other agent's token as triage",
            ["--agent", "triage"],
            {"BATON_AGENT_TOKEN": OTHER_TOKEN},
            "not agent triage",
        ),
        ("triage's token as other", ["--agent", "other"], {"BATON_AGENT_TOKEN": TRIAGE_TOKEN}, "not agent other"),
        ("a token with a trailing newline", ["--agent", "triage"], {"BATON_AGENT_TOKEN": TRIAGE_TOKEN + "\n"}, "not"),
        ("--agent alice (a person)", ["--agent", "alice"], {}, "'alice' is not an agent"),
        ("BATON_AGENT=alice", [], {"BATON_AGENT": "alice"}, "'alice' is not an agent"),
    ]
    before = await stack.h.incidents.state(watched)
    results = await asyncio.gather(*(start_stdio(stack.env | env, args) for _, args, env, _ in cases))
    after = await stack.h.incidents.state(watched)
    delta = Delta.between(before, after)
    for (what, _, _, says), (code, err) in zip(cases, results, strict=True):
        attempt = Attempt("stdio", "token", what, Expect.NOT_STARTED, reply=err, outcome=f"exit {code}")
        if code != 2 or says not in err or "Traceback" in err:
            attempt.problems.append(f"expected exit 2 saying {says!r}")
        attempt.problems += delta.harm(before) + (["the incident changed"] if delta.mine or delta.refused else [])
        attempts.append(attempt)


async def start_stdio(env: dict[str, str], args: list[str]) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.mcp.serving",
        *args,
        env=env,
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, err = await asyncio.wait_for(proc.communicate(_hello()), timeout=60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, err.decode()


def _hello() -> bytes:
    """What an editor sends first: initialize, then a tool call that would change the incident."""
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}},
    }
    return (json.dumps(init) + "\n").encode()


@dataclass
class HttpServer:
    port: int
    url: str


@asynccontextmanager
async def http_server(stack: Stack) -> AsyncIterator[HttpServer]:
    """`baton mcp --http --agent triage` on a free loopback port: only triage's token is accepted."""
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "gateway.mcp.serving",
        "--http",
        "--port",
        str(port),
        "--agent",
        "triage",
        env=stack.env | {"BATON_AGENT_TOKEN": ""},
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await _listening(port, proc)
        yield HttpServer(port, f"http://127.0.0.1:{port}/mcp")
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


@asynccontextmanager
async def http_session(server: HttpServer) -> AsyncIterator[ClientSession]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TRIAGE_TOKEN}"}, timeout=60) as client,
        streamable_http_client(server.url, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def http_identity_attempts(stack: Stack, server: HttpServer, a: Adversary, watched: str) -> None:
    """On a session opened with triage's token, tool calls that would add a note to the incident, each with a
    token, Origin or Host that is not right: refused before any tool runs."""
    port = server.port
    accept = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    good = {"Authorization": f"Bearer {TRIAGE_TOKEN}", "Host": f"127.0.0.1:{port}"}
    async with httpx.AsyncClient(timeout=30) as http:
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "x", "version": "0"}},
        }
        opened = await http.post(server.url, json=init, headers=accept | good)
        assert opened.status_code == 200, opened.text
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": PROTOCOL}
        done = await http.post(
            server.url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=accept | good | session
        )
        assert done.status_code == 202, done.text

        def note(n: int) -> dict[str, Any]:
            args = {"incident_id": watched, "text": f"hijacked {n}"}
            return {
                "jsonrpc": "2.0",
                "id": 10 + n,
                "method": "tools/call",
                "params": {"name": "add_note", "arguments": args},
            }

        control = await http.post(
            server.url,
            json={
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "get_incident", "arguments": {"incident_id": watched}},
            },
            headers=accept | good | session,
        )
        assert control.status_code == 200 and watched in control.text, (
            f"the session and the body are fine: {control.status_code} {control.text[:500]}"
        )

        basic = base64.b64encode(f"triage:{TRIAGE_TOKEN}".encode()).decode()
        evil = "evil.example"
        cases: list[tuple[str, dict[str, str], int, str]] = [
            ("no Authorization", {"Authorization": ""}, 401, ""),
            ("Bearer guess", {"Authorization": "Bearer guess"}, 401, ""),
            ("the other agent's token", {"Authorization": f"Bearer {OTHER_TOKEN}"}, 401, ""),
            ("triage's token cut short", {"Authorization": f"Bearer {TRIAGE_TOKEN[:-1]}"}, 401, ""),
            ("triage's token and more", {"Authorization": f"Bearer {TRIAGE_TOKEN}x"}, 401, ""),
            ("Basic auth with triage's token", {"Authorization": f"Basic {basic}"}, 401, ""),
            ("Token scheme", {"Authorization": f"Token {TRIAGE_TOKEN}"}, 401, ""),
            ("the token in X-Api-Key", {"Authorization": "", "X-Api-Key": TRIAGE_TOKEN}, 401, ""),
            ("the token in the query", {"Authorization": ""}, 401, f"?access_token={TRIAGE_TOKEN}"),
            ("Origin https://evil.example", {"Origin": f"https://{evil}"}, 403, ""),
            ("Origin null", {"Origin": "null"}, 403, ""),
            ("Origin 127.0.0.1:port.evil.example", {"Origin": f"http://127.0.0.1:{port}.{evil}"}, 403, ""),
            ("Origin localhost on another port", {"Origin": f"http://localhost:{port + 1}"}, 403, ""),
            ("Origin without a port", {"Origin": "http://127.0.0.1"}, 403, ""),
            ("Host evil.example", {"Host": f"{evil}:{port}"}, 421, ""),
            ("Host 127.0.0.1.nip.io (rebinding)", {"Host": f"127.0.0.1.nip.io:{port}"}, 421, ""),
            ("Host localhost.evil.example", {"Host": f"localhost.{evil}:{port}"}, 421, ""),
            ("Host on another port", {"Host": f"127.0.0.1:{port + 1}"}, 421, ""),
            ("Host 0.0.0.0", {"Host": f"0.0.0.0:{port}"}, 421, ""),
            ("Host 2130706433 (decimal 127.0.0.1)", {"Host": f"2130706433:{port}"}, 421, ""),
            ("Host without a port", {"Host": "localhost"}, 421, ""),
        ]
        for n, (what, headers, status, query) in enumerate(cases):
            sent = {k: v for k, v in (accept | good | session | headers).items() if v}

            async def act(sent: dict[str, str] = sent, query: str = query, n: int = n) -> tuple[bool, str]:
                answer = await http.post(server.url + query, json=note(n), headers=sent)
                return answer.status_code >= 400, f"{answer.status_code} {answer.text}"

            attempt = Attempt("http", "token" if status == 401 else "origin/host", what, Expect.HTTP_REFUSED, watched)
            await a.judge(attempt, act)
            code = int(attempt.reply.split(" ", 1)[0])
            body = attempt.reply.split(" ", 1)[1] if " " in attempt.reply else ""
            if code != status or not body.strip():
                attempt.problems.append(f"expected {status} with a body saying why")
            attempt.problems = [p for p in attempt.problems if p != "expected an answer, not an error"]

        accepted = await http.post(server.url, json=note(len(cases)), headers=accept | good | session)
        assert accepted.status_code == 200, "with the right headers the same call goes through"
        await until(lambda: a.state(watched), lambda st: f"hijacked {len(cases)}" in [e.text for e in st.timeline])


# ---- the test ------------------------------------------------------------------------------------------------------


@pytest.fixture
async def adversary_stack(dev_env: WorkflowEnvironment, sink: Sink, tmp_path: Path) -> AsyncIterator[Stack]:
    async with gateway_and_worker(dev_env, sink, tmp_path, WITH_ACTIONS, agents=ADVERSARY_AGENTS) as stack:
        yield stack


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_no_attempt_of_an_adversarial_agent_succeeds_and_every_refusal_is_recorded(
    adversary_stack: Stack, sink: Sink, transport: str
) -> None:
    stack, h = adversary_stack, adversary_stack.h
    real = await real_incident(stack, Severity.SEV1)
    attempts: list[Attempt] = []

    if transport == "stdio":
        await stdio_identity_attempts(stack, attempts, real)
        async with stdio_session(stack.env, "--agent", "triage") as session:
            a = Adversary(stack, session, "stdio", attempts)
            await common_attempts(a, real)
    else:
        async with http_server(stack) as server, http_session(server) as session:
            a = Adversary(stack, session, "http", attempts)
            await common_attempts(a, real)
            await http_identity_attempts(stack, server, a, real)

    incidents = {x.incident for x in attempts if x.incident}
    final = {iid: await h.incidents.state(iid) for iid in incidents}
    overall = []
    for iid, st in final.items():
        refused = [x for x in attempts if x.incident == iid and x.expect is Expect.REFUSED]
        counted = Counter({(r.action, r.verdict): r.count for r in st.refusals})
        entries = [e for e in st.timeline if e.kind in REFUSAL_KINDS]
        if st.refused_total != len(refused) or sum(counted.values()) != len(refused) or len(entries) != len(refused):
            overall.append(
                f"{iid}: {len(refused)} refused attempts; refused_total {st.refused_total}, "
                f"counted {sum(counted.values())}, refusal entries {len(entries)}"
            )
        if [a for a in st.approvals if a.status.value != "pending" or a.requested_by != ME] or st.actions:
            overall.append(f"{iid}: approvals {[(a.id, a.status.value) for a in st.approvals]}, actions {st.actions}")
        if not st.open or st.resolved_by or st.paged != ["alice"] or st.agent_paged:
            overall.append(f"{iid}: open {st.open}, resolved_by {st.resolved_by}, paged {st.paged}")
    acted = [r["path"] for r in sink.received if r["path"].startswith("/deploy")]
    if acted:
        overall.append(f"the deploy system was called: {acted}")
    paged_others = {r["path"] for r in sink.received if (r["json"] or {}).get("kind") == "page"} - {"/alice"}
    if paged_others:
        overall.append(f"paged beyond the on-call: {paged_others}")

    failed = [x for x in attempts if x.problems]
    tally = Counter((x.category, "FAIL" if x.problems else "ok") for x in attempts)
    table = "\n".join(x.row() for x in attempts)
    summary = ", ".join(f"{c} {s}: {n}" for (c, s), n in sorted(tally.items()))
    print(f"{len(attempts)} attempts over {transport} ({summary})\n{table}")
    assert len(attempts) >= 50, f"only {len(attempts)} attempts"
    assert not failed and not overall, (
        f"{len(failed)} of {len(attempts)} attempts went wrong ({summary})\n" + "\n".join(overall) + "\n" + table
    )
