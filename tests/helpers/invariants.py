"""What must hold after any fault, checked once for every scenario:

- every (incident, cycle, level, person) the escalation reached is paged exactly once (distinct idempotency keys
  the receiver accepted; a repeat of one key is the same page, which receivers drop), and on time: no later than
  its due time pushed past any outage, plus a slack;
- every alert that got a 2xx is counted on its incident, and a retried delivery only once;
- one incident per dedup key (our incidents are never resolved, so a second one is a duplicate);
- nothing stuck: no workflow failed or was terminated, none has a workflow task that failed or keeps retrying.

Read through stable surfaces only: the webhook bodies, the `state` query, visibility, histories.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType, WorkflowTaskFailedCause
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from gateway.client import Incidents
from incident.state import IncidentState
from tests.helpers.receiver import Received, Receiver
from tests.helpers.retrying_client import Outcome
from tests.helpers.wait import until
from workflows.registry import WORKFLOWS

KEY_SEPARATOR = " | "
"""Alerts' summaries start with their dedup key and this: an incident's title names its key."""
BENIGN_TASK_FAILURES = {
    # Temporal's own bookkeeping, not a defect: a signal arrived while the task completed the run, or a worker's
    # cache was reset.
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
    WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_RESET_STICKY_TASK_QUEUE,
}
RPC = timedelta(seconds=5)


@dataclass(frozen=True)
class Level:
    person: str
    after: float
    """seconds this level has before the next is paged"""


@dataclass
class Escalation:
    """The test config's escalation policy, to know which pages are due when."""

    levels: list[Level]
    repeat: int = 0

    def due(self) -> list[tuple[int, int, str, float]]:
        """(cycle, level, person, seconds after the incident opened) for every page the escalation makes."""
        out, at = [], 0.0
        for cycle in range(self.repeat + 1):
            for n, level in enumerate(self.levels, start=1):
                out.append((cycle, n, level.person, at))
                at += level.after
        return out

    @property
    def total(self) -> float:
        return sum(level.after for level in self.levels) * (self.repeat + 1)


@dataclass
class Outages:
    """Windows (time.time() start, end) in which no page can be expected: a worker or Temporal was down."""

    windows: list[tuple[float, float]] = field(default_factory=list)
    _open: float | None = None

    def begin(self) -> None:
        self._open = time.time()

    def end(self) -> None:
        assert self._open is not None
        self.windows.append((self._open, time.time()))
        self._open = None

    def push(self, at: float, within: float = 0.0) -> float:
        """The earliest moment a page due at `at` can be expected: past every window that began before the page
        was out (`within` its tolerance) and had not ended by then. A page still being sent (or waiting for its
        context) when a part went down can only go out once that part is back."""
        for start, end in sorted(self.windows):
            if start <= at + within and at <= end:
                at = end
        return at


@dataclass
class Figures:
    """What a run measured, for docs/reliability.md."""

    incidents: int = 0
    pages: int = 0
    duplicate_pages: int = 0
    missing_pages: int = 0
    late_pages: int = 0
    worst_lateness_s: float = 0.0
    alerts_accepted: int = 0
    alerts_lost: int = 0
    duplicate_incidents: int = 0
    stuck: int = 0
    retried_sends: int = 0
    """sends that needed more than one attempt (proof the fault hit the traffic)"""
    outage_s: float = 0.0

    def line(self, name: str) -> str:
        return (
            f"FIGURES {name}: incidents={self.incidents} pages={self.pages} duplicate_pages={self.duplicate_pages} "
            f"missing_pages={self.missing_pages} late_pages={self.late_pages} "
            f"worst_lateness={self.worst_lateness_s:.1f}s alerts_accepted={self.alerts_accepted} "
            f"alerts_lost={self.alerts_lost} duplicate_incidents={self.duplicate_incidents} stuck={self.stuck} "
            f"retried_sends={self.retried_sends} outage={self.outage_s:.1f}s"
        )


async def list_incidents(incidents: Incidents) -> list[Any]:
    """Every incident through the façade's listing: one row per incident."""
    rows: list[Any] = await incidents.search(limit=1000)
    return rows


async def incident_state(client: Client, workflow_id: str) -> IncidentState:
    handle = client.get_workflow_handle(workflow_id)
    st: IncidentState = await handle.query("state", result_type=IncidentState, rpc_timeout=RPC)
    return st


def key_of(st: IncidentState) -> str:
    return st.title.split(KEY_SEPARATOR, 1)[0]


