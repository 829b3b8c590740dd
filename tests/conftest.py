"""Fixtures: real Temporal servers (time-skipping and dev), a real HTTP sink, a real Prometheus.

Helpers that tests import live in tests/helpers/; this file only wires them as fixtures, and marks every test that
starts a server as `integration`, so `pytest -m "not integration"` is the quick loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from gateway.temporal import register_search_attributes
from gateway.up import SQLITE_PRAGMAS, installed_binary
from tests.helpers.config import make_config
from tests.helpers.http import Sink, recording_sink
from tests.helpers.prometheus import Prom, run_prometheus
from tests.helpers.temporal import Harness, harness
from workflows import search_attributes as sa

SERVER_FIXTURES = {"ts_env", "dev_env", "h", "prometheus", "sink"}
"""Fixtures that start a server: a test using any of them is an integration test."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/e2e/" in str(item.path) or SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


@pytest.fixture
def sink() -> Iterator[Sink]:
    with recording_sink() as state:
        yield state


@pytest.fixture
async def ts_env() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server, one per test: a 30-minute escalation runs in milliseconds, and no other
    test's timers hold its clock back."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


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


@pytest.fixture
async def h(ts_env: WorkflowEnvironment, sink: Sink) -> AsyncIterator[Harness]:
    """A worker on the time-skipping server, paging to the sink."""
    async with httpx.AsyncClient() as http:
        hh = await harness(ts_env, make_config(sink.url), http)
        async with hh.worker:
            yield hh


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prom]:
    """Debian's Prometheus on loopback, scraping itself, with a backfilled error series."""
    yield from run_prometheus(tmp_path_factory)
