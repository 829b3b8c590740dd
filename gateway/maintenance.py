"""Maintenance windows over Temporal: start one (a workflow per window), end it early, read one or all, and hand it
the alerts it suppresses. `OpenWindows` is what the intake reads per alert: the running windows' matchers, from the
workflows' memo, cached in the process and refreshed in the background, so an alert waits for no extra call when no
window matches it. Errors become the façade's own: NotFound, Unavailable."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from gateway.client import RPC_TIMEOUT, UPDATE_TIMEOUT, NotFound, Unavailable, patiently, temporal_errors
from gateway.listing import quote as _quote
from gateway.listing import running
from gateway.temporal import TASK_QUEUE
from incident.config import Config
from incident.durations import parse_duration
from incident.ids import incident_id_from_int
from incident.maintenance import Matcher, Spec, Window, WindowView, check_times, parse_matcher
from incident.models import Actor, Alert
from workflows.maintenance import EndRequest, MaintenanceWorkflow, SuppressRequest, maintenance_id

log = structlog.get_logger("baton.maintenance")
REFRESH = 2.0
"""Seconds an intake's list of open windows is used before it is read again (in the background): a window started
through another gateway applies here within about this long; one started through this one at once."""
SUPPRESS_BATCH = 50
"""Alerts per update to a window: well inside Temporal's payload limit, however large each alert (the intake
bounds them)."""
FIRST_READ = 1.0
"""Seconds the first alert after the process started waits, at most, for the first read of the open windows."""
LISTED = 200
"""Windows listed at most (running, then the most recent ended)."""


class BadWindow(ValueError):
    """A window asked for wrongly: `code` names what (`unknown_service`, `invalid_matcher`, ...), the message how."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def plan(
    config: Config, target: str, duration_text: str, start: datetime | None = None
) -> tuple[Matcher, timedelta, timedelta]:
    """The matcher, duration and delay of a window asked for by a person (API, Slack), checked; else BadWindow."""
    try:
        matcher = parse_matcher(target)
    except ValueError as e:
        raise BadWindow("invalid_matcher", f"target: {str(e)[:300]}") from None
    if matcher.service is not None and matcher.service not in config.services:
        known = ", ".join(sorted(config.services))
        raise BadWindow("unknown_service", f"no service {matcher.service[:100]!r} in the config (known: {known})")
    try:
        duration = parse_duration(duration_text)
    except ValueError as e:
        raise BadWindow("invalid_duration", f"for {duration_text[:20]!r}: {e}") from None
    now = datetime.now(UTC)
    starts_in = timedelta(0)
    if start is not None:
        starts_in = max(start.replace(tzinfo=start.tzinfo or UTC) - now, timedelta(0))
    if (why := check_times(duration, starts_in)) is not None:
        raise BadWindow("invalid_window", why)
    return matcher, duration, starts_in


def new_window_id() -> str:
    return "MW-" + incident_id_from_int(secrets.randbits(30)).removeprefix("INC-")


