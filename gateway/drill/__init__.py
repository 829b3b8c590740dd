"""`baton drill`: play scenario files against a config in virtual time, before a real incident does.

Each scenario runs on Temporal's time-skipping test server with a worker of its own, built like a real one except
that pages are captured instead of sent and actions are described instead of run. Alerts go in through the same
façade the intake uses, steps through the one the CLI and agents use; between them the test server skips time, so
a 30-minute escalation takes milliseconds. What the incident did is then judged by `incident.judge`.

The test server's clock starts at the machine's time and only moves forward, while a scenario starts at an instant
of its own (`start:`, often in the past). The drill keeps the offset between the two and reads on-call schedules at
scenario time, which is the only place the config looks at the calendar; everything shown is scenario time.

One concept, the `baton drill` command, in one module of about 500 lines: loading the files, playing them on the
server and showing the result only make sense together. What a scenario says lives in `incident.scenario`, how it
is judged in `incident.judge`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import structlog
from pydantic import PrivateAttr, ValidationError
from rich.console import Console
from rich.markup import escape
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from gateway.client import Incidents, NotFound, Refused
from gateway.temporal import register_search_attributes
from gateway.up import installed_binary
from incident.config import Config, ConfigError, load_config
from incident.config import config_path as default_config_path
from incident.judge import Check, Seen, SentPage, StepResult, ago, check, check_step
from incident.models import Alert, AlertAction, Severity
from incident.scenario import (
    AlertEvent,
    Expectation,
    Scenario,
    ScenarioError,
    Step,
    StepOutcome,
    config_for,
    load_scenario,
)
from incident.schedule import Schedule
from incident.state import IncidentPolicy, IncidentState
from worker import build_worker
from workflows.messages import PageRequest

SETTLE_TIMEOUT = 30.0
"""Seconds of real time an incident may take to finish what fell due before the drill looks at it."""
_BUSY = {EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED}


class DrillSetupError(Exception):
    """Scenario files or configs that cannot be used: nothing was run. One entry per file with problems."""

    def __init__(self, errors: Sequence[ScenarioError | ConfigError]):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True)
class TimelineLine:
    at: timedelta
    clock: datetime
    incident: str
    actor: str
    kind: str
    text: str


@dataclass
class DrillResult:
    file: str
    name: str
    config: str
    start: datetime
    checks: list[Check] = field(default_factory=list)
    timeline: list[TimelineLine] = field(default_factory=list)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and all(c.passed for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "name": self.name,
            "passed": self.passed,
            "config": self.config,
            "start": self.start.isoformat(),
            "error": self.error,
            "expectations": [
                {
                    "at": ago(c.at),
                    "incident": c.incident,
                    "expect": c.expect,
                    "passed": c.passed,
                    "got": c.got,
                    "line": c.line,
                }
                for c in self.checks
            ],
            "timeline": [
                {
                    "at": ago(t.at),
                    "clock": t.clock.isoformat(),
                    "incident": t.incident,
                    "actor": t.actor,
                    "kind": t.kind,
                    "text": t.text,
                }
                for t in self.timeline
            ],
        }


# ---- loading ---------------------------------------------------------------------------------------------------


@dataclass
class Drill:
    scenario: Scenario
    config: Config
    config_file: str


def load_drills(paths: Sequence[Path], config_override: str | None = None) -> list[Drill]:
    """Read every scenario and the config each runs against (`--config`, else the scenario's `config:`, else
    $BATON_CONFIG, ./baton.yaml, the shipped example). Raises DrillSetupError listing every bad file."""
    drills: list[Drill] = []
    errors: list[ScenarioError | ConfigError] = []
    configs: dict[Path, Config | ConfigError] = {}
    for path in paths:
        try:
            scenario = load_scenario(path)
        except ScenarioError as e:
            errors.append(e)
            continue
        where = Path(config_override) if config_override else config_for(scenario) or default_config_path()
        if where not in configs:
            try:
                configs[where] = load_config(where)
            except ConfigError as e:
                configs[where] = e
                errors.append(e)  # once per config, however many scenarios use it
        config = configs[where]
        if isinstance(config, ConfigError):
            continue
        problems = scenario.problems_with(config)
        if problems:
            errors.append(ScenarioError(f"{path} (against {where})", problems))
            continue
        drills.append(Drill(scenario, config, str(where)))
    if errors:
        raise DrillSetupError(errors)
    return drills


# ---- running ---------------------------------------------------------------------------------------------------


async def run_drills(paths: Sequence[Path], config_path: str | None = None) -> list[DrillResult]:
    """Run each scenario file in virtual time; one test server for all, a worker each. Raises DrillSetupError
    (before anything runs) when a file or config cannot be used."""
    drills = load_drills(paths, config_path)
    runtime = Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=TelemetryFilter("ERROR", "ERROR"))))
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
        runtime=runtime,
    )
    try:
        await register_search_attributes(env.client)
        async with httpx.AsyncClient() as http:
            return [await _run(env, drill, http) for drill in drills]
    finally:
        await env.shutdown()


class _ShiftedSchedule(Schedule):
    """A schedule read at scenario time: the test server's clock plus the drill's offset."""

    _shift: timedelta = PrivateAttr(default_factory=timedelta)

    def on_call(self, at: datetime) -> str | None:
        return super().on_call(at + self._shift)


def at_scenario_time(config: Config, shift: timedelta) -> Config:
    """The config as the drill's worker sees it: schedules answer for `server time + shift`."""
    schedules = {}
    for name, sched in config.schedules.items():
        shifted = _ShiftedSchedule.model_construct(**{k: getattr(sched, k) for k in Schedule.model_fields})
        shifted._shift = shift
        schedules[name] = shifted
    return config.model_copy(update={"schedules": schedules})


