"""Shared test fixtures: real Temporal servers (time-skipping and dev), a real HTTP sink, configs."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from gateway.client import Incidents
from gateway.up import SQLITE_PRAGMAS, installed_binary
from incident.config import Config, parse_config
from incident.models import Alert, AlertAction, Severity
from worker import build_worker
from workflows import search_attributes as sa

BASE_CONFIG = """
people:
  alice: {name: Alice, webhook: "SINK/alice", notify: [webhook, log]}
  bob:   {name: Bob, webhook: "SINK/bob", notify: [webhook, log]}
  dave:  {name: Dave, webhook: "SINK/dave", notify: [webhook, log]}
schedules:
  primary:
    layers: [{members: [alice, bob], rotation: weekly, handoff: "mon 09:00"}]
escalation_policies:
  two-levels:
    levels:
      - {notify: [user:alice], after: 5m}
      - {notify: [user:dave], after: 10m}
    repeat: 1
    ack_timeout: 30m
services:
  checkout: {escalation: two-levels, customer_facing: true, runbook: "https://runbooks.example/checkout"}
routing: {default_service: checkout}
integrations:
  events: {token: env:TEST_INTAKE_TOKEN}
"""

TOKEN = "test-token-0123456789"


def make_config(sink_url: str = "http://127.0.0.1:9", extra: str = "", base: str = BASE_CONFIG) -> Config:
    return parse_config(base.replace("SINK", sink_url) + extra)


def alert(
    key: str = "checkout-5xx",
    summary: str = "checkout 5xx above 5%",
    action: AlertAction = AlertAction.TRIGGER,
    service: str = "checkout",
    alert_key: str = "",
) -> Alert:
    return Alert(
        source="events",
        dedup_key=key,
        alert_key=alert_key,
        action=action,
        summary=summary,
        service=service,
        severity=Severity.SEV2,
        received_at=datetime.now(UTC),
    )


async def until(check: Callable[[], Awaitable[Any]], pred: Callable[[Any], bool] = bool, timeout: float = 15.0) -> Any:
    """Poll `check` until `pred` holds for its value; fail with the last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if pred(last):
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


# ---- a real HTTP receiver ------------------------------------------------------------------------------------


@dataclass
class Sink:
    """A webhook receiver on loopback that records every POST. Paths can be set to fail."""

    url: str = ""
    received: list[dict[str, Any]] = field(default_factory=list)
    fail_paths: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def for_path(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.received if r["path"] == path]


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


Respond = Callable[[HttpRequest], tuple[int, dict[str, str], bytes]]


@contextmanager
def loopback_http(respond: Respond) -> Iterator[str]:
    """A real HTTP server on a free loopback port answering every GET and POST with `respond`; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0) or 0))
            status, headers, raw = respond(HttpRequest(self.command, self.path, dict(self.headers), body))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sink() -> Iterator[Sink]:
    state = Sink()

    def respond(req: HttpRequest) -> tuple[int, dict[str, str], bytes]:
        if req.path in state.fail_paths:
            return 503, {}, b""
        with state.lock:
            state.received.append({"path": req.path, "headers": req.headers, "json": json.loads(req.body or b"null")})
        return 200, {}, b""

    with loopback_http(respond) as url:
        state.url = url
        yield state


# ---- Temporal ------------------------------------------------------------------------------------------------


@pytest.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, one per test: a 30-minute escalation runs in milliseconds, and no other
    test's timers hold its clock back."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await env.client.operator_service.add_search_attributes(_search_attributes_request(env.client))
    yield env
    await env.shutdown()


def _search_attributes_request(client: Client) -> Any:
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest

    return AddSearchAttributesRequest(
        namespace=client.namespace,
        search_attributes={k.name: IndexedValueType.ValueType(k.indexed_value_type.value) for k in sa.ALL},
    )


@pytest.fixture(scope="session")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (SQLite in memory), as `baton up` runs it."""
    args: list[str] = []
    for pragma in SQLITE_PRAGMAS:
        args += ["--sqlite-pragma", pragma]
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=installed_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=sa.ALL,
        dev_server_extra_args=args,
    )
    yield env
    await env.shutdown()


def dev_address(env: WorkflowEnvironment) -> str:
    return env.client.service_client.config.target_host


@dataclass
class Harness:
    env: WorkflowEnvironment
    config: Config
    incidents: Incidents
    task_queue: str
    worker: Worker
    key: str = ""

    @property
    def client(self) -> Client:
        return self.env.client


@pytest.fixture
async def h(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    """A worker on the time-skipping server, paging to the sink."""
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, make_config(sink.url), http)
        async with hh.worker:
            yield hh


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def harness(env: WorkflowEnvironment, config: Config, http: httpx.AsyncClient) -> Harness:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    return Harness(
        env=env,
        config=config,
        incidents=Incidents(env.client, task_queue=queue),
        task_queue=queue,
        worker=build_worker(env.client, config, http, task_queue=queue),
    )


# ---- the intake on a real loopback port ----------------------------------------------------------------------


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """Run an ASGI app with uvicorn on a free loopback port; yield its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    await until(lambda: _started(server), timeout=10)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server) -> bool:
    return server.started


@asynccontextmanager
async def intake_stack(env: WorkflowEnvironment, config: Config) -> AsyncIterator[tuple[str, Harness]]:
    """A worker and the HTTP intake on a real loopback port, against `env`: yields (base URL, harness)."""
    from gateway.http import create_app

    async with httpx.AsyncClient() as http:
        h = await harness(env, config, http)
        async with h.worker, serving(create_app(h.config, h.incidents)) as url:
            yield url, h