async def states(client: Client, incidents: Incidents) -> tuple[list[IncidentState], list[str]]:
    """The state of every incident, and a problem for each one that cannot answer."""
    out, problems = [], []
    for row in await list_incidents(incidents):
        try:
            out.append(await incident_state(client, row.workflow_id))
        except Exception as e:
            problems.append(f"{row.workflow_id}: the state query fails: {type(e).__name__}: {e}")
    return out, problems


REPLAYER = Replayer(
    workflows=list(WORKFLOWS),
    data_converter=pydantic_data_converter,
)


async def stuck(client: Client) -> list[str]:
    """Workflows that failed, were terminated or timed out, whose workflow task failed or keeps retrying, or whose
    history does not replay."""
    problems = []
    async for wf in client.list_workflows("", rpc_timeout=RPC):
        if wf.status not in (
            WorkflowExecutionStatus.RUNNING,
            WorkflowExecutionStatus.COMPLETED,
            WorkflowExecutionStatus.CONTINUED_AS_NEW,
        ):
            problems.append(f"{wf.id} ({wf.run_id[:8]}): ended {wf.status.name if wf.status else '?'}")
        handle = client.get_workflow_handle(wf.id, run_id=wf.run_id)
        history = await handle.fetch_history(rpc_timeout=RPC)
        # A history the code cannot replay wedges the incident the next time a worker has to rebuild it.
        replayed = await REPLAYER.replay_workflow(history, raise_on_replay_failure=False)
        if replayed.replay_failure is not None:
            problems.append(f"{wf.id} ({wf.run_id[:8]}): its history does not replay: {replayed.replay_failure}")
        for event in history.events:
            if event.event_type != EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                continue
            attrs = event.workflow_task_failed_event_attributes
            if attrs.cause in BENIGN_TASK_FAILURES:
                continue
            cause = WorkflowTaskFailedCause.Name(attrs.cause)
            problems.append(f"{wf.id} ({wf.run_id[:8]}): workflow task failed ({cause}): {attrs.failure.message[:300]}")
        if wf.status is WorkflowExecutionStatus.RUNNING:
            desc = await handle.describe(rpc_timeout=RPC)
            pending = desc.raw_description.pending_workflow_task
            if pending.attempt > 2:
                problems.append(f"{wf.id}: its workflow task is on attempt {pending.attempt}")
    return problems


def _events_of(outcomes: list[Outcome]) -> dict[str, dict[str, list[Outcome]]]:
    """key -> delivery (the body as sent) -> every send of it."""
    out: dict[str, dict[str, list[Outcome]]] = {}
    for o in outcomes:
        body = o.body
        key = str(body.get("dedup_key"))
        out.setdefault(key, {}).setdefault(repr(sorted(body["payload"].items())), []).append(o)
    return out