class _Captured(list[PageRequest]):
    """The worker's capture list, noting when (server time) each page would have gone out."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_at: list[datetime] = []

    def append(self, req: PageRequest) -> None:
        super().append(req)
        self.sent_at.append(activity.info().current_attempt_scheduled_time)


@dataclass
class _Incident:
    key: str
    workflow_id: str
    service: str
    summary: str


class _Play:
    """One scenario on the server: its worker's queue, its incidents, its clock."""

    def __init__(self, env: WorkflowEnvironment, drill: Drill, origin: datetime) -> None:
        self.env = env
        self.drill = drill
        self.origin = origin
        self.tag = uuid.uuid4().hex[:8]
        self.scope = f"drill:{self.tag}"
        self.queue = f"drill-{self.tag}"
        self.pages = _Captured()
        self.incidents = Incidents(env.client, task_queue=self.queue)
        self.opened: dict[str, _Incident] = {}

    # -- the clock and settling --

    async def advance_to(self, when: timedelta) -> None:
        target = self.origin + when
        now = await self.env.get_current_time()
        if target > now:
            await self.env.sleep(target - now)
        await self.settle()

    async def settle(self) -> None:
        """Wait until every incident has finished what is due: no activity or workflow task in flight."""
        for inc in self.opened.values():
            await _settle(self.env.client.get_workflow_handle(inc.workflow_id))

    # -- acting --

    async def alert(self, ev: AlertEvent, n: int) -> None:
        config = self.drill.config
        known = self.opened.get(ev.key)
        if known is not None:
            service, summary = known.service, ev.summary or known.summary
        else:
            service = ev.service or config.route(ev.labels).service
            summary = ev.summary or ev.key
        severity = ev.severity or config.route(ev.labels).severity or Severity.SEV3
        now = await self.env.get_current_time()
        alert = Alert(
            source="drill",
            scope=self.scope,
            dedup_key=ev.key,
            event_id=f"{self.tag}-{n}",
            action=AlertAction(ev.action),
            summary=summary,
            service=service,
            severity=severity,
            labels=ev.labels,
            received_at=now,
        )
        policy = IncidentPolicy.snapshot(config, service).model_copy(update={"providers": ["changes"]})
        ingested = await self.incidents.ingest(alert, policy, self.scope)
        if known is None and ev.action == "trigger":
            self.opened[ev.key] = _Incident(ev.key, ingested.workflow_id, service, summary)
        await self.settle()

    async def step(self, step: Step) -> StepResult:
        inc = self.opened[self.drill.scenario.incident_of(step)]
        decided = None
        try:
            if step.do in ("approve", "deny"):
                decided = await self._approval(step, inc.workflow_id)
            result = await self._do(step, inc.workflow_id, decided)
        except Refused as e:
            outcome: StepOutcome = "undefined" if e.verdict == "undefined" else "refused" if e.rule else "error"
            return StepResult(outcome, str(e), e.rule, decided=decided)
        except (NotFound, ValidationError, _NoApproval) as e:
            return StepResult("error", str(e).splitlines()[0], decided=decided)
        finally:
            await self.settle()
        if result.approval_id:
            return StepResult("pending", result.message, result.rule, result.approval_id, decided)
        return StepResult("done", result.message, result.rule, decided=decided)

    async def _do(self, step: Step, wid: str, approval: str | None) -> Any:
        c, who = self.incidents, step.who
        match step.do:
            case "acknowledge":
                return await c.acknowledge(wid, who)
            case "note":
                return await c.note(wid, who, step.text or "")
            case "resolve":
                return await c.resolve(wid, who, step.summary or step.text or step.rationale)
            case "severity":
                assert step.severity is not None  # the scenario's validator checked
                return await c.set_severity(wid, who, step.severity, step.rationale)
            case "approve":
                return await c.approve(wid, who, approval or "", step.text)
            case "deny":
                return await c.deny(wid, who, approval or "", step.reason)
        return await c.request(wid, who, step.do, step.rationale, step.params, step.text)

    async def _approval(self, step: Step, wid: str) -> str:
        if step.approval != "last":
            return step.approval
        approvals = (await self.incidents.state(wid)).approvals
        if not approvals:
            raise _NoApproval("there is no approval to decide yet (`approval: last`)")
        return approvals[-1].id

    # -- looking --

    async def seen(self, key: str) -> Seen:
        inc = self.opened.get(key)
        state = await self._state(inc.workflow_id) if inc else None
        pages = []
        for req, when in zip(self.pages, self.pages.sent_at, strict=True):
            if inc and req.page.workflow_id == inc.workflow_id:
                pages.append(
                    SentPage(
                        at=when - self.origin,
                        person=req.recipient.person,
                        kind=req.page.kind,
                        level=req.page.level,
                        approval_id=getattr(req.page, "approval_id", None),
                    )
                )
        return Seen(state=state, origin=self.origin, pages=pages)

    async def _state(self, wid: str) -> IncidentState | None:
        try:
            return await self.incidents.state(wid)
        except Exception:  # not opened (the first trigger never arrived): nothing to see
            return None

    async def timeline(self) -> list[TimelineLine]:
        lines = []
        for key, inc in self.opened.items():
            st = await self._state(inc.workflow_id)
            for e in st.timeline if st else []:
                at = timedelta(seconds=int(max((e.at - self.origin).total_seconds(), 0)))
                lines.append(TimelineLine(at, self.drill.scenario.start + at, key, e.actor, e.kind, e.text))
        return sorted(lines, key=lambda t: t.at)

    async def finish(self) -> None:
        """Stop what is still running: the scenario is over, and the next one shares the server's clock."""
        for inc in self.opened.values():
            handle = self.env.client.get_workflow_handle(inc.workflow_id)
            try:
                if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                    await handle.terminate("drill over")
            except Exception:  # already closed between the two calls
                pass