class Windows:
    def __init__(self, client: Client, task_queue: str = TASK_QUEUE, cache: OpenWindows | None = None):
        self.client = client
        self.task_queue = task_queue
        self.cache = cache

    def _handle(self, window_id: str) -> WorkflowHandle[MaintenanceWorkflow, WindowView]:
        return self.client.get_workflow_handle_for(MaintenanceWorkflow.run, maintenance_id(self.task_queue, window_id))

    async def start(
        self,
        matcher: Matcher,
        duration: timedelta,
        message: str,
        actor: Actor,
        starts_at: datetime | None = None,
        starts_in: timedelta = timedelta(0),
    ) -> WindowView:
        """Start the window's workflow: durable when this returns (its timers run from then on)."""
        spec = Spec(
            id=new_window_id(),
            matcher=matcher,
            duration=duration,
            starts_at=starts_at,
            starts_in=starts_in,
            message=message,
            opened_by=str(actor),
        )
        window = Window(spec=spec)
        with temporal_errors():
            await self.client.start_workflow(
                MaintenanceWorkflow.run,
                window,
                id=maintenance_id(self.task_queue, spec.id),
                task_queue=self.task_queue,
                memo={"matcher": matcher.model_dump(mode="json")},
                static_summary=f"maintenance {spec.id}: {matcher.describe()}"[:200],
                rpc_timeout=RPC_TIMEOUT,
            )
        if self.cache is not None:
            self.cache.add(spec.id, matcher)
        try:
            return await self.get(spec.id)  # with the times and the incidents it holds, once a worker ran it
        except (NotFound, Unavailable, RPCError):
            return WindowView.of(window)  # started and durable: its worker will run it

    async def end(self, window_id: str, actor: Actor) -> WindowView:
        """End it now. NotFound when there is no such window; an ended one answers as it is."""
        handle = self._handle(window_id)
        try:
            with temporal_errors(not_found=f"no maintenance window {window_id}"):
                view: WindowView = await handle.execute_update(
                    MaintenanceWorkflow.end, EndRequest(actor=str(actor)), rpc_timeout=UPDATE_TIMEOUT
                )
        except NotFound:  # no such window, or one that ended already (an update finds no running workflow)
            return await self.get(window_id)
        if self.cache is not None:
            self.cache.drop(window_id)
        return view

    async def get(self, window_id: str) -> WindowView:
        handle = self._handle(window_id)
        with temporal_errors(not_found=f"no maintenance window {window_id}"):
            desc = await handle.describe(rpc_timeout=RPC_TIMEOUT)
            if desc.status is WorkflowExecutionStatus.RUNNING:
                return await handle.query(MaintenanceWorkflow.view, rpc_timeout=RPC_TIMEOUT)
            if desc.status is WorkflowExecutionStatus.COMPLETED:
                return await handle.result(rpc_timeout=RPC_TIMEOUT)
        how = desc.status.name.lower() if desc.status else "closed"
        raise NotFound(f"maintenance window {window_id} did not finish ({how})")

    async def all(self) -> list[WindowView]:
        """The running windows, then the most recent ended ones."""
        query = f'WorkflowType = "MaintenanceWorkflow" AND TaskQueue = "{_quote(self.task_queue)}"'

        async def listed() -> list[str]:
            try:
                found = [wf async for wf in self.client.list_workflows(query, limit=LISTED, rpc_timeout=RPC_TIMEOUT)]
            except RPCError as e:
                if e.status is not RPCStatusCode.UNIMPLEMENTED:
                    raise
                found = await running(self.client, "MaintenanceWorkflow", self.task_queue, limit=LISTED)
            return [wf.id.rsplit(":", 1)[-1] for wf in found]

        with temporal_errors():
            ids = await patiently(listed, "Temporal's list of maintenance windows")
        views: list[WindowView] = []
        for got in await asyncio.gather(*(self.get(i) for i in ids), return_exceptions=True):
            if isinstance(got, WindowView):
                views.append(got)
        order = {"open": 0, "scheduled": 1, "ended": 2}
        return sorted(views, key=lambda v: (order[v.status], -(v.starts_at.timestamp() if v.starts_at else 0)))

    async def suppress(self, window_id: str, workflow_id: str, alerts: list[Alert]) -> bool:
        """Hand the window alerts it matches: True once it recorded them (durable), False when it is not open (the
        caller sends them as usual). Unavailable when it cannot be told."""
        handle = self._handle(window_id)
        took = True
        try:
            with temporal_errors(not_found="gone"):
                for i in range(0, len(alerts), SUPPRESS_BATCH):
                    req = SuppressRequest(workflow_id=workflow_id, alerts=alerts[i : i + SUPPRESS_BATCH])
                    took = await handle.execute_update(MaintenanceWorkflow.suppress, req, rpc_timeout=UPDATE_TIMEOUT)
                    if not took:
                        break
        except NotFound:  # the window closed between the listing and the update: it is not open
            if self.cache is not None:
                self.cache.drop(window_id)
            return False
        return took


class OpenWindows:
    """The running windows' matchers, for the intake: `matching` never waits on Temporal once loaded."""

    def __init__(self, client: Client, task_queue: str = TASK_QUEUE, refresh: float = REFRESH):
        self.client = client
        self.task_queue = task_queue
        self.every = refresh
        self._windows: dict[str, Matcher] = {}
        self._read_at: float | None = None
        self._reading: asyncio.Task[None] | None = None

    def add(self, window_id: str, matcher: Matcher) -> None:
        self._windows[window_id] = matcher

    def drop(self, window_id: str) -> None:
        self._windows.pop(window_id, None)

    async def refresh(self) -> None:
        found: dict[str, Matcher] = {}
        for wf in await running(self.client, "MaintenanceWorkflow", self.task_queue, limit=LISTED):
            window_id = wf.id.rsplit(":", 1)[-1]
            if (known := self._windows.get(window_id)) is not None:
                found[window_id] = known
                continue
            with contextlib.suppress(Exception):  # a memo that does not read is no window this intake applies
                found[window_id] = Matcher.model_validate((await wf.memo()).get("matcher"))
        self._windows = found
        self._read_at = asyncio.get_running_loop().time()

    async def windows(self) -> dict[str, Matcher]:
        """The windows as last read; read first when never read (once per process). From then on they are read
        again every `every` seconds in the background, whether alerts come or not: a quiet intake's first alert
        after an hour sees a window another gateway started a few seconds ago, and waits for no read."""
        loop = asyncio.get_running_loop()
        if self._read_at is None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.refresh(), FIRST_READ)
            self._read_at = self._read_at or loop.time()
        if self._reading is None:
            self._reading = asyncio.create_task(self._keep_reading())
        return self._windows

    async def _keep_reading(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.refresh()
            except Exception as e:  # the last list read stays in use; alerts themselves report Temporal's state
                log.warning("maintenance windows not read", error=f"{type(e).__name__}: {str(e)[:200]}")

    async def matching(self, alert: Alert) -> str | None:
        """The window that takes `alert`, if any (the first by id)."""
        windows = await self.windows()
        return next((wid for wid, m in sorted(windows.items()) if m.matches(alert)), None)