@dataclass
class Check:
    """Everything a scenario checks at its end. `problems` empty means every invariant held."""

    client: Client
    incidents: Incidents
    receiver: Receiver
    escalation: Escalation
    outcomes: list[Outcome] = field(default_factory=list)
    outages: Outages = field(default_factory=Outages)
    slack: float = 5.0
    """seconds a page may come after its due time (3 s of these are the worker's sticky-queue takeover)"""
    figures: Figures = field(default_factory=Figures)
    problems: list[str] = field(default_factory=list)

    async def settle(self, keys: set[str], timeout: float) -> list[IncidentState]:
        """Wait until every key has an incident, every accepted alert is counted and every incident's escalation
        ran out (so a page sent twice has had time to arrive twice); a timeout is reported, not raised."""

        async def ready() -> tuple[bool, list[IncidentState]]:
            try:
                sts, _ = await states(self.client, self.incidents)
            except Exception:
                return False, []
            accepted = {k: {d for d, sends in v.items() if _ok(sends)} for k, v in _events_of(self.outcomes).items()}
            by_key = {key_of(s): s for s in sts}
            done = set(by_key) >= keys and all(
                by_key[k].alert_count >= len(accepted.get(k, ())) and by_key[k].escalation.exhausted for k in keys
            )
            return done, sts

        try:
            _, sts = await until(ready, lambda r: r[0], timeout=timeout)
        except AssertionError:
            _, sts = await ready()
            self.problems.append(f"not settled within {timeout:.0f}s (every key's incident, alerts, escalation)")
        return sts

    async def run(self, keys: set[str], timeout: float) -> list[str]:
        self.figures.retried_sends = sum(1 for o in self.outcomes if o.attempts > 1)
        self.figures.outage_s = sum(end - start for start, end in self.outages.windows)
        await self.settle(keys, timeout)
        sts, unanswered = await states(self.client, self.incidents)
        self.problems += unanswered
        self._incidents(sts, keys)
        self._alerts(sts)
        self._pages(sts)
        stuck_now = await stuck(self.client)
        self.figures.stuck = len(stuck_now)
        self.problems += stuck_now
        return self.problems

    def _incidents(self, sts: list[IncidentState], keys: set[str]) -> None:
        self.figures.incidents = len(sts)
        per_key: dict[str, list[str]] = {}
        for s in sts:
            per_key.setdefault(key_of(s), []).append(s.incident_id)
        for key, ids in sorted(per_key.items()):
            if len(ids) > 1:
                self.figures.duplicate_incidents += len(ids) - 1
                self.problems.append(f"dedup key {key!r} has {len(ids)} incidents open: {', '.join(ids)}")
        for key in sorted(keys - set(per_key)):
            self.problems.append(f"dedup key {key!r}: no incident")

    def _alerts(self, sts: list[IncidentState]) -> None:
        by_key: dict[str, list[IncidentState]] = {}
        for s in sts:
            by_key.setdefault(key_of(s), []).append(s)
        for key, deliveries in _events_of(self.outcomes).items():
            accepted = [sends for sends in deliveries.values() if _ok(sends)]
            gave_up = [sends for sends in deliveries.values() if not _ok(sends)]
            answers_2xx = sum(1 for sends in accepted for o in sends if o.accepted_at)
            self.figures.alerts_accepted += len(accepted)
            counted = sum(s.alert_count for s in by_key.get(key, []))
            seen = sum(s.alert_count + s.duplicates for s in by_key.get(key, []))
            if counted < len(accepted):
                self.figures.alerts_lost += len(accepted) - counted
                self.problems.append(f"{key!r}: {len(accepted)} alerts got a 2xx, the incident counts {counted}")
            elif counted > len(accepted) + len(gave_up):
                self.problems.append(
                    f"{key!r}: {len(accepted)} distinct alerts sent, {counted} counted (a retry twice)"
                )
            if seen < answers_2xx:
                self.problems.append(f"{key!r}: {answers_2xx} 2xx answers, only {seen} deliveries recorded")

    def _pages(self, sts: list[IncidentState]) -> None:
        got: dict[tuple[str, int, int, str], list[Received]] = {}
        for page in self.receiver.pages():
            got.setdefault(page.page_key, []).append(page)
        expected: set[tuple[str, int, int, str]] = set()
        for s in sts:
            opened = s.opened_at.timestamp()
            for cycle, level, person, offset in self.escalation.due():
                key = (s.incident_id, cycle, level, person)
                expected.add(key)
                pages = got.get(key, [])
                distinct = {p.idempotency_key for p in pages}
                if not pages:
                    self.figures.missing_pages += 1
                    self.problems.append(f"{s.incident_id} level {level} (pass {cycle + 1}): {person} never paged")
                    continue
                self.figures.pages += 1
                if len(distinct) > 1:
                    self.figures.duplicate_pages += len(distinct) - 1
                    self.problems.append(
                        f"{s.incident_id} level {level} (pass {cycle + 1}): {person} paged {len(distinct)} times"
                    )
                first = min(p.arrived for p in pages)  # when the page reached the receiver
                due = self.outages.push(opened + offset, within=self.slack)
                allowed = due + self.slack
                late = first - due
                self.figures.worst_lateness_s = max(self.figures.worst_lateness_s, late)
                if first > allowed:
                    self.figures.late_pages += 1
                    self.problems.append(
                        f"{s.incident_id} level {level} (pass {cycle + 1}): {person} paged {late:.1f}s after it was "
                        f"due (allowed {self.slack:.0f}s); its timeline: {_timeline(s)}"
                    )
        for key in sorted(set(got) - expected):
            self.problems.append(f"page not due by the escalation: {key}")


def _timeline(s: IncidentState) -> str:
    """Each entry as seconds since the incident opened, its kind and the start of its text: why a page was late."""
    opened = s.opened_at
    entries = [e for e in s.timeline if e.kind != "alert"][:20]
    return "; ".join(f"+{(e.at - opened).total_seconds():.1f}s {e.kind} {e.text[:70]!r}" for e in entries)


def _ok(sends: list[Outcome]) -> bool:
    return any(o.accepted_at is not None for o in sends)