class _NoApproval(Exception):
    pass


async def _settle(handle: WorkflowHandle[Any, Any]) -> None:
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
    while True:
        desc = await handle.describe()
        if desc.status is not WorkflowExecutionStatus.RUNNING:
            return
        if not desc.raw_description.pending_activities:
            history = await handle.fetch_history()
            if history.events and history.events[-1].event_type not in _BUSY:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(
                f"{handle.id} still busy after {SETTLE_TIMEOUT:.0f}s of real time (a workflow task failing?)"
            )
        await asyncio.sleep(0.01)


async def _run(env: WorkflowEnvironment, drill: Drill, http: httpx.AsyncClient) -> DrillResult:
    sc = drill.scenario
    result = DrillResult(file=sc.source, name=sc.name, config=drill.config_file, start=sc.start)
    origin = await env.get_current_time()
    shift = sc.start - origin
    play = _Play(env, drill, origin)
    # The worker's paging activities append to the list it is given; ours notes the time too.
    worker = build_worker(
        env.client, at_scenario_time(drill.config, shift), http, task_queue=play.queue, capture=play.pages
    )
    try:
        async with worker:
            for n, (when, item, where) in enumerate(sc.events()):
                await play.advance_to(when)
                if isinstance(item, AlertEvent):
                    await play.alert(item, n)
                    continue
                if isinstance(item, Step):
                    done = check_step(item, await play.step(item))
                else:
                    assert isinstance(item, Expectation)
                    done = check(item, await play.seen(sc.incident_of(item)))
                done.where, done.line = where, sc.line(where)
                done.incident = sc.incident_of(item) if len(sc.keys) > 1 else None
                result.checks.append(done)
            await play.settle()
            result.timeline = await play.timeline()
            await play.finish()
    except Exception as e:  # the drill could not go on: say so, and go on with the next one
        result.error = f"{type(e).__name__}: {e}"
    return result


