"""The judge: a scenario's expectations checked against what a drill saw the incident do.

The runner (`gateway/drill/`) hands over each step's answer and, at each expectation's moment, the incident's state and
the pages it sent (`Seen`); this module says whether that is what the scenario expected and, when it is not, what
happened instead. Levels come from what was recorded (a page's `level`), never from reading a sentence. Pure: no
Temporal, no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from incident.coordination import LEAD
from incident.durations import format_duration
from incident.models import Status, TimelineEntry
from incident.scenario import (
    NOBODY,
    ApprovalCheck,
    AskedCheck,
    AutonomyCheck,
    ChannelCheck,
    Expectation,
    PagedCheck,
    Step,
    StepOutcome,
    UpdateCheck,
)
from incident.state import IncidentState
from incident.timeline import Kind


@dataclass(frozen=True)
class SentPage:
    """A page the drill's worker captured instead of sending: `kind` page, approval, notice, recovered, update."""

    at: timedelta
    person: str
    kind: str
    level: int = 0
    approval_id: str | None = None


@dataclass(frozen=True)
class StepResult:
    """How the incident answered a step."""

    outcome: StepOutcome
    message: str
    rule: str | None = None
    approval_id: str | None = None
    """The approval the request became (pending)."""
    decided: str | None = None
    """approve/deny: the approval decided on (what `last` turned out to be)."""


@dataclass
class Check:
    at: timedelta
    expect: str
    passed: bool
    got: str
    where: str = ""
    line: int | None = None
    incident: str | None = None
    """The alert key of the incident checked, where a scenario has several."""

    def sentence(self) -> str:
        which = f"[{self.incident}] " if self.incident else ""
        if self.passed:
            return f"at {ago(self.at)}: {which}{self.expect}"
        return f"at {ago(self.at)}: {which}expected {self.expect}; got: {self.got}"


@dataclass
class Seen:
    """One incident as the drill saw it at a moment: its state (None before it opened) and the pages for it."""

    state: IncidentState | None
    origin: datetime
    pages: list[SentPage] = field(default_factory=list)
    autonomy: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    """`record` and `incident`: per agent, per laddered severity, its level on its record, and as the incident
    fixed it (empty until it has)."""


def ago(d: timedelta) -> str:
    """An offset from the drill's start in whole seconds, as written in scenarios: `0s`, `5m`, `1h2m3s`."""
    return format_duration(timedelta(seconds=int(max(d.total_seconds(), 0))))


def check_step(step: Step, result: StepResult) -> Check:
    """A step without `expect` only has to be carried out: `error` fails it."""
    got = result.outcome + (f" ({result.approval_id})" if result.approval_id else "")
    detail = result.rule if result.outcome in ("pending", "refused", "undefined") and result.rule else result.message
    if result.outcome != "done" and detail:
        got += f": {detail}"
    what = step.describe(result.decided)
    if step.expect is None:
        return Check(step.at, f"{what} carried out", result.outcome != "error", got)
    expect = f"{what}: {step.expect}"
    passed = result.outcome == step.expect
    if step.rule is not None:
        expect += f" by a rule containing {step.rule!r}"
        passed = passed and step.rule.lower() in (result.rule or "").lower()
    return Check(step.at, expect, passed, got)


def check(exp: Expectation, seen: Seen) -> Check:
    """Judge one expectation against the incident as it is now."""
    passed, got = _judge(exp, seen)
    return Check(exp.at, exp.describe(), passed, got)


def _judge(exp: Expectation, seen: Seen) -> tuple[bool, str]:
    st = seen.state
    match exp.kind:
        case "paged" | "not_paged":
            want: PagedCheck = getattr(exp, exp.kind)
            pages = [p for p in seen.pages if p.kind == "page"]
            hits = [p for p in pages if _matches(want, p)]
            enough = len(hits) >= want.times
            if exp.kind == "paged":
                if enough:
                    return True, ", ".join(_paged(p) for p in hits)
                return False, _pages_so_far(pages) + "; " + _missing(want, len(hits))
            if enough:
                return False, ", ".join(_paged(p) for p in hits)
            return True, _missing(want, len(hits)) + f" ({_pages_so_far(pages)})"
        case "asked":
            want_ask: AskedCheck = exp.asked  # type: ignore[assignment]
            asks = [p for p in seen.pages if p.kind == "approval"]
            hits = [
                p
                for p in asks
                if (want_ask.person is None or p.person == want_ask.person)
                and (want_ask.approval is None or (p.approval_id or "").upper() == want_ask.approval.upper())
            ]
            if hits:
                return True, _asked(hits[0])
            return False, ", ".join(_asked(p) for p in asks) or "nobody was asked to decide anything"
    if st is None:
        return False, "the incident has not opened"
    match exp.kind:
        case "severity":
            return st.severity_label == exp.severity, st.severity_label
        case "status":
            return st.status is exp.status, _status(st, seen.origin)
        case "approval":
            return _approval(exp.approval, st, seen.origin)  # type: ignore[arg-type]
        case "update":
            return _update(exp.update, st, seen)  # type: ignore[arg-type]
        case "timeline" | "not_timeline":
            needle: str = getattr(exp, exp.kind)
            hits_t = [e for e in st.timeline if needle.lower() in e.text.lower()]
            if exp.kind == "timeline":
                if hits_t:
                    return True, _entry(hits_t[0], seen.origin)
                last = "; ".join(_entry(e, seen.origin) for e in st.timeline[-3:])
                return False, f"no entry contains it (the last: {last})"
            if hits_t:
                return False, _entry(hits_t[0], seen.origin)
            return True, ""
        case "lead":
            got = st.lead or NOBODY
            return got == exp.lead, _lead(st, seen.origin)
        case "commanders_paged":
            return st.commanders_paged == exp.commanders_paged, _commanders(st, seen.origin)
        case "channel":
            return _channel(exp.channel, st)  # type: ignore[arg-type]
        case "autonomy":
            want_level: AutonomyCheck = exp.autonomy  # type: ignore[assignment]
            level = seen.autonomy.get(want_level.of, {}).get(want_level.agent, {}).get(want_level.severity.value)
            return level == want_level.level, level or "not fixed (yet)"
    kinds = sorted({f"{r.actor} {r.action}" for r in st.refusals})
    return st.refused_total == exp.refusals, f"{st.refused_total}" + (f" ({', '.join(kinds)})" if kinds else "")