# ---- showing ---------------------------------------------------------------------------------------------------


def render(results: Sequence[DrillResult], console: Console) -> None:
    """Each drill: PASS/FAIL, every check with ✓/✗ (a failure says what happened instead), then the timeline."""
    for r in results:
        badge = "[bold green]PASS[/]" if r.passed else "[bold red]FAIL[/]"
        console.print(f"{badge}  [bold]{escape(r.name)}[/]  [dim]{escape(r.file)}[/]", soft_wrap=True)
        if r.error:
            console.print(f"  [red]could not run:[/] {escape(r.error)}", soft_wrap=True)
        for c in r.checks:
            mark = "[green]✓[/]" if c.passed else "[red]✗[/]"
            line = f" [dim](line {c.line})[/]" if c.line and not c.passed else ""
            console.print(f"  {mark} {escape(c.sentence())}{line}", soft_wrap=True)
        if r.timeline:
            console.print(f"  [dim]timeline (scenario time, from {r.start:%Y-%m-%d %H:%M} UTC)[/]", soft_wrap=True)
            several = len({t.incident for t in r.timeline}) > 1
            for t in r.timeline:
                key = f"[{t.incident}] " if several else ""
                console.print(
                    f"    [dim]{'+' + ago(t.at):>8}  {t.clock:%H:%M:%S}[/]  {escape(t.actor):<16} "
                    f"{escape(key + t.text)}",
                    soft_wrap=True,
                )
        console.print()
    failed = [r for r in results if not r.passed]
    style = "red" if failed else "green"
    console.print(
        f"[{style}]{len(results)} drill(s): {len(results) - len(failed)} passed, {len(failed)} failed[/]",
        soft_wrap=True,
    )


def drill_command(files: list[Path], config: str | None, as_json: bool) -> int:
    """`baton drill FILE... [--config PATH] [--json]`: prints, and returns the exit code (0 all passed, 1 a drill
    failed, 2 a scenario file or config cannot be used)."""
    err = Console(stderr=True)
    if not files:
        err.print("[red]error:[/red] name at least one scenario file, e.g. baton drill drills/*.yaml")
        return 2
    # Workers log what they do; in a drill that is noise on stdout (and would break --json): warnings to stderr.
    logging_before = structlog.get_config()
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    try:
        results = asyncio.run(run_drills(files, config))
    except DrillSetupError as e:
        err.print(f"[red]error:[/red] {escape(str(e))}", soft_wrap=True)
        return 2
    except SystemExit as e:  # the test server binary is missing
        err.print(f"[red]error:[/red] {escape(str(e.code))}", soft_wrap=True)
        return 1
    finally:
        structlog.configure(**logging_before)
    if as_json:
        print(json.dumps([r.to_json() for r in results], indent=2))
    else:
        render(results, Console())
    return 0 if all(r.passed for r in results) else 1