def _lead(st: IncidentState, origin: datetime) -> str:
    changes = [e for e in st.timeline if e.kind == Kind.ROLE and (e.data or {}).get("role") == LEAD]
    if not changes:
        return "nobody leads"
    return f"{st.lead} leads ({_entry(changes[-1], origin)})"


def _commanders(st: IncidentState, origin: datetime) -> str:
    missing = [e for e in st.timeline if e.kind == Kind.LEAD_MISSING]
    if not missing:
        return "not paged" + (f" ({st.lead} leads)" if st.lead else "")
    return _entry(missing[0], origin)


def _channel(want: ChannelCheck, st: IncidentState) -> tuple[bool, str]:
    ch = st.channel
    if ch is None or ch.channel_id is None:
        got = f"no channel: {ch.off}" if ch is not None and ch.off else "no channel"
        return want.state == "none", got
    state = "created" if ch.created else "posting"
    got = f"channel {ch.shown} " + ("created" if ch.created else "(static)")
    return state == want.state and (want.name is None or want.name.lower() in (ch.name or "")), got


def _matches(want: PagedCheck, p: SentPage) -> bool:
    return (want.level is None or p.level == want.level) and (want.person is None or p.person == want.person)


def _paged(p: SentPage) -> str:
    return f"{p.person} paged at level {p.level} at {ago(p.at)}"


def _asked(p: SentPage) -> str:
    return f"{p.person} asked to decide {p.approval_id or '?'} at {ago(p.at)}"


def _pages_so_far(pages: list[SentPage]) -> str:
    return ", ".join(_paged(p) for p in pages) or "nobody paged"


def _missing(want: PagedCheck, found: int) -> str:
    if want.times > 1:
        return f"{found} such page(s), not {want.times}"
    if want.person and want.level:
        return f"{want.person} not at level {want.level}"
    if want.person:
        return f"{want.person} not paged"
    return f"nobody at level {want.level}" if want.level else "nobody paged"


def _status(st: IncidentState, origin: datetime) -> str:
    if st.status is Status.ACKNOWLEDGED and st.acknowledged_at:
        return f"acknowledged by {st.acknowledged_by} at {ago(st.acknowledged_at - origin)}"
    if st.status is Status.RESOLVED and st.resolved_at:
        return f"resolved by {st.resolved_by} at {ago(st.resolved_at - origin)}"
    return st.status.value


def _approval(want: ApprovalCheck, st: IncidentState, origin: datetime) -> tuple[bool, str]:
    found = st.approvals[-1] if want.id == "last" and st.approvals else st.approval(want.id)
    if found is None:
        return False, f"no approval {want.id} (approvals: {', '.join(a.id for a in st.approvals) or 'none'})"
    got = f"{found.id} ({found.describe()}) {found.status.value}"
    if found.decided_by:
        got += f" by {found.decided_by}"
    if found.decided_at:
        got += f" at {ago(found.decided_at - origin)}"
    elif found.pending:
        got += f", deadline {ago(found.deadline - origin)}"
    passed = found.status is want.status and (
        want.decided_by is None or (found.decided_by or "") in (want.decided_by, f"human:{want.decided_by}")
    )
    return passed, got


def _update(want: UpdateCheck, st: IncidentState, seen: Seen) -> tuple[bool, str]:
    """The update fell due with a draft; whoever `asked` names was asked (on the record, and told); and, where the
    check says so, it was reminded and sent by `sent_by`."""
    of = [e for e in st.timeline if (e.data or {}).get("update") == want.number]
    due = next((e for e in of if e.kind == "update_due"), None)
    if due is None:
        sent = [e for e in st.timeline if e.kind == "update_due"]
        return False, f"update {want.number} has not fallen due ({len(sent)} update(s) due so far)"
    data = due.data or {}
    got = f"update {want.number} due at {ago(due.at - seen.origin)}, asking {', '.join(data.get('asked') or [])}"
    if not data.get("draft"):
        return False, got + ", without a draft"
    if want.asked:
        person = st.lead if want.asked == "lead" else want.asked
        if person is None:
            return False, got + "; nobody leads"
        if f"user:{person}" not in (data.get("asked") or []):
            return False, got
        told = [p for p in seen.pages if p.kind == "notice" and p.person == person and p.at >= due.at - seen.origin]
        if not told:
            return False, got + f"; {person} was not told"
    if want.reminded and not any(e.kind == "update_reminded" for e in of):
        return False, got + "; not reminded"
    if want.sent_by:
        sent_by = [e.actor for e in of if e.kind == "update_sent"]
        wanted = want.sent_by if ":" in want.sent_by else f"human:{want.sent_by}"
        if wanted not in sent_by:
            return False, got + f"; sent by {', '.join(sent_by) or 'nobody'}"
        got += f"; sent by {wanted}"
    return True, got


def _entry(e: TimelineEntry, origin: datetime) -> str:
    return f"{ago(e.at - origin)} {e.actor}: {e.text}"
